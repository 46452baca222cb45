"""The explicit list of every rule. Adding a rule: one rule file, one line here, two fixtures."""

from __future__ import annotations

from planner.domain.findings import Rule, RuleInfo
from planner.rules.authz import AUTHZ_RULES
from planner.rules.blockers import BLOCKER_RULES
from planner.rules.fit import FIT_RULES
from planner.rules.plan.mp301_plaintext_observed import INFO as MP301
from planner.rules.plan.mp304_would_be_denials import INFO as MP304

ALL_RULES: tuple[Rule, ...] = (*FIT_RULES, *BLOCKER_RULES, *AUTHZ_RULES)

#: Every finding code the planner can report, in code order: the rules above plus the plan
#: findings that need observed traffic rather than manifests (MP301, MP304), which have no
#: check of their own here. `planner rules list` and docs/rules.md are generated from this.
CATALOGUE: tuple[RuleInfo, ...] = tuple(
    sorted((*(r.info for r in ALL_RULES), MP301, MP304), key=lambda info: info.code))


def rule(code: str) -> Rule:
    """The rule with this code; KeyError when there is none."""
    for r in ALL_RULES:
        if r.info.code == code:
            return r
    raise KeyError(code)
