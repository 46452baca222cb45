"""MP104: progressive delivery with Argo Rollouts or Flagger canaries."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import l7_factor
from planner.rules.fit.signals import canaries

WEIGHT = 15.0

INFO = RuleInfo(
    code="MP104",
    title="Canary or blue-green rollouts",
    category="fit",
    severity=Level.INFO,
    why="Argo Rollouts and Flagger shift traffic step by step; with a mesh they move request "
        "shares precisely instead of scaling replicas.",
    fix="Point the rollout controller at Istio traffic routing; in ambient mode give the "
        "rolled-out services a waypoint.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires for each Rollout workload and for Flagger Canary objects."""
    return l7_factor(ctx, INFO, canaries, WEIGHT, "progressive delivery")


RULE = Rule(INFO, check)
