"""MP111: dedicated platform engineers to run the mesh (profile)."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import factor, profile_of

WEIGHT = -20.0
#: Someone has to own istiod upgrades, proxy debugging and the custom resources.
MINIMUM = 1

INFO = RuleInfo(
    code="MP111",
    title="Platform team capacity",
    category="fit",
    severity=Level.INFO,
    why="A mesh adds a control plane to upgrade, custom resources to learn and proxies to "
        "debug; without dedicated platform engineers the learning curve is steep.",
    fix="Answer with --platform-engineers N or team.platformEngineers in the profile; without "
        "a platform team prefer NetworkPolicy and application TLS.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires when nobody is dedicated (negative weight) or the answer is unknown (weight 0)."""
    engineers = profile_of(ctx).platform_engineers
    threshold = f">= {MINIMUM}"
    if engineers is None:
        return [factor(INFO, value="unknown", threshold=threshold, weight=0.0,
                       message="unknown how many platform engineers would run the mesh; "
                               f"counted as enough (none would add {WEIGHT:g})")]
    if engineers < MINIMUM:
        return [factor(INFO, value=str(engineers), threshold=threshold, weight=WEIGHT,
                       message="no dedicated platform engineers to operate a mesh")]
    return []


RULE = Rule(INFO, check, answers=frozenset({"platform_engineers"}))
