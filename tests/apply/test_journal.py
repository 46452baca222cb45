"""The pure journal state machine."""

from __future__ import annotations

import pytest

from planner.domain import journal as jr
from planner.domain.journal import Journal, Record, RecordPhase, StepState, WriteKind

T = "2025-01-01T00:00:00Z"


def _record(index: int, kind: WriteKind = WriteKind.APPLY) -> Record:
    return Record(index, kind, f"v1:Namespace//ns{index}", None, {"metadata": {}})


def test_apply_lifecycle_and_round_trip() -> None:
    j = jr.begin_apply(Journal(target=jr.Target(uid="u", server="https://k")), "s", "abc", T)
    j = jr.intend(j, "s", _record(0))
    j = jr.done(j, "s", 0, {"spec": {}})
    j = jr.finish(j, "s", StepState.APPLIED, T, "applied")
    assert jr.from_document(jr.to_document(j)).of(j.target) == j
    with pytest.raises(jr.JournalError, match="already applied"):
        jr.begin_apply(j, "s", "abc", T)


def test_interrupted_apply_needs_resume_or_rollback() -> None:
    j = jr.intend(jr.begin_apply(Journal(), "s", "abc", T), "s", _record(0))
    entry = j.entry("s")
    assert jr.shown_state(entry) is StepState.FAILED
    assert "--resume" in (jr.interruption(entry) or "")
    with pytest.raises(jr.JournalError, match="--resume"):
        jr.begin_apply(j, "s", "abc", T)
    resumed = jr.begin_apply(j, "s", "abc", T, resume=True)
    assert resumed.entry("s").records == entry.records


def test_undo_order_puts_restarts_last() -> None:
    j = jr.begin_apply(Journal(), "s", "h", T)
    for i, kind in enumerate([WriteKind.LABEL, WriteKind.RESTART, WriteKind.APPLY]):
        j = jr.done(jr.intend(j, "s", _record(i, kind)), "s", i, {})
    assert [r.index for r in jr.undo_order(j.entry("s"))] == [2, 0, 1]


def test_drift_compares_spec_and_labels_or_restart_annotation() -> None:
    applied = Record(0, WriteKind.APPLY, "t", None, {}, {"spec": {"a": 1}, "metadata": {}},
                     RecordPhase.DONE)
    assert not jr.drifted(applied, {"spec": {"a": 1}, "metadata": {"annotations": {"x": "y"}}})
    assert jr.drifted(applied, {"spec": {"a": 2}, "metadata": {}})
    assert jr.drifted(applied, None)
    restart = Record(0, WriteKind.RESTART, "t", None, {}, {"spec": {"replicas": 1, "template": {
        "metadata": {"annotations": {jr.RESTARTED_AT: "t1"}}}}}, RecordPhase.DONE)
    assert not jr.drifted(restart, {"spec": {"replicas": 5, "template": {
        "metadata": {"annotations": {jr.RESTARTED_AT: "t1"}}}}})


def test_rollback_of_a_pending_step_is_refused() -> None:
    with pytest.raises(jr.JournalError, match="never applied"):
        jr.begin_rollback(Journal(), "s", T)


def test_bad_documents_raise_journal_error() -> None:
    with pytest.raises(jr.JournalError):
        jr.from_document({"kind": "Other"})
    with pytest.raises(jr.JournalError, match="malformed"):
        jr.from_document({"kind": jr.JOURNAL_KIND, "schemaVersion": 2, "targets": {
            "cluster:u": {"target": {"uid": "u"}, "steps": {"s": {"state": "nope"}}}}})


@pytest.mark.parametrize("target", [5, 1e400, None, "", ["a"]])
def test_a_record_target_that_is_no_name_makes_the_journal_malformed(target: object) -> None:
    """A rollback writes back to a record's target: one that is no name (a hand-edited or
    damaged journal) is refused, not written as a file named '5' or 'inf'."""
    j = jr.begin_apply(Journal(target=jr.Target(uid="u")), "s", "h", T)
    doc = jr.to_document(jr.done(jr.intend(j, "s", _record(0)), "s", 0, {}))
    [raw] = doc["targets"].values()
    [record] = raw["steps"]["s"]["records"]
    assert len(next(iter(jr.from_document(doc).by_target.values())).entry("s").records) == 1
    record["target"] = target
    with pytest.raises(jr.JournalError, match=r"a record's target .* is not a name"):
        jr.from_document(doc)


def _applied(j: Journal, step_id: str, at: str, requires: tuple[str, ...] = ()) -> Journal:
    j = jr.begin_apply(j, step_id, "h", at, requires=requires)
    return jr.finish(j, step_id, StepState.APPLIED, at, "applied")


def test_dependents_include_journaled_steps_the_plan_lacks() -> None:
    # 70-authz-dry-run-shop came from a plan built with --authz; this plan has no such step.
    j = _applied(Journal(target=jr.Target(uid="u")), "60-mesh-strict", T)
    j = _applied(j, "70-authz-dry-run-shop", "2025-01-01T00:01:00Z", ("60-mesh-strict",))
    assert jr.from_document(jr.to_document(j)).of(j.target) == j
    plan = {"30-enroll-shop": (), "60-mesh-strict": ("30-enroll-shop",)}
    assert jr.applied_dependents(j, plan, "60-mesh-strict") == ["70-authz-dry-run-shop"]
    assert jr.applied_dependents(j, plan, "30-enroll-shop") == [
        "60-mesh-strict", "70-authz-dry-run-shop"]
    assert "built with --authz" in jr.unplanned_note(j.entry("70-authz-dry-run-shop"))
    rolled = jr.finish(jr.begin_rollback(j, "70-authz-dry-run-shop", T),
                       "70-authz-dry-run-shop", StepState.ROLLED_BACK, T, "rolled back")
    assert jr.applied_dependents(rolled, plan, "60-mesh-strict") == []


def test_an_unplanned_step_without_recorded_requires_rests_on_what_came_before() -> None:
    # A journal written before requires were recorded: without the step's plan, every step
    # applied no later than it may be what it rests on.
    j = _applied(Journal(target=jr.Target(uid="u")), "20-mesh-permissive", T)
    j = _applied(j, "70-authz-dry-run-shop", "2025-01-01T00:05:00Z")
    j = _applied(j, "30-enroll-blog", "2025-01-01T00:09:00Z")
    legacy = jr.from_document(_without_requires(jr.to_document(j))).of(j.target)
    assert legacy.entry("70-authz-dry-run-shop").requires is None
    plan = {"20-mesh-permissive": (), "30-enroll-blog": ("20-mesh-permissive",)}
    assert jr.applied_dependents(legacy, plan, "20-mesh-permissive") == [
        "30-enroll-blog", "70-authz-dry-run-shop"]
    assert jr.applied_dependents(legacy, plan, "30-enroll-blog") == []
    # Planned steps keep the plan's requires: no guessing where the plan knows.
    assert jr.applied_dependents(legacy, plan, "70-authz-dry-run-shop") == []


def _without_requires(doc: dict[str, object]) -> dict[str, object]:
    for target in doc["targets"].values():  # type: ignore[attr-defined]
        for step in target["steps"].values():
            step.pop("requires", None)
    return doc
