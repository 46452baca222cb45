"""The pure traffic domain: edge helpers, namespace status, the gate, the PromQL text."""

from __future__ import annotations

import subprocess
import sys

import pytest

from planner.domain.traffic import (
    PRESENCE,
    PROOF,
    UNKNOWN,
    ObservedEdge,
    TrafficSnapshot,
    count_text,
    namespace_mtls_status,
    plaintext_callers,
    plaintext_gate,
    promql_plaintext_query,
    promql_traffic_query,
)


def _e(src: str, dst_ns: str, total: float, mtls: float, protocol: str = "http",
       unknown: float = 0.0) -> ObservedEdge:
    return ObservedEdge("a", src, dst_ns, "svc", "svc", protocol, total, mtls, unknown)


def _snap(*edges: ObservedEdge) -> TrafficSnapshot:
    return TrafficSnapshot.build(edges, window="7d", source="test")


def test_edge_helpers() -> None:
    edge = _e("x", "b", 10, 4)
    assert edge.plaintext == 6 and edge.mtls_share == pytest.approx(0.4)
    assert _e("x", "b", 0, 0).mtls_share is None
    assert not edge.unknown_caller and _e(UNKNOWN, "b", 1, 0).unknown_caller


def test_build_merges_and_sorts() -> None:
    snap = _snap(_e("z", "b", 1, 1), _e("x", "b", 2, 0), _e("x", "b", 3, 3))
    assert [(e.source_workload, e.total, e.mtls) for e in snap.edges] == [
        ("x", 5, 3), ("z", 1, 1)]
    assert snap.has_data
    assert not _snap().has_data


def test_namespace_status() -> None:
    snap = _snap(_e("x", "only", 5, 5), _e("x", "mixed", 5, 1), _e("y", "mixed", 2, 2, "tcp"),
                 _e("x", "plain", 5, 0), _e("x", "idle", 0, 0),
                 _e("x", "unverified", 5, 0, unknown=5))
    got = {ns: s.status for ns, s in namespace_mtls_status(snap).items()}
    assert got == {"only": "mtls-only", "mixed": "mixed", "plain": "plaintext-only",
                   "idle": "no-data", "unverified": "unverified"}
    mixed = namespace_mtls_status(snap)["mixed"]
    assert (mixed.requests, mixed.requests_mtls, mixed.connections, mixed.connections_mtls) \
        == (5, 1, 2, 2)


def test_gate_and_callers() -> None:
    snap = _snap(_e("x", "b", 10, 10), _e("y", "b", 10, 9), _e(UNKNOWN, "b", 5, 0))
    gate = plaintext_gate(snap, "b")
    assert gate.status == "fail" and gate.offenders == plaintext_callers(snap, "b")
    assert [e.source_workload for e in gate.offenders] == [UNKNOWN, "y"]
    assert plaintext_gate(_snap(_e("x", "b", 10, 10)), "b").status == "pass"
    assert plaintext_gate(snap, "elsewhere").status == "unknown"
    empty = TrafficSnapshot((), "7d", "prometheus x", has_data=False)
    assert "no traffic data" in plaintext_gate(empty, "b").reason


def test_promql() -> None:
    assert promql_traffic_query("istio_requests_total", "7d") == (
        "sum by (source_workload, source_workload_namespace, destination_service_name, "
        "destination_service_namespace, destination_workload, request_protocol, "
        "connection_security_policy) "
        '(increase(istio_requests_total{reporter="destination"}[7d]))')
    assert promql_plaintext_query("shop", "7d", "tcp") == (
        "sum by (source_workload, source_workload_namespace, destination_service_name, "
        "destination_service_namespace, destination_workload, request_protocol) "
        '(increase(istio_tcp_connections_opened_total{reporter="destination",'
        'connection_security_policy!="mutual_tls",destination_service_namespace="shop"}[7d]))'
        " > 0")
    assert 'destination_service_namespace=~"a|b"' in promql_traffic_query(
        "http", "1h30m", ["b", "a"])
    for bad in ("7 days", "", "0d", "7d;drop"):
        with pytest.raises(ValueError, match="invalid window"):
            promql_plaintext_query(None, bad, "http")
    with pytest.raises(ValueError, match="invalid namespace"):
        promql_plaintext_query('x"}', "7d", "http")
    with pytest.raises(ValueError, match="invalid metric"):
        promql_plaintext_query(None, "7d", "istio requests")


def test_domain_module_is_pure() -> None:
    code = ("import sys, planner.domain.traffic; "
            "bad = {'urllib.request', 'http.client', 'socket', 'rich', 'textual', 'kubernetes'}"
            " & set(sys.modules); print(sorted(bad)); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_egress_is_never_a_namespace() -> None:
    """PassthroughCluster and unresolved hosts (client-reported, no policy) are egress: they
    neither fail a namespace's gate nor make up a namespace called unknown."""
    from planner.domain.gates import mesh_gate

    clean = ObservedEdge("shop", "web", "shop", "api", "api", "http", 10, 10)
    passthrough = ObservedEdge("shop", "web", UNKNOWN, "PassthroughCluster", UNKNOWN, "tcp",
                               3, 0)
    unresolved = ObservedEdge("shop", "web", UNKNOWN, UNKNOWN, UNKNOWN, "http", 2, 0)
    snap = _snap(clean, passthrough, unresolved)
    assert snap.namespaces() == ["shop"]
    assert set(snap.egress()) == {passthrough, unresolved}
    assert set(namespace_mtls_status(snap)) == {"shop"}
    gate = mesh_gate(snap, ["shop"])
    assert gate.status == "pass" and UNKNOWN not in gate.reason


def test_counts_carry_no_float_noise() -> None:
    snap = _snap(_e("x", "b", 0.1, 0.1), _e("x", "b", 0.2, 0.2))
    assert snap.edges[0].total == 0.3
    assert [count_text(v) for v in (4838.400000000001, 12096000.0, 0.0)] == [
        "4838.4", "12096000", "0"]
    assert count_text(1, at_least=True) == ">=1"


def test_gate_rests_on_the_weakest_evidence() -> None:
    proof = _e("x", "b", 10, 10)
    seen = ObservedEdge("a", "y", "b", "svc", "svc", "tcp", 1, 0, 1, evidence=PRESENCE)
    assert plaintext_gate(_snap(proof), "b").evidence == PROOF
    gate = plaintext_gate(_snap(proof, seen), "b")
    assert (gate.status, gate.evidence) == ("unknown", PRESENCE) and gate.proof
    plain = ObservedEdge("a", "z", "b", "svc", "svc", "http", 5, 0, evidence=PROOF)
    assert plaintext_gate(_snap(proof, seen, plain), "b").status == "fail"


def test_health_rose_compares_rates_with_a_margin() -> None:
    from planner.domain.traffic import Health, health_rose, promql_health, window_seconds

    calm = Health(plaintext=0, failures=6, seconds=60)  # 0.1/s
    assert health_rose(calm, Health(0, 0.4, 2)) == []  # 0.2/s but less than one event
    assert health_rose(calm, Health(0, 1, 10)) == []  # 0.1/s: the same pace
    [rose] = health_rose(calm, Health(0, 3, 10))  # 0.3/s
    assert rose == "connection failures 6/min -> 18/min"
    assert health_rose(Health(0, 0, 60), Health(2, 0, 60)) == ["plaintext 0/min -> 2/min"]
    plaintext, failures = promql_health(["b", "a"], "20s")
    assert 'connection_security_policy="none",destination_service_namespace=~"a|b"' in plaintext
    assert 'reporter="source",response_code="503"' in failures and "[20s]" in failures
    assert [window_seconds(w) for w in ("20s", "1h30m", "7d")] == [20, 5400, 604800]


def test_a_window_the_export_does_not_say_is_said_so() -> None:
    snap = _snap(_e("x", "b", 10, 0))
    assert snap.where == "test over 7d"
    unknown = TrafficSnapshot.build(snap.edges, window="unknown", source="csv export f")
    assert unknown.where == "csv export f (its window unknown: the export does not say)"
    assert plaintext_gate(unknown, "b").reason.endswith(
        "in csv export f (its window unknown: the export does not say) (evidence: Istio "
        "server-side telemetry (reporter=destination, connection_security_policy))")
