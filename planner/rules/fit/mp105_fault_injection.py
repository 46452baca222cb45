"""MP105: fault injection (chaos testing) in VirtualServices."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import l7_factor
from planner.rules.fit.signals import fault_injection

WEIGHT = 5.0

INFO = RuleInfo(
    code="MP105",
    title="Fault injection",
    category="fit",
    severity=Level.INFO,
    why="Injected delays and aborts test resilience without code changes; only an L7 proxy "
        "can do it.",
    fix="Keep the faults in test routes; in ambient mode they need a waypoint.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires for VirtualServices with ``fault.delay`` or ``fault.abort``."""
    return l7_factor(ctx, INFO, fault_injection, WEIGHT, "fault injection")


RULE = Rule(INFO, check)
