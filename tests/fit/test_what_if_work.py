"""The what-if of unanswered profile questions replays only the fit rules that read the answer
(``Rule.answers``); every other rule's findings stand. Work is counted (rule runs), not timed."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from planner.domain.findings import Finding, Rule, RuleContext
from planner.domain.fit import assess_fit
from planner.domain.profile import QUESTIONS, Profile
from planner.rules.fit import FIT_RULES, L7_RULES
from planner.service import ManifestInput, analyse
from tests.fit.conftest import SAMPLES


def _context(sample: str) -> RuleContext:
    analysis = analyse(ManifestInput((str(SAMPLES / sample),), recursive=True))
    return replace(analysis.context, profile=Profile())


def _counted(rules: tuple[Rule, ...], runs: Counter[str]) -> tuple[Rule, ...]:
    def counting(rule: Rule) -> Rule:
        def check(ctx: RuleContext) -> list[Finding]:
            runs[rule.info.code] += 1
            return rule.check(ctx)
        return replace(rule, check=check)
    return tuple(counting(rule) for rule in rules)


def test_only_the_rules_reading_an_answer_run_again() -> None:
    runs: Counter[str] = Counter()
    ctx = _context("tiny")
    assessment = assess_fit(ctx, _counted(FIT_RULES, runs), [r.info.code for r in L7_RULES])
    answers_per_question = {name: len(answers) for name, _, answers in QUESTIONS}
    assert {u.field for u in assessment.unknowns} == set(answers_per_question)
    expected = {rule.info.code: 1 + sum(answers_per_question[name] for name in rule.answers)
                for rule in FIT_RULES}
    assert runs == expected
    # The inventory-wide rules (service count, L7 needs) ran once, not once per answer.
    assert runs["MP101"] == runs["MP108"] == 1 and runs["MP109"] == 3


def test_each_outcome_is_the_assessment_with_that_answer() -> None:
    ctx = _context("shop")
    l7_codes = [r.info.code for r in L7_RULES]
    assessment = assess_fit(ctx, FIT_RULES, l7_codes)
    assert assessment.unknowns
    for unknown in assessment.unknowns:
        answers = next(a for name, _, a in QUESTIONS if name == unknown.field)
        for (value, label), outcome in zip(answers, unknown.outcomes, strict=True):
            answered = replace(ctx, profile=replace(Profile(), **{unknown.field: value}))
            full = assess_fit(answered, FIT_RULES, l7_codes)
            assert (outcome.answer, outcome.score, outcome.verdict) == (
                label, full.score, full.verdict)


@pytest.mark.parametrize("sample", ["tiny", "shop"])
def test_fit_rules_declare_every_answer_they_read(sample: str) -> None:
    """A rule that reads an answer it does not declare would keep a stale finding in the
    what-if: its findings must not move with any other answer."""
    ctx = _context(sample)
    for rule in FIT_RULES:
        unanswered = rule.check(ctx)
        for name, _, answers in QUESTIONS:
            moved = [value for value, _ in answers
                     if rule.check(replace(ctx, profile=replace(Profile(), **{name: value})))
                     != unanswered]
            if name in rule.answers:
                assert moved, f"{rule.info.code} declares {name} but never reads it"
            else:
                assert not moved, f"{rule.info.code} reads {name} without declaring it"
