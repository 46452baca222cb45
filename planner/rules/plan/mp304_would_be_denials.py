"""MP304: the dry-run authorization policies of a namespace would deny traffic that happens:
the enforce step (``80-authz-enforce-<ns>``, ``planner plan --authz``) is blocked with one
finding per caller its policies do not name, and one for the shadow denials Envoy counted.

Not a :class:`~planner.domain.findings.Rule` over manifests: it judges a step's gate, as
MP301 does, so the service layer hands :func:`denial_blockers` to
:func:`~planner.domain.gates.block_on_gates`."""

from __future__ import annotations

from typing import Final

from planner.domain.findings import Finding, Level, RuleInfo
from planner.domain.plan import Step
from planner.domain.traffic import UNKNOWN, GateResult, count_text

INFO: Final = RuleInfo(
    code="MP304",
    title="Authorization would deny observed traffic",
    category="plan",
    severity=Level.ERROR,
    why=("Observed traffic reached a workload from a caller its least-privilege ALLOW policy "
         "does not name (or without a sidecar, so without a principal), or Envoy's shadow "
         "RBAC counters show requests the dry-run policy would have denied. Enforcing the "
         "policy denies them (403, or a reset for TCP)."),
    fix=("Plan again with the traffic that shows the caller (--prometheus or --traffic) so the "
         "policy names it, enroll a caller without a sidecar, or find what the shadow denials "
         "were in the proxies' access log ('shadow denied'); keep the policy in dry run until "
         "the gate passes."),
)


def denial_blockers(step: Step, gate: GateResult) -> tuple[Finding, ...]:
    """The MP304 findings of a failing would-be-denials gate: one per caller the policies do
    not name, and one for the shadow denials when the gate counted any."""
    ns = step.target.namespace
    found = []
    for obs in gate.offenders:
        callee = (obs.destination_workload if obs.destination_workload != UNKNOWN
                  else obs.destination_service)
        caller = ("an unidentified caller (no sidecar)" if obs.unknown_caller
                  else f"{obs.source_namespace}/{obs.source_workload}")
        unit = "connections" if obs.connections else "requests"
        found.append(INFO.finding(
            subject=f"{obs.source_namespace}/{obs.source_workload}", namespace=ns,
            message=(f"{caller} sent {count_text(obs.total, at_least=obs.at_least)} {unit} to "
                     f"{ns}/{callee}, which the policies of {step.id} do not allow")))
    if "would have denied" in gate.reason:
        found.append(INFO.finding(
            subject=f"namespace/{ns}", namespace=ns,
            message=f"{step.id}: {gate.reason}"))
    return tuple(found)
