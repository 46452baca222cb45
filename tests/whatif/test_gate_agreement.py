"""The STRICT gates decide through the what-if, so the command, the plan and the gates agree.

For every STRICT step of the plan, on any traffic:

* the step's what-if now is what ``planner what-if --strict NS`` says, call for call;
* the gate's offenders are exactly the calls ``planner what-if --after-enrollment --strict NS``
  says break with observed plaintext, less those on the container ports the plan's exception
  steps keep PERMISSIVE (the state the step is applied in), and the gate fails exactly when
  there is one. For the mesh-wide step the command gets the plan's end state: ``--strict`` for
  the root and every namespace the plan ends STRICT, ``--permissive`` for those it keeps so.

Checked on the sample clusters without traffic, with seeded synthetic traffic (meshed and
unnamed callers, mixed shares, callers and Services the input does not have), with a CSV
export and with the shop's ground truth in a real Prometheus; for ``--granularity workload``
too, where a workload's STRICT step is ``--workload KIND/NS/NAME=STRICT`` now and its gate the
namespace's calls into that workload.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from planner.domain import whatif
from planner.domain.graph import NodeKind
from planner.domain.inventory import Inventory
from planner.domain.observed import callee_id, caller_id
from planner.domain.plan import Action, FinalMtls, NamespaceMode, Phase, Plan, Scope
from planner.domain.traffic import UNKNOWN, ObservedEdge, TrafficSnapshot
from planner.service import (
    Analysis,
    ManifestInput,
    TrafficSource,
    analyse,
    build_plan,
    gate_plan,
    namespace_report,
    observe,
    step_callers,
    what_if,
)
from tests.traffic.shop_truth import SHOP_TRUTH, write_csv

ROOT = Path(__file__).resolve().parents[2] / "sample_clusters"
SAMPLES = {
    "shop": ManifestInput((str(ROOT / "shop"),), recursive=True),
    "tiny": ManifestInput((str(ROOT / "tiny"),), recursive=True),
    "gitops-gateway": ManifestInput((str(ROOT / "gitops-gateway"),),
                                    namespace_per_folder=True),
}

Row = tuple[str, str, str, int | None, int | None, tuple[str, ...]]
Pair = tuple[str, str]


@dataclass(frozen=True)
class Snapshot:
    """A traffic source for ``observe``: hands out one snapshot."""

    snapshot: TrafficSnapshot
    window: str | None = None
    label: str = "synthetic"

    def read(self, window: str) -> TrafficSnapshot:
        return self.snapshot


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def sample(request: pytest.FixtureRequest) -> Analysis:
    return analyse(SAMPLES[str(request.param)])


def synthetic(analysis: Analysis, seed: int) -> TrafficSnapshot:
    """Traffic shaped like the sample's graph, with seeded shares: most predicted calls seen
    (all mTLS, mixed or plaintext, HTTP or TCP, some of unknown security), callers Istio
    could not name, a caller and a Service the input does not have."""
    rng = random.Random(seed)
    graph = analysis.graph
    nodes = graph.node_index
    edges: list[ObservedEdge] = []
    services = sorted(n.id for n in graph.nodes if n.kind is NodeKind.SERVICE and n.namespace)
    for e in graph.edges:
        caller, callee = nodes.get(e.caller), nodes.get(e.callee)
        if caller is None or callee is None or caller.kind is not NodeKind.WORKLOAD \
                or callee.kind is not NodeKind.SERVICE or rng.random() < 0.25:
            continue
        total = float(rng.randint(1, 50))
        mtls = rng.choice([total, total, total / 2, 0.0])
        unknown = (total - mtls) if mtls < total and rng.random() < 0.2 else 0.0
        backends = graph.backends.get(e.callee, ())
        target = backends[0].rsplit("/", 1)[-1] if backends else UNKNOWN
        edges.append(ObservedEdge(
            caller.namespace, caller.name, callee.namespace, callee.name, target,
            "http" if e.protocol in ("http", "grpc") else "tcp", total, mtls, unknown))
    for service in rng.sample(services, k=min(3, len(services))):
        ns, name = service.split("/")[1:]
        edges.append(ObservedEdge(UNKNOWN, UNKNOWN, ns, name, UNKNOWN, "http", 20, 0))
    if services:
        ns, name = rng.choice(services).split("/")[1:]
        edges.append(ObservedEdge("elsewhere", "ghost", ns, name, UNKNOWN, "http", 10, 5))
        edges.append(ObservedEdge("elsewhere", "ghost", ns, "not-in-input", UNKNOWN, "http",
                                  10, 0))
    return TrafficSnapshot.build(edges, window="7d", source=f"synthetic seed {seed}")


def _rows(result: whatif.WhatIf) -> set[Row]:
    return {(e.caller, e.callee, e.service, e.port, e.container_port,
             tuple(sorted(r.code for r in e.reasons))) for e in result.breaking}


def _excepted(plan: Plan, inventory: Inventory) -> set[tuple[str, int]]:
    """(workload key, container port) the plan's exception steps keep PERMISSIVE."""
    found = set()
    for step in plan.steps:
        if step.phase is not Phase.EXCEPTION or step.target.scope != Scope.WORKLOAD:
            continue
        key = next(w.ref.key for w in inventory.workloads
                   if w.namespace == step.target.namespace and w.name == step.target.name)
        for change in step.apply:
            if change.action is Action.APPLY:
                found |= {(key, int(p)) for p in change.object["spec"].get("portLevelMtls", {})}
    return found


def _observed_breaks(result: whatif.WhatIf, excepted: set[tuple[str, int]],
                     callee: str = "") -> set[Pair]:
    return {(e.caller, e.service) for e in result.breaking
            if any(r.code == whatif.OBSERVED for r in e.reasons)
            and (e.callee, e.container_port or -1) not in excepted
            and e.callee == (callee or e.callee)}


def _pairs(keys: list[str]) -> set[Pair]:
    """``caller -> Service:port`` keys as (caller, Service) pairs."""
    found = set()
    for key in keys:
        caller, service = key.split(" -> ", 1)
        name, _, port = service.rpartition(":")
        found.add((caller, name if port.isdigit() else service))
    return found


def check_agreement(analysis: Analysis, granularity: str = "namespace") -> int:
    """Assert the three agree for every STRICT step; returns how many gates failed.

    With ``--granularity workload``, a workload's STRICT step is checked against
    ``--workload KIND/NS/NAME=STRICT`` now, and its gate against the namespace's calls into
    that workload after enrollment."""
    inventory = analysis.scan.inventory
    plan, gates = gate_plan(analysis, build_plan(analysis, granularity=granularity))
    excepted = _excepted(plan, inventory)
    failed = 0
    for step in plan.steps:
        if step.phase is Phase.STRICT and step.target.scope == Scope.WORKLOAD:
            ns = step.target.namespace
            key = next(w.ref.key for w in inventory.workloads
                       if w.namespace == ns and w.name == step.target.name)
            now = what_if(analysis, workloads=[f"{key}=STRICT"])
            assert _rows(now) == _rows(plan.what_if[step.id]), step.id
            expected = _observed_breaks(
                what_if(analysis, strict=[ns], after_enrollment=True), excepted, key)
        elif step.phase is Phase.STRICT:
            ns = step.target.namespace
            assert _rows(what_if(analysis, strict=[ns])) == _rows(plan.what_if[step.id]), ns
            expected = _observed_breaks(
                what_if(analysis, strict=[ns], after_enrollment=True), excepted)
        elif step.phase is Phase.MESH_STRICT:
            if plan.root_namespace not in inventory.namespace_index:
                continue  # the command cannot name a root namespace the input lacks
            enrolled = [f for f in plan.namespaces if f.mode is not NamespaceMode.OUTSIDE]
            expected = _observed_breaks(what_if(
                analysis, after_enrollment=True,
                strict=[plan.root_namespace,
                        *(f.name for f in enrolled if f.final is FinalMtls.STRICT)],
                permissive=[f.name for f in enrolled if f.final is FinalMtls.PERMISSIVE]),
                excepted)
        else:
            continue
        if analysis.traffic is None:
            assert step.id not in gates
            continue
        gate = gates[step.id]
        # An unknown gate lists what it could not prove; only a failing one has offenders.
        offenders = {(caller_id(analysis.graph, e), callee_id(analysis.graph, e))
                     for e in gate.offenders} if gate.status == "fail" else set()
        assert offenders == expected, (step.id, gate.reason)
        # The calls the TUI's gate dialog lists are those the gate judges: every offender.
        assert offenders <= _pairs(step_callers(analysis, plan, step.id)), step.id
        failed += gate.status == "fail"
    return failed


def test_without_traffic(sample: Analysis) -> None:
    check_agreement(sample)


@pytest.mark.parametrize("seed", range(6))
def test_synthetic_traffic(sample: Analysis, seed: int) -> None:
    traffic = synthetic(sample, seed)
    check_agreement(observe(sample, Snapshot(traffic)))  # type: ignore[arg-type]


def test_synthetic_traffic_makes_gates_fail() -> None:
    """The property is not vacuous: over the seeds, gates do fail on the shop."""
    shop = analyse(SAMPLES["shop"])
    assert sum(check_agreement(observe(shop, Snapshot(synthetic(shop, seed))))  # type: ignore[arg-type]
               for seed in range(6)) >= 3


@pytest.mark.parametrize("seed", range(3))
def test_workload_granularity(seed: int) -> None:
    shop = analyse(SAMPLES["shop"])
    assert check_agreement(observe(shop, Snapshot(synthetic(shop, seed))),  # type: ignore[arg-type]
                           granularity="workload") >= 1


def test_csv_export(tmp_path: Path) -> None:
    shop = analyse(SAMPLES["shop"])
    source = TrafficSource(traffic_file=str(write_csv(tmp_path / "shop.csv")))
    assert check_agreement(observe(shop, source)) >= 1


@pytest.mark.slow
def test_real_prometheus() -> None:
    from tests.traffic.promserver import PromServer, require_prometheus

    require_prometheus()
    shop = analyse(SAMPLES["shop"])
    with PromServer(list(SHOP_TRUTH)) as server:
        assert check_agreement(observe(shop, TrafficSource(prometheus=server.url))) >= 1


def test_where_the_gate_used_to_disagree(tmp_path: Path) -> None:
    """Two cases the gate, matching workloads and namespaces by name, decided otherwise:

    * a CSV export names no destination workload: the sidecar-less caller's plaintext into
      orders:8080, which 50-exception-orders-orders keeps PERMISSIVE, failed the orders gate,
      though what-if (and Istio) let it through; now it passes (the CSV trusted, as
      --trust-declared does) and says what it left out;
    * plaintext into catalog, which the plan keeps PERMISSIVE (50-exception-catalog), failed
      the mesh-wide gate, though mesh-wide STRICT does not reach a namespace with its own
      PERMISSIVE policy; now it is left out, and only catalog's plaintext is in the traffic.
    """
    shop = analyse(SAMPLES["shop"])
    csv = write_csv(tmp_path / "shop.csv", tuple(
        e for e in SHOP_TRUTH if e.destination_namespace == "orders"))
    analysis = observe(shop, TrafficSource(traffic_file=str(csv), trust_declared=True))
    _, gates = gate_plan(analysis, build_plan(analysis))
    assert gates["40-strict-orders"].status == "pass"
    assert "unknown/unknown -> orders/orders (http)" in gates["40-strict-orders"].reason
    now = what_if(analysis, strict=["orders"])  # the step's what-if now lists the call
    assert ("external:unknown@orders", "Service/orders/orders") in {
        (e.caller, e.service) for e in now.breaking}
    assert check_agreement(analysis) == 0

    catalog = TrafficSnapshot.build(
        [ObservedEdge("storefront", "bff", "catalog", "catalog", "catalog", "http", 100, 40)],
        window="7d", source="synthetic")
    analysis = observe(shop, Snapshot(catalog))  # type: ignore[arg-type]
    _, gates = gate_plan(analysis, build_plan(analysis))
    mesh = gates["60-mesh-strict"]
    assert mesh.status != "fail" and not mesh.offenders
    assert "storefront/bff -> catalog/catalog (http)" in mesh.reason
    assert check_agreement(analysis) == 0
    # `planner traffic` keeps the raw view, without the plan: catalog's own gate fails.
    raw = {n.namespace: n.gate for n in namespace_report(analysis)}
    assert raw["catalog"].status == "fail"


def test_a_call_that_names_no_service_is_judged_too() -> None:
    """A source that names no Service (Linkerd, Hubble without the inventory) reaching
    postgres, which two Services select: the graph cannot tell which, so the call goes to
    ``unnamed-service:data/postgres``. what-if judges it on the workload (no port known), and
    the gate fails on it, as the command says; it used to be in no what-if at all."""
    shop = analyse(SAMPLES["shop"])
    snapshot = TrafficSnapshot.build(
        [ObservedEdge("orders", "cart", "data", UNKNOWN, "postgres", "tcp", 10, 4)],
        window="7d", source="synthetic")
    analysis = observe(shop, Snapshot(snapshot))  # type: ignore[arg-type]
    [row] = [e for e in what_if(analysis, strict=["data"]).breaking
             if e.service == "unnamed-service:data/postgres"]
    assert row.caller == "Deployment/orders/cart" and row.container_port is None
    assert [r.code for r in row.reasons] == [whatif.OBSERVED]
    _, gates = gate_plan(analysis, build_plan(analysis))
    assert gates["40-strict-data"].status == "fail"
    assert [e.label() for e in gates["40-strict-data"].offenders] == [
        "orders/cart -> data/unknown (tcp)"]
    check_agreement(analysis)


def test_the_gate_dialog_lists_the_calls_the_gate_judges() -> None:
    """``step_callers`` (the calls the TUI's gate dialog asks proof for) comes from the step's
    what-if, as the gate does: a call that reaches only a port an exception step keeps
    PERMISSIVE is in the graph, but STRICT does not lock it, so neither the gate nor the
    dialog asks about it."""
    shop = analyse(SAMPLES["shop"])
    plan = build_plan(shop)
    inventory = shop.scan.inventory
    excepted = _excepted(plan, inventory)
    step = next(s for s in plan.steps if s.id == "40-strict-storefront")
    listed = step_callers(shop, plan, step.id)
    assert listed
    graph = shop.graph
    passing = set()
    for edge in graph.edges_into_namespace(step.target.namespace):
        ports = {(backend, port) for backend in graph.backends.get(edge.callee, ())
                 for port in edge.target_ports}
        if ports and ports <= excepted:
            passing.add(edge.key)
    assert passing, "the shop's storefront has calls only exceptions let through"
    assert not passing & set(listed)
    for key in listed:
        caller, service = next(iter(_pairs([key])))
        assert (caller, service) in {(e.caller, e.callee) for e in graph.edges}, key


def test_one_step_s_gate_what_if_is_the_same_alone(sample: Analysis) -> None:
    """``gate_what_ifs(only=step)`` (the gate dialog's, one step) simulates exactly what the
    whole plan's run gives that step: the policies of the steps before it still count."""
    from planner.domain.gates import gate_what_ifs

    inventory, graph = sample.scan.inventory, sample.graph
    plan = build_plan(sample)
    every = gate_what_ifs(inventory, graph, plan)
    assert every
    for step_id, found in every.items():
        alone = gate_what_ifs(inventory, graph, plan, only=step_id)
        assert list(alone) == [step_id]
        assert alone[step_id] == found, step_id
