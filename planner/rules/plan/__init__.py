"""Plan findings (MP3xx): what blocks a step beyond the manifests, from observed traffic."""

from __future__ import annotations

from collections.abc import Callable

from planner.domain.findings import Finding
from planner.domain.graph import CallGraph
from planner.domain.plan import Phase, Plan, Step
from planner.domain.traffic import GateResult


def gate_findings(plan: Plan, graph: CallGraph) -> Callable[[Step, GateResult],
                                                             tuple[Finding, ...]]:
    """The findings of a failing gate: MP301 (plaintext callers) for a STRICT step, MP304
    (would-be denials) for an authorization enforce step."""
    from planner.rules.plan.mp301_plaintext_observed import gate_blockers
    from planner.rules.plan.mp304_would_be_denials import denial_blockers

    plaintext = gate_blockers(plan, graph)

    def findings(step: Step, gate: GateResult) -> tuple[Finding, ...]:
        if step.phase is Phase.AUTHZ_ENFORCE:
            return denial_blockers(step, gate)
        return plaintext(step, gate)

    return findings
