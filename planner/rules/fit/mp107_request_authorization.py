"""MP107: request-level authorization (methods, paths, headers, JWT)."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import l7_factor
from planner.rules.fit.signals import request_authorization

WEIGHT = 10.0

INFO = RuleInfo(
    code="MP107",
    title="Request-level authorization",
    category="fit",
    severity=Level.INFO,
    why="AuthorizationPolicies on methods, paths or headers, and JWT RequestAuthentication, "
        "need a proxy that parses HTTP; NetworkPolicy and ztunnel stop at L4.",
    fix="Keep them; in ambient mode bind them to a waypoint with targetRefs.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires for AuthorizationPolicies with L7 fields and for RequestAuthentications."""
    return l7_factor(ctx, INFO, request_authorization, WEIGHT, "request-level authorization")


RULE = Rule(INFO, check)
