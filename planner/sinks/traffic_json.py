"""The observed-traffic wire format (``planner traffic -o json``), versioned apart from the model.

Namespaces are sorted by name, their edge lists by key, plaintext callers biggest first; counts
are what the source returned (Prometheus ``increase`` values are extrapolated, not integers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from planner.domain.graph import CallGraph
from planner.domain.observed import NamespaceTraffic, PlaintextCaller
from planner.domain.traffic import GateResult, TrafficSnapshot
from planner.sinks.graph_json import observed_body
from planner.sinks.wire import document

SCHEMA_VERSION = "meshplan.io/traffic/v2"


def gate_body(gate: GateResult) -> dict[str, Any]:
    """A gate as plain data: status, reason and the offending edges' labels."""
    return {"status": gate.status, "reason": gate.reason,
            "offenders": [e.label() for e in gate.offenders],
            "evidence": gate.evidence, "proof": gate.proof}


def _plaintext_caller(caller: PlaintextCaller) -> dict[str, Any]:
    return {"caller": caller.caller, "service": caller.service, "protocol": caller.protocol,
            "plaintext": caller.plaintext, "total": caller.total,
            "suspects": list(caller.suspects)}


def namespace_body(entry: NamespaceTraffic) -> dict[str, Any]:
    """One namespace: mTLS status, gate, plaintext callers and where graph and telemetry
    disagree."""
    return {
        "namespace": entry.namespace,
        "status": entry.status,
        "hasSeries": entry.has_series,
        "requests": {"total": entry.requests, "mtls": entry.requests_mtls,
                     "tlsUnknown": entry.requests_unknown},
        "connections": {"total": entry.connections, "mtls": entry.connections_mtls,
                        "tlsUnknown": entry.connections_unknown},
        "tlsUnknown": entry.tls_unknown,
        "gate": gate_body(entry.gate),
        "plaintextCallers": [_plaintext_caller(c) for c in entry.plaintext_callers],
        "unpredicted": list(entry.unpredicted),
        "unobserved": list(entry.unobserved),
    }


def traffic_document(snapshot: TrafficSnapshot, graph: CallGraph,
                     namespaces: Sequence[NamespaceTraffic]) -> dict[str, Any]:
    """The whole view: source, per-namespace status and every call edge with its origin."""
    return document(SCHEMA_VERSION, {
        "source": snapshot.source,
        "window": snapshot.window,
        "evidence": snapshot.evidence,
        "resolution": snapshot.resolution,
        "notes": list(snapshot.notes),
        "hasData": snapshot.has_data,
        "trustDeclared": snapshot.trust_declared,
        "egress": [{"edge": e.label(), "total": e.total, "evidence": e.evidence}
                   for e in snapshot.egress()],
        "namespaces": [namespace_body(n) for n in namespaces],
        "pods": [{"namespace": m.namespace, "pod": m.pod, "workload": m.workload,
                  "via": m.via, "count": m.count, "reason": m.reason}
                 for m in snapshot.pod_mappings],
        "edges": [{"key": e.key, "origin": e.origin.value, "protocol": e.protocol,
                   "observed": observed_body(e.observed)} for e in graph.edges],
    })
