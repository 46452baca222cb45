"""MP301: telemetry shows plaintext into a namespace (or workload) that a STRICT step would
lock; the step is blocked with one finding per plaintext caller.

Not a :class:`~planner.domain.findings.Rule` over manifests: it judges a step's gate, so the
service layer hands :func:`gate_blockers` to
:func:`~planner.domain.gates.block_on_gates`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from planner.domain.findings import Finding, Level, RuleInfo
from planner.domain.graph import CallGraph
from planner.domain.observed import callee_id, caller_id
from planner.domain.plan import Phase, Plan, Scope, Step
from planner.domain.traffic import GateResult, ObservedEdge, count_text

INFO: Final = RuleInfo(
    code="MP301",
    title="Plaintext traffic observed",
    category="plan",
    severity=Level.ERROR,
    why=("Telemetry shows callers that sent plaintext into the namespace within the window; "
         "STRICT would refuse every one of them. A caller Istio shows as 'unknown' has no "
         "sidecar, so it cannot even be named from the metrics."),
    fix=("Mesh the caller (inject it, or enroll its namespace), or cover it with a port "
         "exception (portLevelMtls PERMISSIVE on the callee) before STRICT; find an 'unknown' "
         "caller by source IP in access logs (downstream_remote_address) or Hubble."),
)


def gate_blockers(plan: Plan, graph: CallGraph) -> Callable[[Step, GateResult],
                                                              tuple[Finding, ...]]:
    """The MP301 findings of a failing gate: one per plaintext caller, naming the
    port-exception step of the callee's workload when ``plan`` has one (the call reaches a
    port it does not open)."""
    exceptions = {(s.target.namespace, s.target.name): s.id for s in plan.steps
                  if s.phase is Phase.EXCEPTION and s.target.scope == Scope.WORKLOAD}

    def blockers(step: Step, gate: GateResult) -> tuple[Finding, ...]:
        return tuple(_finding(graph, step, obs, gate, exceptions.get(
            (obs.destination_namespace, obs.destination_workload))) for obs in gate.offenders)

    return blockers


def _finding(graph: CallGraph, step: Step, obs: ObservedEdge, gate: GateResult,
             exception: str | None) -> Finding:
    caller = caller_id(graph, obs)
    unit = "connections" if obs.connections else "requests"
    who = f"{caller} (no sidecar)" if obs.unknown_caller else caller
    # The gate let through calls whose every port the exception opens: this one also
    # reaches a port STRICT would lock (telemetry has no port to say which).
    note = (f"; {exception} opens only some of the ports this call reaches on "
            f"{obs.destination_workload}" if exception else "")
    callee = callee_id(graph, obs)
    return INFO.finding(
        subject=caller, namespace=step.target.namespace,
        objects=tuple(sorted({caller, callee})),
        message=(f"{who} sent {count_text(obs.plaintext, at_least=obs.at_least)} plaintext "
                 f"{unit} of {count_text(obs.total, at_least=obs.at_least)} to {callee}; "
                 f"{step.id} would refuse them ({gate.reason}){note}"))
