"""The plan's wire format (``planner plan -o json|yaml``), versioned apart from the model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from planner.domain.findings import Finding, PortExceptionOffer
from planner.domain.plan import Change, IstioState, NamespaceFate, Plan, Proof, Step, Target
from planner.domain.verdict import FitVerdict
from planner.sinks.assessment_json import cost_option_body
from planner.sinks.whatif_json import step_what_if_body
from planner.sinks.wire import document

if TYPE_CHECKING:  # gates come from observed traffic: its modules are imported when there are
    from planner.domain.traffic import GateResult

SCHEMA_VERSION = "meshplan.io/plan/v2"


def finding_body(finding: Finding) -> dict[str, Any]:
    """A blocker or factor: code, severity, subject, message, fix and the objects involved;
    ``exception`` is what a port exception for it would select (empty for none)."""
    return {
        "code": finding.code,
        "severity": finding.severity.value,
        "namespace": finding.namespace,
        "subject": finding.subject,
        "objects": list(finding.objects),
        "message": finding.message,
        "fix": finding.fix,
        "value": finding.value,
        "threshold": finding.threshold,
        "weight": finding.weight,
        "exception": _exception(finding.exception),
    }


def _exception(offer: PortExceptionOffer | None) -> dict[str, Any]:
    if offer is None:
        return {}
    return {"caller": offer.caller, "workload": offer.workload, "ports": list(offer.ports)}


def fit_body(fit: FitVerdict | None) -> dict[str, Any] | None:
    """The mesh-fit verdict with its score, summary and the alternatives to a mesh."""
    if fit is None:
        return None
    return {"verdict": fit.verdict.value, "score": fit.score, "summary": fit.summary,
            "alternatives": [{"name": a.name, "why": a.why} for a in fit.alternatives]}


def _change(change: Change) -> dict[str, Any]:
    # The manifest goes out as it is: every caller converts the whole step (to_wire), and
    # converting it here too sorted each manifest twice, most of a 10,000-service plan's bytes.
    return {"action": change.action.value, "object": change.object}


def _target(target: Target) -> dict[str, str]:
    return {"scope": target.scope.value, "namespace": target.namespace, "name": target.name}


def _fate(fate: NamespaceFate) -> dict[str, Any]:
    return {"name": fate.name, "mode": fate.mode.value, "already": fate.already,
            "final": fate.final.value, "reason": fate.reason, "steps": list(fate.steps)}


def _istio(state: IstioState) -> dict[str, Any]:
    return {"present": state.present, "crds": list(state.crds), "istiod": list(state.istiod),
            "revisions": list(state.revisions), "rootNamespace": state.root_namespace,
            "rootNamespacePresent": state.root_namespace_present}


def step_body(step: Step) -> dict[str, Any]:
    """One step as plain data, without its place in the plan, gate or what-if."""
    return {
        "id": step.id,
        "phase": step.phase.value,
        "title": step.title,
        "target": _target(step.target),
        "why": step.why,
        "apply": [_change(c) for c in step.apply],
        "rollback": [_change(c) for c in step.rollback],
        "preconditions": list(step.preconditions),
        "promql": list(step.promql),
        "requires": list(step.requires),
        "verify": list(step.verify),
        "blockers": [finding_body(f) for f in step.blockers],
        "forcedBy": list(step.forced_by),
        "proof": step.proof.value,
        "blind": list(step.blind),
    }


def readiness(step: Step) -> str:
    """A STRICT step without observed traffic: ``ready`` when the manifests show every caller,
    ``unproven`` when blind workloads keep them from it (docs/plan.md)."""
    return "ready" if step.proof == Proof.MANIFESTS else "unproven"


def plan_body(plan: Plan, gates: Mapping[str, GateResult] | None = None) -> dict[str, Any]:
    """The plan as plain data (keys sorted, steps in plan order), without a schema version:
    the report embeds it. With ``gates`` (observed traffic), each gated step gets a ``gate``
    with its status, reason, offending edges, evidence level and what to run for proof."""
    steps = []
    for i, step in enumerate(plan.steps, start=1):
        data = {**step_body(step), "order": i}
        what_if = plan.what_if.get(step.id)
        if what_if is not None:
            data["whatIf"] = step_what_if_body(what_if)
        gate = (gates or {}).get(step.id)
        if gates is None and step.proof:
            data["status"] = readiness(step)
        if gate is not None:
            from planner.sinks.traffic_json import gate_body  # see GateResult above

            data["gate"] = gate_body(gate)
        steps.append(data)
    return {
        # The verdict first: "is a mesh worth it here?" comes before how to roll it out.
        "fit": fit_body(plan.fit),
        "dataplane": plan.dataplane.value,
        "notes": list(plan.notes),
        "rootNamespace": plan.root_namespace,
        "granularity": plan.granularity.value,
        "istio": _istio(plan.istio),
        "namespaces": [_fate(f) for f in plan.namespaces],
        "steps": steps,
        "blockers": [finding_body(f) for f in plan.blockers],
    } | ({} if plan.cost is None else {"cost": cost_option_body(plan.cost)})


def plan_document(plan: Plan, gates: Mapping[str, GateResult] | None = None) -> dict[str, Any]:
    """The plan as a top-level document, ``schemaVersion`` first (``gates``: see
    :func:`plan_body`)."""
    return document(SCHEMA_VERSION, plan_body(plan, gates))
