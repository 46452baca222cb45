"""MP109: compliance requires mTLS everywhere without changing application code (profile)."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import profile_of, yes_no_factor

WEIGHT = 35.0

INFO = RuleInfo(
    code="MP109",
    title="Compliance requires mTLS everywhere",
    category="fit",
    severity=Level.INFO,
    why="Mutual TLS with workload identity on every connection, without code changes, is what "
        "a mesh does best; manifests cannot tell whether an auditor asks for it.",
    fix="Answer with --compliance-mtls/--no-compliance-mtls or compliance.mtlsEverywhere in the "
        "profile.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires when the profile says yes (+weight) or does not say (unknown, weight 0)."""
    return yes_no_factor(INFO, profile_of(ctx).compliance_mtls, WEIGHT,
                         unknown="unknown whether compliance requires mTLS everywhere",
                         yes="compliance requires mTLS everywhere without code changes")


RULE = Rule(INFO, check, answers=frozenset({"compliance_mtls"}))
