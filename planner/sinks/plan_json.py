"""The plan's wire format (``planner plan -o json|yaml``), versioned apart from the model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.domain.plan import Plan, Step
from planner.domain.traffic import GateResult
from planner.sinks.traffic_json import gate_body
from planner.sinks.whatif_json import step_what_if_body
from planner.sinks.wire import document, to_wire

SCHEMA_VERSION = "meshplan.io/plan/v1"


def readiness(step: Step) -> str:
    """A STRICT step without observed traffic: ``ready`` when the manifests show every caller,
    ``unproven`` when blind workloads keep them from it (docs/plan.md)."""
    return "ready" if step.proof == "manifests" else "unproven"


def plan_body(plan: Plan, gates: Mapping[str, GateResult] | None = None) -> dict[str, Any]:
    """The plan as plain data (keys sorted, steps in plan order), without a schema version:
    the report embeds it. With ``gates`` (observed traffic), each gated step gets a ``gate``
    with its status, reason, offending edges, evidence level and what to run for proof."""
    steps = []
    for i, step in enumerate(plan.steps, start=1):
        data = {**to_wire(step), "order": i}
        what_if = plan.what_if.get(step.id)
        if what_if is not None:
            data["whatIf"] = step_what_if_body(what_if)
        gate = (gates or {}).get(step.id)
        if gates is None and step.proof:
            data["status"] = readiness(step)
        if gate is not None:
            data["gate"] = gate_body(gate)
        steps.append(data)
    return {
        # The verdict first: "is a mesh worth it here?" comes before how to roll it out.
        "fit": to_wire(plan.fit),
        "dataplane": plan.dataplane,
        "notes": list(plan.notes),
        "rootNamespace": plan.root_namespace,
        "granularity": plan.granularity,
        "istio": to_wire(plan.istio),
        "namespaces": to_wire(plan.namespaces),
        "steps": steps,
        "blockers": to_wire(plan.blockers),
    }


def plan_document(plan: Plan, gates: Mapping[str, GateResult] | None = None) -> dict[str, Any]:
    """The plan as a top-level document, ``schemaVersion`` first (``gates``: see
    :func:`plan_body`)."""
    return document(SCHEMA_VERSION, plan_body(plan, gates))
