"""MP110: golden metrics and tracing wanted without instrumenting each service (profile)."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import profile_of, yes_no_factor

WEIGHT = 15.0

INFO = RuleInfo(
    code="MP110",
    title="Observability without instrumentation",
    category="fit",
    severity=Level.INFO,
    why="A proxy in the data path emits latency, error-rate and throughput metrics and trace "
        "spans for every request, without touching application code.",
    fix="Answer with --observability-needed/--no-observability-needed or observability.needed "
        "in the profile. Ambient needs a waypoint for HTTP metrics and tracing.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires when the profile says yes (+weight) or does not say (unknown, weight 0)."""
    return yes_no_factor(INFO, profile_of(ctx).observability_needed, WEIGHT,
                         unknown="unknown whether mesh-level metrics and tracing are needed",
                         yes="golden metrics and tracing wanted without instrumenting services")


RULE = Rule(INFO, check, answers=frozenset({"observability_needed"}))
