"""The call graph's wire format (``planner graph -o json``), versioned apart from the model.

Edges and hints are lists sorted by key; every edge carries its ``key`` (the form ``--explain``
takes) so tools can refer back to it. The namespace view is its own document kind.
"""

from __future__ import annotations

from typing import Any

from planner.domain.graph import (
    CallGraph,
    CoverageGap,
    Dangling,
    Edge,
    Evidence,
    ManifestCoverage,
    Node,
    ObservedStats,
)
from planner.sinks.wire import document, to_wire

SCHEMA_VERSION = "meshplan.io/graph/v2"


def node_body(node: Node) -> dict[str, Any]:
    """One node: a workload, Service or outside caller, and whether it is in the mesh."""
    return {"id": node.id, "kind": node.kind.value, "namespace": node.namespace,
            "name": node.name, "meshed": node.meshed, "meshReason": node.mesh_reason}


def evidence_body(evidence: Evidence) -> dict[str, Any]:
    """Why an edge exists: kind of evidence, where it was found, the text and a confidence."""
    return {"kind": evidence.kind, "source": evidence.source, "text": evidence.text,
            "confidence": evidence.confidence}


def observed_body(stats: ObservedStats | None) -> dict[str, Any] | None:
    """What telemetry saw on an edge (None: not observed)."""
    if stats is None:
        return None
    return {"requests": stats.requests, "connections": stats.connections,
            "mtlsShare": stats.mtls_share}


def edge_document(edge: Edge) -> dict[str, Any]:
    """One edge as plain data, with its key."""
    return {
        "key": edge.key,
        "caller": edge.caller,
        "callee": edge.callee,
        "port": edge.port,
        "targetPorts": list(edge.target_ports),
        "protocol": edge.protocol,
        "evidence": [evidence_body(e) for e in edge.evidence],
        "origin": edge.origin.value,
        "observed": observed_body(edge.observed),
        "hint": edge.hint,
    }


def _gap(gap: CoverageGap) -> dict[str, str]:
    return {"workload": gap.workload, "reason": gap.reason}


def _dangling(dangling: Dangling) -> dict[str, str]:
    return {"workload": dangling.workload, "source": dangling.source, "text": dangling.text,
            "host": dangling.host}


def coverage_document(coverage: ManifestCoverage) -> dict[str, Any]:
    """What the manifests could show: application workloads, the share with an outbound call,
    the blind ones and the dangling addresses."""
    return {
        "applications": coverage.applications,
        "share": coverage.share,
        "blind": list(coverage.blind),
        "dangling": [_dangling(d) for d in coverage.dangling],
    }


def graph_document(graph: CallGraph) -> dict[str, Any]:
    """The whole call graph: nodes, calls, hints, coverage gaps and Service backends."""
    return document(SCHEMA_VERSION, {
        "view": "calls",
        "nodes": [node_body(n) for n in graph.nodes],
        "edges": [edge_document(e) for e in graph.edges],
        "hints": [edge_document(e) for e in graph.hints],
        "coverage": [_gap(c) for c in graph.coverage],
        "manifestCoverage": coverage_document(graph.manifest_coverage),
        "backends": to_wire(graph.backends),
        "entryPoints": [e.key for e in graph.entry_points()],
        "stronglyConnectedNamespaces": [list(c) for c in graph.strongly_connected_namespaces()],
    })


def namespace_document(graph: CallGraph) -> dict[str, Any]:
    """The namespace-level graph: namespaces (and outside callers) with call counts."""
    ng = graph.namespace_graph
    return document(SCHEMA_VERSION, {
        "view": "namespaces",
        "namespaces": list(ng.nodes),
        "edges": [{"from": a, "to": b, "count": calls} for a, b, calls in ng.edges()],
        "stronglyConnectedNamespaces": [list(c) for c in graph.strongly_connected_namespaces()],
    })
