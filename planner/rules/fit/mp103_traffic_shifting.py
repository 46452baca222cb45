"""MP103: weighted, header-matched, mirrored or subset routing in VirtualServices/HTTPRoutes."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import l7_factor
from planner.rules.fit.signals import traffic_shifting

WEIGHT = 15.0

INFO = RuleInfo(
    code="MP103",
    title="Weighted or header-matched routing",
    category="fit",
    severity=Level.INFO,
    why="Fine-grained traffic shifting (canary, blue-green, header routing, mirroring) is the "
        "first reason the article gives to use a mesh.",
    fix="Keep the routes; in ambient mode they need a waypoint for the target services.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires when a route splits by weight, matches headers, mirrors, or picks subsets."""
    return l7_factor(ctx, INFO, traffic_shifting, WEIGHT, "L7 routing in use")


RULE = Rule(INFO, check)
