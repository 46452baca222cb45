"""Merging observed traffic into the shop graph, per-namespace status and plan gates (pure)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from planner.domain.gates import block_on_gates, evaluate_gates
from planner.domain.graph import CallGraph, Node, NodeKind, Origin
from planner.domain.observed import (
    UNKNOWN_CALLER_PREFIX,
    caller_id,
    merge_observed,
    namespace_traffic,
)
from planner.domain.plan import Phase, Plan
from planner.domain.traffic import UNKNOWN, ObservedEdge, TrafficSnapshot
from planner.errors import InputError
from planner.rules.plan.mp301_plaintext_observed import INFO as MP301
from planner.rules.plan.mp301_plaintext_observed import gate_blockers
from planner.service import (
    Analysis,
    ManifestInput,
    TrafficSource,
    analyse,
    build_plan,
    gate_for_step,
    gate_plan,
    observe,
)

from .shop_truth import SHOP_TRUTH, write_csv

SHOP = Path(__file__).resolve().parents[2] / "sample_clusters" / "shop"


@pytest.fixture(scope="module")
def shop() -> Analysis:
    return analyse(ManifestInput((str(SHOP),), recursive=True))


@pytest.fixture(scope="module")
def snapshot() -> TrafficSnapshot:
    return TrafficSnapshot.build(SHOP_TRUTH, window="7d", source="prometheus test")


@pytest.fixture(scope="module")
def merged(shop: Analysis, snapshot: TrafficSnapshot) -> CallGraph:
    return merge_observed(shop.graph, snapshot)


def _edge(graph: CallGraph, key: str) -> tuple[Origin, float | None]:
    edge = graph.edge(key)
    assert edge is not None, key
    return edge.origin, edge.observed.mtls_share if edge.observed else None


def test_origins_and_shares(merged: CallGraph) -> None:
    assert _edge(merged, "Deployment/storefront/web -> Service/storefront/bff:8080") == (
        Origin.BOTH, 1.0)
    # gRPC is counted by istio_requests_total: the http observation matches the grpc edge.
    assert _edge(merged, "Deployment/orders/checkout -> Service/orders/cart:7070") == (
        Origin.BOTH, 1.0)
    # The postgres caller is in the StatefulSet's namespace test below; this one is TCP, mixed.
    assert _edge(merged, "Deployment/catalog/catalog -> Service/data/postgres:5432") == (
        Origin.BOTH, 0.75)
    assert _edge(merged, "Deployment/orders/shipping -> Service/catalog/catalog") == (
        Origin.OBSERVED, 1.0)
    assert _edge(merged, "external:unknown@orders -> Service/orders/orders") == (
        Origin.OBSERVED, 0.0)
    assert _edge(merged, "Deployment/orders/checkout -> Service/payments/payments:8080") == (
        Origin.INFERRED, None)
    stats = merged.edge("Deployment/catalog/catalog -> Service/data/postgres:5432")
    assert stats is not None and stats.observed is not None
    assert (stats.observed.requests, stats.observed.connections) == (0.0, 40.0)
    telemetry = [ev for ev in stats.evidence if ev.kind == "telemetry"]
    assert [ev.source for ev in telemetry] == ["prometheus test window 7d"]
    assert any(ev.kind == "env" for ev in stats.evidence)  # the inferred evidence stays


def test_new_nodes_and_invariants(shop: Analysis, merged: CallGraph) -> None:
    unknown = merged.node_index[UNKNOWN_CALLER_PREFIX + "orders"]
    assert unknown.kind is NodeKind.EXTERNAL and not unknown.meshed
    assert len(merged.nodes) == len(shop.graph.nodes) + 1
    assert len(merged.edges) == len(shop.graph.edges) + 2
    assert list(merged.nodes) == sorted(merged.nodes, key=lambda n: n.id)
    assert merged.hints == shop.graph.hints
    # Merging is deterministic whatever the order the source returned rows in.
    shuffled = TrafficSnapshot(tuple(reversed(SHOP_TRUTH)), "7d", "prometheus test", True)
    assert merge_observed(shop.graph, shuffled) == merged


def test_unmatched_caller_service_and_kind_order() -> None:
    graph = CallGraph(nodes=(
        Node("StatefulSet/db/pg", NodeKind.WORKLOAD, "db", "pg", True),
        Node("Deployment/db/pg", NodeKind.WORKLOAD, "db", "pg", True),
        Node("CronJob/db/backup", NodeKind.WORKLOAD, "db", "backup", False)))
    edges = (ObservedEdge("db", "pg", "db", "pg", "pg", "tcp", 5, 5),
             ObservedEdge("db", "backup", "db", "pg", "pg", "tcp", 1, 1),
             ObservedEdge("db", "ghost", "db", "pg", "pg", "tcp", 1, 1),
             ObservedEdge("db", "idle", "db", "pg", "pg", "tcp", 0, 0))
    assert caller_id(graph, edges[0]) == "Deployment/db/pg"  # Deployment before StatefulSet
    assert caller_id(graph, edges[1]) == "CronJob/db/backup"
    merged = merge_observed(graph, TrafficSnapshot.build(edges, window="1h", source="t"))
    assert merged.node_index["Service/db/pg"].kind is NodeKind.SERVICE
    assert merged.node_index["observed:db/ghost"].kind is NodeKind.WORKLOAD
    # A series that counted nothing in the window is not an observation.
    assert "observed:db/idle" not in merged.node_index
    assert {e.origin for e in merged.edges} == {Origin.OBSERVED}


def test_namespace_status(merged: CallGraph, snapshot: TrafficSnapshot) -> None:
    report = {n.namespace: n for n in namespace_traffic(merged, snapshot)}
    assert {ns: (n.status, n.gate.status) for ns, n in report.items()
            if ns in ("storefront", "catalog", "orders", "data", "payments")} == {
        "storefront": ("mtls-only", "pass"), "catalog": ("mtls-only", "pass"),
        "orders": ("mixed", "fail"), "data": ("mixed", "fail"),
        "payments": ("no-data", "unknown")}
    assert not report["payments"].has_series
    assert "no series" in report["payments"].gate.reason
    orders = report["orders"]
    [caller] = orders.plaintext_callers
    assert caller.caller == "external:unknown@orders" and caller.plaintext == 50
    # The opted-out CronJob the manifests show calling orders is the likely culprit.
    assert caller.suspects == ("CronJob/orders/nightly-report",)
    assert orders.unpredicted == ("external:unknown@orders -> Service/orders/orders",)
    assert report["catalog"].unpredicted == (
        "Deployment/orders/shipping -> Service/catalog/catalog",)
    assert "DaemonSet/monitoring/log-shipper -> Service/catalog/search:9200" in \
        report["catalog"].unobserved
    assert not any(k.startswith("external:kubelet") for n in report.values()
                   for k in n.unobserved)
    data = report["data"]
    assert (data.connections, data.connections_mtls, data.requests) == (100, 75, 0)
    assert [c.caller for c in data.plaintext_callers] == ["Deployment/orders/cart",
                                                          "Deployment/catalog/catalog"]


#: SHOP_TRUTH without orders/cart's plaintext into redis: what is left is let through.
CART_CLEAN = tuple(replace(e, mtls=e.total) if (e.source_workload, e.destination_service)
                   == ("cart", "redis") else e for e in SHOP_TRUTH)


def test_gates_let_through_what_the_exceptions_keep_permissive(shop: Analysis) -> None:
    plan = build_plan(shop)
    snapshot = TrafficSnapshot.build(CART_CLEAN, window="7d", source="prometheus test")
    merged = merge_observed(shop.graph, snapshot)
    gates = evaluate_gates(plan, snapshot, shop.scan.inventory, merged)
    assert {k: g.status for k, g in gates.items()} == {
        "40-strict-storefront": "pass",
        "40-strict-orders": "pass", "40-strict-data": "pass",
        "40-strict-payments": "unknown", "60-mesh-strict": "unknown"}
    # orders' only plaintext comes from a caller without a sidecar into orders:8080, the port
    # 50-exception-orders-orders keeps PERMISSIVE: STRICT lets it through, so the gate leaves
    # it out, and says so.
    assert ("left out as the plan keeps the ports they reach PERMISSIVE (a port exception or "
            "a namespace policy): unknown/unknown -> orders/orders (http)"
            ) in gates["40-strict-orders"].reason
    # catalog's plaintext into postgres:5432 goes through 50-exception-data-postgres too:
    # the exception is for the nightly-report CronJob, but PeerAuthentication cannot tell
    # callers apart, so STRICT would not refuse catalog either (what-if: not breaking).
    assert "catalog/catalog -> data/postgres (tcp)" in gates["40-strict-data"].reason
    # The mesh-wide step: nothing plaintext would be refused, payments has no series.
    assert "no proof of mTLS-only traffic for payments" in gates["60-mesh-strict"].reason
    assert block_on_gates(plan, gates, gate_blockers(plan, merged)).blockers == plan.blockers


def test_gates_block_and_reorder(shop: Analysis, merged: CallGraph,
                                 snapshot: TrafficSnapshot) -> None:
    plan = build_plan(shop)
    gates = evaluate_gates(plan, snapshot, shop.scan.inventory, merged)
    assert {k: g.status for k, g in gates.items()} == {
        "40-strict-storefront": "pass",
        "40-strict-orders": "pass", "40-strict-data": "fail",
        "40-strict-payments": "unknown", "60-mesh-strict": "fail"}
    assert [e.label() for e in gates["40-strict-data"].offenders] == [
        "orders/cart -> data/redis (tcp)"]
    gated = block_on_gates(plan, gates, gate_blockers(plan, merged))
    data = gated.step("40-strict-data")
    [mp301] = [f for f in data.blockers if f.code == MP301.code]
    assert mp301.subject == "Deployment/orders/cart"
    assert mp301 in gated.blockers
    assert not [f for f in gated.step("40-strict-orders").blockers if f.code == "MP301"]
    assert not [f for f in gated.step("40-strict-storefront").blockers if f.code == "MP301"]
    strict = [s.target.namespace for s in gated.steps if s.phase is Phase.STRICT]
    # catalog stays PERMISSIVE (Prometheus scrapes a port no Service binds): no STRICT step.
    assert strict == ["storefront", "orders", "payments", "data"]
    # Same steps, each after what it requires.
    assert sorted(s.id for s in gated.steps) == sorted(s.id for s in plan.steps)
    done: set[str] = set()
    for step in gated.steps:
        assert set(step.requires) <= done, step.id
        done.add(step.id)


def test_workload_granularity_gates(shop: Analysis, merged: CallGraph,
                                    snapshot: TrafficSnapshot) -> None:
    plan = build_plan(shop, granularity="workload")
    gates = evaluate_gates(plan, snapshot, shop.scan.inventory, merged)
    # Only the traffic to that workload counts: orders' plaintext goes to another workload.
    assert gates["40-strict-orders-checkout"].status == "pass"
    redis = gates["40-strict-data-redis"]
    assert redis.status == "fail" and redis.reason.startswith("workload redis: ")
    assert [e.label() for e in redis.offenders] == ["orders/cart -> data/redis (tcp)"]
    mysql = gates["40-strict-data-mysql"]
    assert mysql.status == "unknown" and mysql.reason.startswith("workload mysql: ")
    assert gates["40-strict-orders"].status == "pass"  # its only plaintext is excepted


def test_empty_source_makes_every_gate_unknown(shop: Analysis) -> None:
    plan = build_plan(shop)
    empty = TrafficSnapshot.build((), window="7d", source="prometheus empty")
    gates = evaluate_gates(plan, empty, shop.scan.inventory,
                           merge_observed(shop.graph, empty))
    assert gates and {g.status for g in gates.values()} == {"unknown"}
    assert all("no traffic data at all" in g.reason for g in gates.values())
    report = namespace_traffic(merge_observed(shop.graph, empty), empty)
    assert {n.gate.status for n in report} == {"unknown"}
    # None proven first: the order stays.
    assert block_on_gates(plan, gates, gate_blockers(plan, shop.graph)).steps == plan.steps


def test_service_observe_and_gate_for_step(shop: Analysis, tmp_path: Path) -> None:
    csv = str(write_csv(tmp_path / "t.csv"))
    analysis = observe(shop, TrafficSource(traffic_file=csv, trust_declared=True))
    assert analysis.traffic is not None and analysis.context.graph is shop.graph
    plan = build_plan(analysis)
    assert gate_for_step(analysis, plan, "40-strict-data").status == "fail"
    assert gate_for_step(analysis, plan, "40-strict-storefront").status == "pass"
    # Without the user's trust, a CSV's declared shares fail a gate but never pass one.
    declared = observe(shop, TrafficSource(traffic_file=csv))
    assert gate_for_step(declared, plan, "40-strict-data").status == "fail"
    assert gate_for_step(declared, plan, "40-strict-storefront").status == "unknown"
    assert gate_for_step(analysis, plan, "30-enroll-data").status == "pass"
    assert gate_for_step(shop, plan, "40-strict-storefront").status == "unknown"
    with pytest.raises(KeyError):
        gate_for_step(analysis, plan, "99-nope")
    gated, gates = gate_plan(analysis, plan)
    assert isinstance(gated, Plan) and gates["40-strict-data"].status == "fail"
    assert gate_plan(shop, plan) == (plan, {})
    with pytest.raises(InputError):
        TrafficSource()
    with pytest.raises(InputError):
        TrafficSource(prometheus="http://127.0.0.1:1", traffic_file="x.csv")


def test_unknown_tls_is_not_mtls(shop: Analysis) -> None:
    edge = replace(SHOP_TRUTH[0], mtls=0, tls_unknown=1000)
    snap = TrafficSnapshot.build([edge], window="unknown", source="csv")
    merged = merge_observed(shop.graph, snap)
    found = merged.edge("Deployment/storefront/web -> Service/storefront/bff:8080")
    assert found is not None and found.observed is not None
    assert found.observed.mtls_share is None
    assert edge.source_workload != UNKNOWN
