"""The call graph's wire format (``planner graph -o json``), versioned apart from the model.

Edges and hints are lists sorted by key; every edge carries its ``key`` (the form ``--explain``
takes) so tools can refer back to it. The namespace view is its own document kind.
"""

from __future__ import annotations

from typing import Any

from planner.domain.graph import CallGraph, Edge, ManifestCoverage
from planner.sinks.wire import document, to_wire

SCHEMA_VERSION = "meshplan.io/graph/v1"


def edge_document(edge: Edge) -> dict[str, Any]:
    """One edge as plain data, with its key."""
    data: dict[str, Any] = to_wire(edge)
    data["key"] = edge.key
    return dict(sorted(data.items()))


def coverage_document(coverage: ManifestCoverage) -> dict[str, Any]:
    """What the manifests could show: application workloads, the share with an outbound call,
    the blind ones and the dangling addresses."""
    return {
        "applications": coverage.applications,
        "share": coverage.share,
        "blind": list(coverage.blind),
        "dangling": [to_wire(d) for d in coverage.dangling],
    }


def graph_document(graph: CallGraph) -> dict[str, Any]:
    """The whole call graph: nodes, calls, hints, coverage gaps and Service backends."""
    return document(SCHEMA_VERSION, {
        "view": "calls",
        "nodes": [to_wire(n) for n in graph.nodes],
        "edges": [edge_document(e) for e in graph.edges],
        "hints": [edge_document(e) for e in graph.hints],
        "coverage": [to_wire(c) for c in graph.coverage],
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
        "namespaces": sorted(str(n) for n in ng.nodes),
        "edges": [
            {"from": str(a), "to": str(b), "count": int(data["count"])}
            for a, b, data in sorted(ng.edges(data=True), key=lambda t: (str(t[0]), str(t[1])))
        ],
        "stronglyConnectedNamespaces": [list(c) for c in graph.strongly_connected_namespaces()],
    })
