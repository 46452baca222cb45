"""The assessment's wire format (``planner assess -o json``), versioned apart from the model.

Deterministic: keys sorted (``schemaVersion`` first), lists in the domain's order, no times.
Unknown profile answers are ``null`` and listed under ``unknowns`` with their effect.
"""

from __future__ import annotations

from typing import Any

from planner.domain.fit import (
    BASE_SCORE,
    OVERKILL_BELOW,
    RECOMMENDED_FROM,
    Assessment,
    CostOption,
    DataplaneChoice,
)
from planner.sinks.wire import document

SCHEMA_VERSION = "meshplan.io/assessment/v1"


def assessment_document(assessment: Assessment, source: str) -> dict[str, Any]:
    """The assessment as a plain, sorted document; ``source`` says what was read."""
    a = assessment
    profile = a.profile
    return document(SCHEMA_VERSION, {
        "source": source,
        "verdict": a.verdict.value,
        "score": a.score,
        "rawScore": a.raw_score,
        "scoring": {"base": BASE_SCORE, "overkillBelow": OVERKILL_BELOW,
                    "recommendedFrom": RECOMMENDED_FROM},
        "factors": [{
            "code": f.code, "title": f.title, "value": f.value, "threshold": f.threshold,
            "weight": f.weight, "message": f.message, "evidence": list(f.objects), "fix": f.fix,
        } for f in a.factors],
        "unknowns": [{
            "field": u.field, "question": u.question, "effect": u.effect,
            "outcomes": [{"answer": o.answer, "score": o.score, "verdict": o.verdict.value}
                         for o in u.outcomes],
        } for u in a.unknowns],
        "alternatives": [{"name": alt.name, "why": alt.why} for alt in a.alternatives],
        "profile": {
            "origin": profile.origin,
            "platformEngineers": profile.platform_engineers,
            "complianceMtls": profile.compliance_mtls,
            "observabilityNeeded": profile.observability_needed,
            "nodes": profile.nodes,
            "costsFromProfile": list(profile.costs_from_profile),
        },
        "dataplane": {c.namespace: _choice(c) for c in a.namespaces},
        "costs": {
            "pods": a.costs.pods,
            "meshedPods": a.costs.meshed_pods,
            "nodes": a.costs.nodes,
            "nodesSource": a.costs.nodes_source,
            "assumptions": list(a.costs.assumptions),
            "options": [cost_option_body(o) for o in a.costs.options],
        },
    })


def _choice(choice: DataplaneChoice) -> dict[str, Any]:
    waypoint = choice.waypoint
    return {
        "mode": choice.mode.value,
        "reasons": list(choice.reasons),
        "pods": choice.pods,
        "ambientBlockers": list(choice.ambient_blockers),
        "waypoint": None if waypoint is None else {
            "scope": waypoint.scope,
            "serviceAccounts": list(waypoint.service_accounts),
            "features": list(waypoint.features),
            "evidence": list(waypoint.objects),
        },
    }


def cost_option_body(option: CostOption) -> dict[str, Any]:
    """One cost option as plain data: its totals and its lines (the plan's cost too)."""
    return {
        "name": option.name,
        "proxies": option.proxies,
        "cpuMillicores": option.cpu_millicores,
        "memoryMiB": option.memory_mib,
        "lines": [{"component": line.component, "count": line.count,
                   "cpuMillicores": line.cpu_millicores, "memoryMiB": line.memory_mib,
                   "assumption": line.assumption} for line in option.lines],
    }
