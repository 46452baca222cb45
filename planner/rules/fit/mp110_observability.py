"""MP110: golden metrics and tracing wanted without instrumenting each service (profile)."""

from __future__ import annotations

from planner.rules.base import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import factor, profile_of

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
    answer = profile_of(ctx).observability_needed
    if answer is False:
        return []
    if answer is None:
        return [factor(INFO, value="unknown", threshold="yes", weight=0.0,
                       message="unknown whether mesh-level metrics and tracing are needed; "
                               f"counted as no (yes would add +{WEIGHT:g})")]
    return [factor(INFO, value="yes", threshold="yes", weight=WEIGHT,
                   message="golden metrics and tracing wanted without instrumenting services")]


RULE = Rule(INFO, check)
