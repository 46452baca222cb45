"""What `service.build_plan` shares between its parts changes nothing: the blocker rules, the
plan builder and the steps' what-ifs read one node-by-node fate (CallerFates) and one
simulation index, and the plan is the one each part builds on its own. Checked on the
samples for each data-plane choice; a fate of another data plane is refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from planner.domain import whatif
from planner.domain.fit import plan_cost
from planner.domain.inventory import Workload
from planner.domain.membership import CallerFates, Membership, membership
from planner.domain.plan_builder import build_plan_from
from planner.domain.simulation_index import InboundCall
from planner.rules.blockers import AMBIENT_READINESS_RULES, BLOCKER_RULES
from planner.service import ManifestInput, _dataplane_decision, analyse, assess, build_plan

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ("shop", "tiny", "gitops-gateway")


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("dataplane", ["recommended", "sidecar", "ambient"])
def test_the_shared_plan_is_the_plan_each_part_builds_alone(sample: str,
                                                             dataplane: str) -> None:
    analysis = analyse(ManifestInput((str(ROOT / "sample_clusters" / sample),),
                                     recursive=True))
    assessment = assess(analysis)
    shared = build_plan(analysis, dataplane=dataplane, assessment=assessment)

    decision = _dataplane_decision(analysis, assessment, dataplane)
    context = replace(analysis.context, dataplane=decision.modes)  # the rules' own fates
    findings = [f for rule in BLOCKER_RULES for f in rule.check(context)]
    alone = build_plan_from(context.inventory, context.graph, findings,
                            root_namespace=context.root_namespace, dataplane=decision.modes,
                            dataplane_why=decision.why, dataplane_choice=decision.selection,
                            fit=assessment.fit_verdict, unread=analysis.scan.unread,
                            enrollment_codes={r.info.code for r in AMBIENT_READINESS_RULES})
    inventory = analysis.scan.inventory
    alone = replace(alone, what_if=whatif.step_what_ifs(
        inventory, analysis.graph, alone.steps, root_namespace=alone.root_namespace,
        enrollment=whatif.current_enrollment(inventory, analysis.graph)))
    cost, notes = plan_cost(inventory, CallerFates(inventory, membership(
        inventory, alone.root_namespace, decision.modes)), assessment)
    alone = replace(alone, cost=cost, notes=(*alone.notes, *notes))
    assert shared == alone
    assert shared.what_if  # STRICT steps were simulated: the comparison is not vacuous


def test_fates_of_another_data_plane_are_refused() -> None:
    analysis = analyse(ManifestInput((str(ROOT / "sample_clusters" / "shop"),),
                                     recursive=True))
    inventory = analysis.scan.inventory
    namespaces = [ns.name for ns in inventory.namespaces]
    ambient = CallerFates(inventory, membership(inventory, "istio-system",
                                                dict.fromkeys(namespaces, "ambient")))
    with pytest.raises(ValueError, match="another inventory or data plane"):
        build_plan_from(inventory, analysis.graph, [],
                        dataplane=dict.fromkeys(namespaces, "sidecar"), fates=ambient)


def test_a_plan_resolves_each_workloads_calls_and_fate_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Work counted, not timed: the calls into a workload (their Service ports resolved) are
    looked up once for the exceptions and every step's what-if, and a workload's fate in the
    planned mesh once for the blocker rules and the plan builder together."""
    from collections import Counter

    from planner.domain import membership as membership_module
    from planner.domain.simulation_index import SimulationIndex

    resolved: Counter[str] = Counter()
    fated: Counter[str] = Counter()
    calls_into = SimulationIndex._calls_into
    workload_fate = membership_module._workload_fate

    def counted_calls(self: SimulationIndex, workload: Workload) -> list[InboundCall]:
        resolved[workload.ref.key] += 1
        return calls_into(self, workload)

    def counted_fate(members: Membership, workload: Workload,
                     gateway: bool) -> tuple[bool, str]:
        fated[workload.ref.key] += 1
        return workload_fate(members, workload, gateway)

    monkeypatch.setattr(SimulationIndex, "_calls_into", counted_calls)
    monkeypatch.setattr(membership_module, "_workload_fate", counted_fate)
    analysis = analyse(ManifestInput((str(ROOT / "sample_clusters" / "shop"),),
                                     recursive=True))
    assessment = assess(analysis)
    fated.clear()  # assess judges its own candidates: only the plan's work counts
    plan = build_plan(analysis, assessment=assessment)
    assert plan.what_if and resolved and fated
    assert max(resolved.values()) == 1, resolved.most_common(3)
    assert max(fated.values()) == 1, fated.most_common(3)
