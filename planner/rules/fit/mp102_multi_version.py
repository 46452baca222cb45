"""MP102: several versions of one app behind one Service."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import l7_factor
from planner.rules.fit.signals import multi_version_services

WEIGHT = 10.0

INFO = RuleInfo(
    code="MP102",
    title="Several versions behind one Service",
    category="fit",
    severity=Level.INFO,
    why="Workloads with different version labels behind one Service are split by replica count "
        "only; steering a share of requests to one version is L7 traffic control, which a mesh "
        "does declaratively.",
    fix="Route between the versions with a VirtualService/HTTPRoute (a waypoint in ambient).",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires for each Service whose workloads differ in a version (or DR subset) label."""
    return l7_factor(ctx, INFO, multi_version_services, WEIGHT,
                     "several versions of one app behind one Service")


RULE = Rule(INFO, check)
