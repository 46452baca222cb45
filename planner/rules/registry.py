"""The explicit list of every rule. Adding a rule: one rule file, one line here, two fixtures."""

from __future__ import annotations

from planner.rules.base import Rule
from planner.rules.blockers import BLOCKER_RULES
from planner.rules.fit import FIT_RULES

ALL_RULES: tuple[Rule, ...] = (*FIT_RULES, *BLOCKER_RULES)


def rule(code: str) -> Rule:
    """The rule with this code; KeyError when there is none."""
    for r in ALL_RULES:
        if r.info.code == code:
            return r
    raise KeyError(code)
