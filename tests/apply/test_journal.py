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
