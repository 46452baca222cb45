"""MP106: retries, timeouts and circuit breaking configured in the infrastructure layer."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import l7_factor
from planner.rules.fit.signals import resilience

WEIGHT = 10.0

INFO = RuleInfo(
    code="MP106",
    title="Retries, timeouts or circuit breaking",
    category="fit",
    severity=Level.INFO,
    why="Retries and timeouts (VirtualService) and outlier detection or connection-pool limits "
        "(DestinationRule) replace client libraries in every service.",
    fix="Keep them; in ambient mode the services they target need a waypoint.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires for VirtualServices with retries/timeout and DestinationRules with
    outlierDetection/connectionPool."""
    return l7_factor(ctx, INFO, resilience, WEIGHT, "resilience policy in the mesh")


RULE = Rule(INFO, check)
