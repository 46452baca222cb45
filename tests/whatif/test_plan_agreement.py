"""The plan and `planner what-if` never disagree: the plan's port exceptions are exactly the
calls what-if (judged after the plan's enrollment) says STRICT would break because of the
caller, a namespace kept PERMISSIVE is one where some of those calls cannot be excepted, and
with the exceptions applied nothing of the kind breaks any more. Checked on the sample
clusters, for each data-plane choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.domain import whatif
from planner.domain.inventory import Inventory
from planner.domain.membership import membership
from planner.domain.plan import Action, Phase, Plan
from planner.service import Analysis, ManifestInput, analyse, build_plan
from planner.service import what_if as what_if_command

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = {"shop": ROOT / "sample_clusters" / "shop", "tiny": ROOT / "sample_clusters" / "tiny"}


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def sample(request: pytest.FixtureRequest) -> tuple[str, Analysis]:
    name = str(request.param)
    return name, analyse(ManifestInput((str(SAMPLES[name]),), recursive=True))


def _exceptions(plan: Plan, inventory: Inventory,
                ns: str) -> dict[str, tuple[set[int], set[str]]]:
    """workload key -> (excepted container ports, callers that forced it), for ``ns``."""
    found: dict[str, tuple[set[int], set[str]]] = {}
    for step in plan.steps:
        if step.phase is not Phase.EXCEPTION or step.target.scope != "workload" \
                or step.target.namespace != ns:
            continue
        [change] = [c for c in step.apply if c.action is Action.APPLY]
        key = next(w.ref.key for w in inventory.workloads
                   if w.namespace == ns and w.name == step.target.name)
        ports = {int(p) for p in change.object["spec"]["portLevelMtls"]}
        found[key] = (ports, set(step.forced_by))
    return found


def _caller_breaks(result: whatif.WhatIf) -> set[tuple[str, str, int | None]]:
    return {(e.caller, e.callee, e.container_port) for e in result.breaking
            if {r.code for r in e.reasons} & whatif.CALLER_REASONS}


@pytest.mark.parametrize("dataplane", ["recommended", "sidecar", "ambient"])
def test_plan_exceptions_are_what_if_breaks(sample: tuple[str, Analysis],
                                            dataplane: str) -> None:
    name, analysis = sample
    inventory = analysis.scan.inventory
    plan = build_plan(analysis, dataplane=dataplane)
    members = membership(inventory, plan.root_namespace,
                         {f.name: f.mode for f in plan.namespaces
                          if f.mode in ("sidecar", "ambient")})
    enrollment = whatif.planned_enrollment(inventory, analysis.graph, members)
    checked = excepting = 0
    for fate in plan.namespaces:
        ns = fate.name
        if fate.final == "outside":
            continue
        result = what_if_command(analysis, strict=[ns], after_enrollment=True,
                                 dataplane=dataplane)
        breaks = _caller_breaks(result)
        excepted = _exceptions(plan, inventory, ns)
        if fate.final == "STRICT":
            # Every call what-if says breaks is covered by an exception on that very port,
            # forced by that caller, and every exception answers such a call.
            assert {(callee, port) for _, callee, port in breaks} == {
                (w, p) for w, (ports, _) in excepted.items() for p in ports}, ns
            for caller, callee, _port in breaks:
                assert caller in excepted[callee][1], (ns, caller, callee)
            # With the exceptions applied before STRICT, no caller is refused any more.
            objects = [c.object for s in plan.steps if s.target.namespace == ns
                       and s.phase in (Phase.EXCEPTION, Phase.STRICT)
                       and s.target.scope in ("workload", "namespace")
                       for c in s.apply if c.action is Action.APPLY]
            after = whatif.simulate(inventory, analysis.graph, objects,
                                    root_namespace=plan.root_namespace,
                                    enrollment=enrollment,
                                    scope=[w for w in inventory.workloads if w.namespace == ns])
            assert not _caller_breaks(after), ns
            excepting += bool(excepted)
        else:  # kept PERMISSIVE: what-if shows the calls no exception could cover
            keep = plan.step(f"50-exception-{ns}")
            assert breaks and {c for c, _, _ in breaks} >= set(keep.forced_by), ns
        checked += 1
    assert checked, name
    if name == "shop":  # the shop needs exceptions: the check above is not vacuous
        assert excepting >= 2, dataplane


def test_command_line_says_what_the_plan_says() -> None:
    """`planner what-if --after-enrollment --strict data -o json` against the plan's
    exception steps for data, through the command line."""
    analysis = analyse(ManifestInput((str(SAMPLES["shop"]),), recursive=True))
    plan = build_plan(analysis)
    result = CliRunner().invoke(cli, ["what-if", "-f", str(SAMPLES["shop"]), "-R",
                                      "--after-enrollment", "--strict", "data", "-o", "json"])
    assert result.exit_code == 10, result.output
    doc = json.loads(result.stdout)
    breaks = {(e["callee"], e["containerPort"]) for e in doc["edges"] if e["breaks"]
              and {r["code"] for r in e["reasons"]} & whatif.CALLER_REASONS}
    assert breaks == {(w, p) for w, (ports, _) in _exceptions(plan, analysis.scan.inventory,
                                                                 "data").items()
                      for p in ports}
    assert breaks  # the shop's data namespace has callers outside the mesh


@pytest.mark.parametrize("enrolled", ["now", "after the plan"])
def test_refused_for_the_caller_is_simulate_breaking_for_a_caller_reason(
        sample: tuple[str, Analysis], enrolled: str) -> None:
    """The plan's shortcut (only calls from callers outside the mesh judged) gives the very
    rows simulate() marks breaking for a caller reason, in its order, for every namespace and
    with a shared index as without one."""
    from planner.domain.simulation_index import SimulationIndex

    name, analysis = sample
    inventory, graph = analysis.scan.inventory, analysis.graph
    root = "istio-system"
    enrollment = (whatif.current_enrollment(inventory, graph) if enrolled == "now"
                  else whatif.planned_enrollment(inventory, graph, membership(inventory, root)))
    index = SimulationIndex(inventory, graph)
    found = 0
    for ns in sorted(inventory.workloads_by_namespace):
        changes = [whatif.namespace_policy(inventory, root, ns, "STRICT")]
        scope = inventory.workloads_by_namespace[ns]
        full = whatif.simulate(inventory, graph, changes, root_namespace=root,
                               enrollment=enrollment, scope=scope)
        expected = [r for r in full.breaking
                    if {x.code for x in r.reasons} & whatif.CALLER_REASONS]
        assert whatif.refused_for_the_caller(inventory, graph, changes, root_namespace=root,
                                             enrollment=enrollment, scope=scope,
                                             index=index) == expected, ns
        assert whatif.simulate(inventory, graph, changes, root_namespace=root,
                               enrollment=enrollment, scope=scope, index=index) == full, ns
        found += len(expected)
    if name == "shop" and enrolled == "after the plan":
        assert found  # callers outside the mesh: the comparison is not vacuous


def test_an_index_of_another_graph_is_refused(sample: tuple[str, Analysis]) -> None:
    from planner.domain.graph import CallGraph
    from planner.domain.simulation_index import SimulationIndex

    _, analysis = sample
    inventory = analysis.scan.inventory
    with pytest.raises(ValueError, match="another inventory or graph"):
        whatif.simulate(inventory, analysis.graph, [], root_namespace="istio-system",
                        enrollment=whatif.current_enrollment(inventory, analysis.graph),
                        index=SimulationIndex(inventory, CallGraph()))
