"""The apply journal: what the planner wrote for each plan step, as a pure state machine.

Every write is recorded twice: its *intent* (the object as it was before, and what is about to
be written) is saved before the write, and its result (*done*, with the object as the server
returned it) after. Rolling back records ``undo`` before and ``undone`` after each restore.
A process killed at any point therefore leaves a journal that says exactly which writes may
have happened; both resuming and rolling back are idempotent from there.

Step states::

    pending --apply--> applying --all writes done--> applied --verify--> verified
                          |                             |
                          +--error--> failed            +--live objects changed--> drifted
    applied|verified|failed|applying --rollback--> rolling back --> rolled back

``applying`` and ``rolling back`` are only seen after an interruption (the process died between
the intent and the end of the step); :func:`shown_state` reports them as ``failed``, with
:func:`interruption` saying what to do. ``drifted`` and ``superseded`` are never stored: they
are derived by comparing the live objects with the recorded after-state (:func:`drift_view`);
an object a later step of the plan rewrote (:func:`superseded_by`) is ``superseded``, one that
changed otherwise is ``drifted`` (someone else changed it).

Every step is journaled under the :class:`Target` it was applied to: a cluster, identified by
the UID of its ``kube-system`` namespace (the API server URL and the kubeconfig context are kept
for display), or a GitOps folder. One journal file (:class:`Journals`) holds the journals of
several targets; the engine only ever reads and writes the one of the target it talks to.

The journal never holds what the step does not touch: :func:`kept` reduces every before- and
after-state to the fields a rollback restores and drift detection compares, so a workload's
env (and whatever credentials it holds) is never written to the journal file.

This module does no I/O: ``planner.apply.journal_file`` stores the journal, the engine reads the
cluster and passes timestamps in.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import field, replace
from enum import StrEnum
from typing import Any, Final

from planner.domain.authz_rollout import DRY_RUN_PREFIX, ENFORCE_PREFIX
from planner.domain.redact import redact_map
from planner.domain.value import value_class

SCHEMA_VERSION = 2
JOURNAL_KIND = "MeshplanJournal"
#: Annotations put on every object the planner applies: the cluster itself records the step.
STEP_ANNOTATION = "meshplan.io/step"
PLAN_HASH_ANNOTATION = "meshplan.io/plan-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
#: How long (seconds) an apply or rollback waits for another one holding the journal before it
#: refuses, by default (``--lock-wait``).
LOCK_WAIT_S = 5.0


class StepState(StrEnum):
    """Where a step stands."""

    PENDING = "pending"
    APPLYING = "applying"
    APPLIED = "applied"
    VERIFIED = "verified"
    FAILED = "failed"
    ROLLING_BACK = "rolling back"
    ROLLED_BACK = "rolled back"
    DRIFTED = "drifted"
    SUPERSEDED = "superseded"
    #: Applied to a GitOps folder: the files are written, no cluster was checked (never
    #: stored; :meth:`planner.apply.engine.ApplySession` shows it for folder targets).
    WRITTEN = "written"


class WriteKind(StrEnum):
    """How one change is written: server-side apply, merge patch of namespace labels, merge
    patch of the pod template's restartedAt annotation, delete, or a GitOps file."""

    APPLY = "apply"
    LABEL = "label"
    RESTART = "restart"
    DELETE = "delete"
    FILE = "file"


class RecordPhase(StrEnum):
    """Progress of one write: intent saved, write done, undo started, undo done."""

    INTENT = "intent"
    DONE = "done"
    UNDO = "undo"
    UNDONE = "undone"


@value_class
class Record:
    """One write of a step. ``target`` is ``apiVersion:Kind/namespace/name`` (``namespace``
    empty for cluster-scoped kinds) or a file path relative to the GitOps folder. ``before`` is the
    object (or file text) before the write, None when it did not exist; ``desired`` is what is
    sent (apply body, merge patch or file text); ``after`` what the server returned."""

    index: int
    kind: WriteKind
    target: str
    before: Any
    desired: Any
    after: Any = None
    phase: RecordPhase = RecordPhase.INTENT


@value_class
class Event:
    """A line of the step's history: when, and what happened."""

    at: str
    message: str


@value_class
class StepEntry:
    """The journal of one step. ``forced`` lists the checks ``--force`` overrode; ``gate`` is
    how the step's plaintext gate was met (:data:`GATE_MODES`; empty for steps without one).

    ``requires`` is the step's, as the plan it was applied from said: a later run may build
    its plan without the step (``planner plan --authz`` adds phases a plan without the flag
    lacks), and a rollback must still know what rests on what. None when the journal did not
    record it (journals written before it was)."""

    step_id: str
    state: StepState = StepState.PENDING
    plan_hash: str = ""
    records: tuple[Record, ...] = ()
    forced: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    gate: str = ""
    requires: tuple[str, ...] | None = None

    def record(self, index: int) -> Record | None:
        """The record of write ``index``, if it was intended."""
        return next((r for r in self.records if r.index == index), None)


@value_class
class Target:
    """What steps were applied to. A cluster is identified by the UID of its ``kube-system``
    namespace (``uid``): it is the same however the API server is reached (``server``, the URL,
    and ``context``, the kubeconfig context, are for display). A GitOps folder by its resolved
    path (``folder``)."""

    uid: str = ""
    server: str = ""
    context: str = ""
    folder: str = ""

    @property
    def key(self) -> str:
        """The identity the journal files entries under."""
        return f"folder:{self.folder}" if self.folder else f"cluster:{self.uid}"

    def label(self) -> str:
        """The target for people: context, URL and short UID, or the folder."""
        if self.folder:
            return f"GitOps folder {self.folder}"
        return (f"cluster {self.context or '(no context)'} ({self.server}, kube-system uid "
                f"{self.uid[:8]})")


@value_class
class Journal:
    """Every step the planner touched on one target, by id."""

    steps: Mapping[str, StepEntry] = field(default_factory=dict)
    target: Target = field(default_factory=Target)

    def entry(self, step_id: str) -> StepEntry:
        """The step's entry (a pending one when the step was never touched)."""
        return self.steps.get(step_id) or StepEntry(step_id)

    def state(self, step_id: str) -> StepState:
        """The stored state of a step."""
        return self.entry(step_id).state


GATE_PASSED = "passed"
GATE_TRUSTED = "trusted"
GATE_FORCED = "forced"
GATE_NONE = "none"
#: How a STRICT step's plaintext gate was met: it passed on evidence that proves it, it
#: passed on an export's declared shares the user accepted (``--trust-declared``), it did not
#: pass and ``--force`` overrode it, or no traffic source gated it (``--no-gate``).
GATE_MODES = (GATE_PASSED, GATE_TRUSTED, GATE_FORCED, GATE_NONE)


def set_gate(journal: Journal, step_id: str, gate: str) -> Journal:
    """Record how the step's gate was met (one of :data:`GATE_MODES`)."""
    if gate not in GATE_MODES:
        raise JournalError(f"unknown gate mode {gate!r}")
    return _put(journal, replace(journal.entry(step_id), gate=gate))


def gate_note(entry: StepEntry) -> str:
    """How the gate was met, for ``status``: "applied without gate" after ``--no-gate``."""
    if entry.gate == GATE_NONE:
        return "applied without gate (--no-gate)"
    if entry.gate == GATE_FORCED:
        return "gate overridden (--force)"
    if entry.gate == GATE_TRUSTED:
        return "gate passed on declared shares (--trust-declared)"
    return ""


class JournalError(ValueError):
    """A transition that the state machine does not allow, or a journal document it cannot
    read; the message says why in user terms."""


# --- transitions ------------------------------------------------------------------------------

_DONE = frozenset({StepState.APPLIED, StepState.VERIFIED})


@value_class
class Journals:
    """The journals of every target one journal file holds, by :attr:`Target.key`."""

    by_target: Mapping[str, Journal] = field(default_factory=dict)

    def of(self, target: Target) -> Journal:
        """The journal of ``target`` (an empty one when nothing was applied to it yet). The
        stored identity is refreshed with ``target``'s URL and context: a cluster reached
        another way is the same cluster."""
        journal = self.by_target.get(target.key)
        return replace(journal, target=target) if journal is not None else Journal(target=target)

    def put(self, journal: Journal) -> Journals:
        """These journals with ``journal`` (of its target) replaced."""
        return Journals({**self.by_target, journal.target.key: journal})

    def others(self, target: Target) -> list[Journal]:
        """The journals of targets other than ``target`` that hold steps, by key."""
        return [j for k, j in sorted(self.by_target.items()) if k != target.key and j.steps]

    def elsewhere(self, target: Target, step_id: str) -> str | None:
        """One line saying where else ``step_id`` is journaled as done, or None: what a user
        who points the journal at the wrong cluster needs to hear."""
        found = [j.target.label() for j in self.others(target)
                 if j.steps.get(step_id) is not None and j.state(step_id) in _DONE]
        if not found:
            return None
        more = f" (and to {len(found) - 1} other target(s))" if len(found) > 1 else ""
        return (f"step {step_id} was applied to {found[0]}{more}, not to this "
                f"{target.label()}")


def _put(journal: Journal, entry: StepEntry) -> Journal:
    return replace(journal, steps={**journal.steps, entry.step_id: entry})


def _log(entry: StepEntry, at: str, message: str) -> tuple[Event, ...]:
    return (*entry.events, Event(at, message))


def interrupted_writes(entry: StepEntry) -> int:
    """How many writes of an unfinished apply may have happened (intent saved)."""
    return sum(1 for r in entry.records if r.phase in (RecordPhase.INTENT, RecordPhase.DONE))


def begin_apply(journal: Journal, step_id: str, plan_hash: str, at: str, *,
                resume: bool = False, forced: tuple[str, ...] = (),
                requires: tuple[str, ...] = ()) -> Journal:
    """Start (or, with ``resume``, continue) applying a step; ``requires`` is the plan's for
    it, recorded so that the journal alone says what the step rests on.

    Raises :class:`JournalError` when the step is already applied, or was interrupted with
    writes recorded and ``resume`` is not set (its before-states must not be overwritten)."""
    entry = journal.entry(step_id)
    if entry.state in _DONE:
        raise JournalError(f"step {step_id} is already {entry.state}; roll it back first to "
                           "apply it again")
    partial = entry.state in (StepState.APPLYING, StepState.FAILED) and any(
        r.phase is not RecordPhase.UNDONE for r in entry.records)
    if entry.state is StepState.ROLLING_BACK:
        raise JournalError(f"step {step_id} was interrupted while rolling back; finish with "
                           f"`planner rollback {step_id} --write` first")
    if partial and not resume:
        raise JournalError(f"step {step_id} was interrupted after {interrupted_writes(entry)} "
                           f"write(s): continue with `planner apply {step_id} --resume --write` "
                           f"or undo with `planner rollback {step_id} --write`")
    if resume and partial:
        records = entry.records
        message = f"apply resumed ({len(records)} write(s) already recorded)"
    else:
        records = ()
        message = "apply started"
    new = replace(entry, state=StepState.APPLYING, plan_hash=plan_hash, records=records,
                  requires=tuple(requires),
                  forced=tuple(sorted({*entry.forced, *forced})) if resume else forced,
                  events=_log(entry, at, message + (f"; forced: {'; '.join(forced)}"
                                                    if forced else "")))
    return _put(journal, new)


def kept(kind: WriteKind, obj: Any) -> Any:
    """What the journal keeps of an object read or written for a write of ``kind``.

    Applied and deleted objects (the Istio policies a plan writes) and GitOps files are kept
    whole: a rollback puts them back exactly as they were. A label write keeps the object's
    identity, labels, annotations and spec (drift compares labels and spec; a rollback
    restores only the keys the step set). A restart keeps only the pod template's annotations:
    the rollback restores ``restartedAt`` alone, so the rest of the workload, env included, is
    not needed. Annotations are redacted (:mod:`planner.domain.redact`); the step's own keys
    (``meshplan.io/...``, ``restartedAt``) never say secret, so what a rollback restores is
    exact."""
    if obj is None or kind in (WriteKind.APPLY, WriteKind.DELETE, WriteKind.FILE):
        return obj
    meta = obj.get("metadata") or {}
    identity = {k: meta[k] for k in ("name", "namespace") if k in meta}
    head = {k: obj[k] for k in ("apiVersion", "kind") if k in obj}
    if kind is WriteKind.RESTART:
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        annotations = redact_map(template.get("annotations") or {})
        return {**head, "metadata": identity,
                "spec": {"template": {"metadata": {"annotations": dict(annotations)}}}}
    kept_meta = {**identity, "labels": dict(meta.get("labels") or {}),
                 "annotations": dict(redact_map(meta.get("annotations") or {}))}
    return {**head, "metadata": kept_meta, **({"spec": obj["spec"]} if "spec" in obj else {})}


def intend(journal: Journal, step_id: str, record: Record) -> Journal:
    """Record a write about to happen (replacing an earlier intent for the same index); the
    before-state is reduced to what the journal keeps (:func:`kept`)."""
    record = replace(record, before=kept(record.kind, record.before))
    entry = journal.entry(step_id)
    records = [*(r for r in entry.records if r.index != record.index), record]
    return _put(journal, replace(entry, records=tuple(sorted(records, key=lambda r: r.index))))


def _set_record(journal: Journal, step_id: str, index: int, **changes: Any) -> Journal:
    entry = journal.entry(step_id)
    if entry.record(index) is None:
        raise JournalError(f"step {step_id}: write {index} was never intended")
    records = tuple(replace(r, **changes) if r.index == index else r for r in entry.records)
    return _put(journal, replace(entry, records=records))


def done(journal: Journal, step_id: str, index: int, after: Any) -> Journal:
    """Record that write ``index`` happened and what the server returned (as :func:`kept`)."""
    record = journal.entry(step_id).record(index)
    if record is not None:
        after = kept(record.kind, after)
    return _set_record(journal, step_id, index, after=after, phase=RecordPhase.DONE)


def begin_undo(journal: Journal, step_id: str, index: int) -> Journal:
    """Record that write ``index`` is about to be undone."""
    return _set_record(journal, step_id, index, phase=RecordPhase.UNDO)


def undone(journal: Journal, step_id: str, index: int) -> Journal:
    """Record that write ``index`` was undone."""
    return _set_record(journal, step_id, index, phase=RecordPhase.UNDONE)


def finish(journal: Journal, step_id: str, state: StepState, at: str, message: str) -> Journal:
    """Close an operation on a step with its final state and a history line."""
    entry = journal.entry(step_id)
    return _put(journal, replace(entry, state=state, events=_log(entry, at, message)))


def begin_rollback(journal: Journal, step_id: str, at: str) -> Journal:
    """Start (or continue) rolling a step back.

    Raises :class:`JournalError` when nothing of the step was ever written."""
    entry = journal.entry(step_id)
    if entry.state is StepState.ROLLED_BACK:
        raise JournalError(f"step {step_id} is already rolled back")
    if entry.state is StepState.PENDING:
        raise JournalError(f"step {step_id} was never applied; nothing to roll back")
    return _put(journal, replace(entry, state=StepState.ROLLING_BACK,
                                 events=_log(entry, at, "rollback started")))


def undo_order(entry: StepEntry) -> list[Record]:
    """The records to undo, in order: object and label writes newest first, then restarts
    (pods must restart *after* their namespace lost the injection label, or they get a sidecar
    again)."""
    pending = [r for r in entry.records if r.phase is not RecordPhase.UNDONE]
    restarts = [r for r in pending if r.kind is WriteKind.RESTART]
    others = [r for r in pending if r.kind is not WriteKind.RESTART]
    return [*reversed(others), *restarts]


# --- what is shown ---------------------------------------------------------------------------


#: Annotations that decide what an object does, so a change to one is drift: Istio's
#: ``istio.io/dry-run`` turns an enforcing AuthorizationPolicy into one that denies nothing.
BEHAVIOUR_ANNOTATIONS: Final = ("istio.io/dry-run",)


def drift_view(kind: WriteKind, obj: Any) -> Any:
    """The part of an object that drift detection compares: spec, labels and the annotations
    that change what the object does (:data:`BEHAVIOUR_ANNOTATIONS`) for applied objects and
    namespaces, only the restartedAt annotation for restarts (controllers such as an HPA
    change other fields of a workload's spec), the whole text for GitOps files."""
    if obj is None or kind is WriteKind.FILE:
        return obj
    meta = obj.get("metadata") or {}
    if kind is WriteKind.RESTART:
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        return (template.get("annotations") or {}).get(RESTARTED_AT)
    annotations = meta.get("annotations") or {}
    return {"spec": obj.get("spec"), "labels": meta.get("labels") or {},
            **{k: annotations[k] for k in BEHAVIOUR_ANNOTATIONS if k in annotations}}


def drifted(record: Record, live: Any) -> bool:
    """True when the live object no longer matches what the step left (deleted objects stay
    deleted; a vanished applied object is drift)."""
    if record.phase is not RecordPhase.DONE:
        return False
    expected = None if record.kind is WriteKind.DELETE else record.after
    return bool(drift_view(record.kind, live) != drift_view(record.kind, expected))


def superseded_by(journal: Journal, step_id: str, record: Record,
                  _seen: frozenset[str] = frozenset()) -> tuple[str, Record] | None:
    """The step (and its record) that wrote ``record``'s object on top of what ``step_id``
    left there (its before-state is this record's after-state), if that step is still applied:
    the plan's own next move, not drift (``60-mesh-strict`` rewrites the mesh-wide policy of
    ``20-mesh-permissive``). The last of a chain when several stacked up."""
    if record.phase is not RecordPhase.DONE:
        return None
    seen = _seen | {step_id}
    for other_id, entry in sorted(journal.steps.items()):
        if other_id in seen or entry.state not in _DONE:
            continue
        for later in entry.records:
            if (later.target == record.target and later.phase is RecordPhase.DONE
                    and drift_view(later.kind, later.before)
                    == drift_view(record.kind, record.after)):
                return superseded_by(journal, other_id, later, seen) or (other_id, later)
    return None


def prerequisite_missing(record: Record, live: Any) -> str | None:
    """Why what a required step wrote no longer holds on the live object, or None. An object
    (an exception PeerAuthentication) must exist with the ``spec`` written; a namespace must
    still carry the labels the step set (and lack those it removed): other labels may change
    freely. Other kinds of writes are not prerequisites of a STRICT step."""
    if record.phase is not RecordPhase.DONE or record.kind not in (WriteKind.APPLY,
                                                                    WriteKind.LABEL):
        return None
    if live is None:
        return "was deleted since it was applied"
    if record.kind is WriteKind.APPLY:
        if live.get("spec") != (record.after or {}).get("spec"):
            return "was changed since it was applied (its spec differs)"
        return None
    wanted = ((record.desired or {}).get("metadata") or {}).get("labels") or {}
    labels = (live.get("metadata") or {}).get("labels") or {}
    wrong = [f"{key}={labels.get(key)!r} (the step set {value!r})"
             for key, value in sorted(wanted.items()) if labels.get(key) != value]
    return f"lost its labels: {', '.join(wrong)}" if wrong else None


def applied_dependents(journal: Journal, requires: Mapping[str, tuple[str, ...]],
                       step_id: str) -> list[str]:
    """The steps that need ``step_id`` (directly or through others) and are not undone in
    ``journal``: rolling ``step_id`` back under them would pull the floor from under applied
    steps (STRICT without sidecars). ``requires`` (step id -> the ids it requires) is the
    current plan's, in its order; the journal's own record of each step it holds counts too
    (:func:`recorded_requires`), so a step the plan no longer has (it was built without
    ``--authz``) is never missed. Plan steps come first, in plan order, then the others by
    id."""
    merged = {sid: set(needs) for sid, needs in requires.items()}
    for sid, needs in recorded_requires(journal, unplanned=set(journal.steps) - set(requires),
                                        ).items():
        merged.setdefault(sid, set()).update(needs)
    needed: dict[str, set[str]] = {}

    def closure(sid: str) -> set[str]:
        if sid not in needed:
            needed[sid] = set()
            for required in sorted(merged.get(sid, ())):
                needed[sid] |= {required, *closure(required)}
        return needed[sid]

    live = (StepState.PENDING, StepState.ROLLED_BACK)
    order = [*requires, *sorted(set(merged) - set(requires))]
    return [sid for sid in order if sid != step_id and step_id in closure(sid)
            and journal.state(sid) not in live]


def recorded_requires(journal: Journal, unplanned: Set[str]) -> dict[str, tuple[str, ...]]:
    """Step id -> the steps it required, as the journal recorded them when it was applied.
    A step of ``unplanned`` (the current plan lacks it) whose entry predates that record is
    taken to rest on every step first touched no later than its latest apply started
    (timestamps have seconds): without its plan, that is the only answer that never lets a
    rollback pull the floor from under it."""
    first = {sid: e.events[0].at for sid, e in journal.steps.items() if e.events}
    found: dict[str, tuple[str, ...]] = {}
    for sid, entry in journal.steps.items():
        if entry.requires is not None:
            found[sid] = entry.requires
        elif sid in unplanned and entry.events:
            starts = [e.at for e in entry.events if e.message.startswith("apply started")]
            latest = max(starts, default=entry.events[0].at)
            found[sid] = tuple(sorted(other for other, at in first.items()
                                      if other != sid and at <= latest))
    return found


def shown_state(entry: StepEntry, any_drift: bool = False,
                superseded: bool = False) -> StepState:
    """The state shown to users: interrupted operations are ``failed``; applied or verified
    steps whose objects changed since are ``drifted``, or ``superseded`` when every change is
    a later applied step's (:func:`superseded_by`)."""
    if entry.state in (StepState.APPLYING, StepState.ROLLING_BACK):
        return StepState.FAILED
    if entry.state in _DONE and any_drift:
        return StepState.DRIFTED
    if entry.state in _DONE and superseded:
        return StepState.SUPERSEDED
    return entry.state


def unplanned_note(entry: StepEntry) -> str:
    """For a journaled step the plan built now does not have: why (when the journal knows)
    and what still works without it."""
    if entry.step_id.startswith((DRY_RUN_PREFIX, ENFORCE_PREFIX)):
        return ("not in this plan: applied from a plan built with --authz (add --authz to "
                "apply or verify it); rollback works from the journal")
    return ("not in this plan as built now (other plan options?); rollback works from the "
            "journal")


#: How a staged enrollment's journal says where it stopped (the failed batch's event).
STAGED_STOP = "stopped at restart batch "


def interruption(entry: StepEntry) -> str | None:
    """What to do about an interrupted or failed step, or None. A failed step says why (its
    last event): for an enrollment stopped by a restart batch, which batch and workloads and
    why, and that ``--resume`` waits for that batch again."""
    if entry.state is StepState.APPLYING:
        return (f"interrupted during apply after {interrupted_writes(entry)} write(s): "
                f"`planner apply {entry.step_id} --resume --write` or `planner "
                f"rollback {entry.step_id} --write`")
    if entry.state is StepState.ROLLING_BACK:
        return (f"interrupted during rollback: run `planner rollback {entry.step_id} --write` "
                "again")
    if entry.state is StepState.FAILED and any(
            r.phase is not RecordPhase.UNDONE for r in entry.records):
        why = entry.events[-1].message if entry.events else ""
        if why.startswith(STAGED_STOP):
            return (f"{why}; the later batches were not restarted: fix that, then `planner "
                    f"apply {entry.step_id} --resume --write` waits for that batch again and "
                    f"goes on, or `planner rollback {entry.step_id} --write`")
        return (f"failed after {interrupted_writes(entry)} write(s)"
                + (f" ({why})" if why else "")
                + f": `planner apply {entry.step_id} --resume --write` or `planner "
                f"rollback {entry.step_id} --write`")
    return None


# --- wire format -----------------------------------------------------------------------------


def _steps_document(journal: Journal) -> dict[str, Any]:
    return {
        step_id: {
            "state": str(e.state),
            "planHash": e.plan_hash,
            "forced": list(e.forced),
            **({"gate": e.gate} if e.gate else {}),
            **({"requires": list(e.requires)} if e.requires is not None else {}),
            "records": [{"index": r.index, "kind": str(r.kind), "target": r.target,
                         "phase": str(r.phase), "before": r.before, "desired": r.desired,
                         "after": r.after} for r in e.records],
            "events": [{"at": ev.at, "message": ev.message} for ev in e.events],
        }
        for step_id, e in sorted(journal.steps.items())
    }


def _target_document(target: Target) -> dict[str, str]:
    if target.folder:
        return {"folder": target.folder}
    return {"uid": target.uid, "server": target.server, "context": target.context}


def to_document(journals: Journals | Journal) -> dict[str, Any]:
    """The journal file as a JSON-ready document (see docs/apply.md for the format)."""
    if isinstance(journals, Journal):
        journals = Journals().put(journals)
    return {
        "schemaVersion": SCHEMA_VERSION,
        "kind": JOURNAL_KIND,
        "targets": {
            key: {"target": _target_document(j.target), "steps": _steps_document(j)}
            for key, j in sorted(journals.by_target.items())
        },
    }


#: Why a format-1 journal is refused, and the way out (docs/apply.md, "Journal format").
FORMAT_1 = ("journal format 1 does not record which cluster its steps were applied to; if they "
            "were applied to the cluster (or --out folder) this command talks to, bind them to "
            "it with `planner status --migrate-journal` (same flags), else move the file away")


def from_document(doc: Any) -> Journals:
    """Read a document written by :func:`to_document`; :class:`JournalError` when it is not
    one (a format-1 journal included: :func:`migrate` converts it)."""
    if not isinstance(doc, dict) or doc.get("kind") != JOURNAL_KIND:
        raise JournalError(f"not a meshplan journal (kind is not {JOURNAL_KIND})")
    if doc.get("schemaVersion") == 1:
        raise JournalError(FORMAT_1)
    if doc.get("schemaVersion") != SCHEMA_VERSION:
        raise JournalError(f"journal schemaVersion {doc.get('schemaVersion')!r} is not "
                           f"supported (expected {SCHEMA_VERSION})")
    by_target: dict[str, Journal] = {}
    try:
        for raw in (doc.get("targets") or {}).values():
            who = raw["target"]
            target = Target(str(who.get("uid", "")), str(who.get("server", "")),
                            str(who.get("context", "")), str(who.get("folder", "")))
            if not (target.uid or target.folder):
                raise ValueError("a target without a cluster uid or a folder")
            by_target[target.key] = Journal(_steps_from(raw.get("steps")), target)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise JournalError(f"journal entry is malformed: {type(err).__name__}: {err}") from None
    return Journals(by_target)


def migrate(doc: Any, target: Target) -> Journals:
    """A format-1 document's steps, bound to ``target`` (the user says they were applied
    there); a format-2 document is read as it is. :class:`JournalError` otherwise."""
    if isinstance(doc, dict) and doc.get("kind") == JOURNAL_KIND and \
            doc.get("schemaVersion") == 1:
        try:
            return Journals().put(Journal(_steps_from(doc.get("steps")), target))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise JournalError(f"journal entry is malformed: {type(err).__name__}: "
                               f"{err}") from None
    return from_document(doc)


def _target(value: Any) -> str:
    """A record's target, which a rollback writes back to: a number there is no journal of
    ours, not a name to write (``str(5)`` made a rollback restore a file named ``5``)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"a record's target {value!r} is not a name")
    return value


def _steps_from(raw_steps: Any) -> dict[str, StepEntry]:
    steps: dict[str, StepEntry] = {}
    for step_id, raw in (raw_steps or {}).items():
        records = tuple(
            Record(int(r["index"]), WriteKind(r["kind"]), _target(r["target"]), r.get("before"),
                   r.get("desired"), r.get("after"), RecordPhase(r["phase"]))
            for r in raw.get("records") or [])
        events = tuple(Event(str(e["at"]), str(e["message"]))
                       for e in raw.get("events") or [])
        requires = raw.get("requires")
        steps[str(step_id)] = StepEntry(str(step_id), StepState(raw["state"]),
                                        str(raw.get("planHash", "")), records,
                                        tuple(str(f) for f in raw.get("forced") or []),
                                        events, str(raw.get("gate") or ""),
                                        None if requires is None else
                                        tuple(str(r) for r in requires))
    return steps
