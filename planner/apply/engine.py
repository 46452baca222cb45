"""Apply, verify and roll back plan steps, with a journal that survives any interruption.

One :class:`ApplySession` per plan and target (a cluster or a GitOps folder, see
:mod:`planner.apply.writer`). The flow of :meth:`ApplySession.apply`, all of it under the
journal's lock (:func:`~planner.apply.journal_file.journal_lock`), so that no other apply or
rollback reads or writes the journal, nor the objects' before-states, in between:

1. read-only check (``--write``), then the step's preconditions: for STRICT steps the steps in
   ``requires`` must be applied per the journal, and the plaintext gate must pass where a
   traffic source (a Prometheus or an export file, :class:`TrafficReader`) is configured;
   ``force`` overrides both and the journal records it;
2. a dry run of every write (``dryRun=All``): conflicts and validation errors surface before
   anything changes;
3. for each write: read the live object, save the intent (before-state and payload) in the
   journal, write, save the result. A process killed anywhere in between leaves a journal that
   ``resume`` (re-send the recorded payloads, all idempotent) and
   :meth:`ApplySession.rollback` (restore every recorded before-state) both complete.

Test-only hook: when ``PLANNER_TEST_CRASH_AFTER_WRITES=N`` is set, the process SIGKILLs itself
right after its N-th successful write and before journaling it as done (the worst moment), so
tests can prove crash recovery with a real killed process. Never set it elsewhere.

The journal entries used are those of the session's target only (the cluster's kube-system
UID, or the GitOps folder: :meth:`Writer.identity`); steps journaled for another target are
never taken for this one's, and are named when that is what the user may have meant.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias, runtime_checkable

from planner.apply.journal_file import (
    journal_lock,
    load_journal,
    load_journals,
    save_journal,
)
from planner.apply.writer import Planned, Stamp, Writer, parse_key, restart_payload
from planner.domain import journal as jr
from planner.domain import staging
from planner.domain.journal import (
    LOCK_WAIT_S,
    STEP_ANNOTATION,
    Journal,
    JournalError,
    Record,
    RecordPhase,
    StepState,
    Target,
    WriteKind,
)
from planner.domain.plan import GATED_PHASES, Phase, Plan, Scope, Step
from planner.domain.traffic import DECLARED, health_rose
from planner.errors import (
    ApplyError,
    GateRefused,
    MetricsError,
    OutcomeNotReached,
    PlannerError,
    ReadOnlyError,
)

if TYPE_CHECKING:
    from planner.domain.authz_rollout import ShadowDenials
    from planner.domain.outcomes import Outcome
    from planner.domain.traffic import GateResult, Health, TrafficSnapshot

CRASH_ENV: Final = "PLANNER_TEST_CRASH_AFTER_WRITES"
DRY_RUN_REFUSED: Final = "dry run refused: "
#: Traffic windows: 7 days before STRICT (weekly jobs count), 15 minutes to verify after it
#: (plaintext from before the step would otherwise fail its verification for a week).
GATE_WINDOW: Final = "7d"
VERIFY_WINDOW: Final = "15m"
#: Plaintext callers named in a refusal; the rest are counted (``planner plan`` lists all).
_CALLERS_SHOWN: Final = 5
#: Steps that turn on STRICT: the plaintext gate, and the post-apply check (--settle).
_STRICT_PHASES: Final = frozenset({Phase.STRICT, Phase.MESH_STRICT})
#: Steps with a gate: STRICT (plaintext) and authorization enforcement (would-be denials).
#: Steps whose ``requires`` are checked (journal and live) before they are applied.
_ORDERED_PHASES: Final = GATED_PHASES | {Phase.AUTHZ_DRY_RUN}
_VERBS: Final = {WriteKind.APPLY: "server-side apply", WriteKind.LABEL: "label (merge patch)",
                 WriteKind.RESTART: "restart (merge patch of restartedAt)",
                 WriteKind.DELETE: "delete", WriteKind.FILE: "write file"}

Progress = Callable[[str], None]
#: Rollout polls start fast (a small Deployment is done in seconds) and back off to this.
_FIRST_POLL_S: Final = 0.1
_MAX_POLL_S: Final = 2.0
DEFAULT_ROLLOUT_TIMEOUT_S: Final = staging.parse_duration(staging.DEFAULT_ROLLOUT_TIMEOUT)


@dataclass(frozen=True)
class RolloutTick:
    """One poll of one workload of a restart batch, for progress bars: ``ready`` of
    ``desired`` replicas updated and available, ``done`` once rolled out."""

    step_id: str
    batch: int
    batches: int
    workload: str
    ready: int
    desired: int
    done: bool
    message: str


RolloutWatch = Callable[[RolloutTick], None]
#: ``watch(waited, settle)``: seconds waited of the settle period, about once a second while a
#: STRICT step's post-apply check waits (a progress bar for a front end).
SettleWatch = Callable[[float, float], None]


@dataclass(frozen=True)
class _Staging:
    """How an apply stages its restarts: batch size, timeout per batch, who watches."""

    batch: str
    timeout_s: float
    watch: RolloutWatch | None


def _would(write: Planned, live: Any, unchanged: bool | None) -> str:
    """A preview's line for one write, in the conditional: nothing is written yet. Says
    whether the target is new, changed or already as planned (``unchanged`` None: the dry run
    was refused, so it is not known)."""
    target = show_target(write.target)
    if unchanged:
        return f"unchanged: {target}"
    verb = "create" if live is None else "update"
    if write.kind is WriteKind.FILE:
        return f"would {verb} file {target}"
    if write.kind is WriteKind.APPLY:
        return f"would {verb} {target} (server-side apply)"
    return f"would {_VERBS[write.kind]} {target}"


#: How a session judges its gated steps on a snapshot it read (and the shadow RBAC denials,
#: when read for an authorization enforce step): step id -> gate
#: (``planner.service.gates_on``, which knows the scan the plan was built from).
GateJudge: TypeAlias = ("Callable[[Plan, TrafficSnapshot, ShadowDenials | None], "
                        "Mapping[str, GateResult]]")


class TrafficReader(Protocol):
    """Where the plaintext gate reads observed traffic (``planner.service.TrafficSource``).

    ``read(window)`` returns the traffic over ``window`` (an export file covers its own span)
    or raises ``MetricsError``; ``label`` names the source in messages (``Prometheus``);
    ``window``, when set, replaces the engine's :data:`GATE_WINDOW` and :data:`VERIFY_WINDOW`.
    """

    @property
    def label(self) -> str: ...

    @property
    def window(self) -> str | None: ...

    def read(self, window: str) -> TrafficSnapshot: ...


@runtime_checkable
class HealthReader(Protocol):
    """A traffic source that can be read again after an apply (``TrafficSource`` with a
    Prometheus): ``rereadable`` says whether it can, ``health`` reads plaintext and failures
    into the namespaces over the last ``window`` or raises ``MetricsError``."""

    @property
    def rereadable(self) -> bool: ...

    def health(self, namespaces: Sequence[str], window: str) -> Health: ...


@runtime_checkable
class ShadowReader(Protocol):
    """A traffic source that can also read Envoy's shadow RBAC denials (a Prometheus): what
    the dry-run authorization policies would have denied. None from a source without them."""

    def shadow_denials(self, namespaces: Sequence[str],
                       window: str) -> ShadowDenials | None: ...


@dataclass(frozen=True)
class StepPreview:
    """What applying a step would do: a unified diff (live -> dry-run result), one line per
    change, and warnings (failed dry runs start with :data:`DRY_RUN_REFUSED`); ``refused`` is
    the first dry run the server refused, if any."""

    step_id: str
    diff: str
    changes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: str | None = None


@dataclass(frozen=True)
class StepOutcome:
    """The state a step is in after an operation, and what happened. ``failed`` says what a
    verification did not find: ``gate`` (the plaintext gate did not pass) or ``outcome``
    (not applied, drifted, or the cluster not in the state the step promises); empty when it
    passed."""

    step_id: str
    state: str
    messages: list[str] = field(default_factory=list)
    failed: str = ""
    check_failed: bool = False


@dataclass(frozen=True)
class LiveChanges:
    """Objects of an applied step that no longer hold what it wrote: ``drifted`` (changed by
    someone else) and ``superseded`` (rewritten by later applied steps: (step id, objects))."""

    drifted: tuple[str, ...] = ()
    superseded: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.drifted or self.superseded)

    def state(self, entry: jr.StepEntry) -> StepState:
        """The state to show for ``entry``."""
        return jr.shown_state(entry, bool(self.drifted), bool(self.superseded))

    def lines(self) -> list[str]:
        """One line per kind of change, naming the objects (and the superseding steps)."""
        lines = [f"superseded by {step}: {', '.join(objects)} rewritten by it"
                 for step, objects in self.superseded]
        if self.drifted:
            lines.append("drifted: changed since the apply by someone else: "
                         + ", ".join(self.drifted))
        return lines


def plan_hash(plan: Plan) -> str:
    """First 12 hex digits of the SHA-256 of the plan's JSON document, in its canonical form:
    how `planner plan -o json` lays the document out does not change the hash. The steps'
    what-ifs and the plan's cost are left out: they describe the cluster at the moment the plan
    was shown (what would break, how many replicas run), not what the plan does."""
    from dataclasses import replace

    from planner.sinks.plan_json import plan_document
    from planner.sinks.wire import canonical_json

    document = plan_document(replace(plan, what_if={}, cost=None))
    return hashlib.sha256(canonical_json(document)).hexdigest()[:12]


def require_write(write: bool) -> None:
    """Raise ReadOnlyError unless the session may change the target."""
    if not write:
        raise ReadOnlyError("read-only: add --write to change the cluster")


def gate_line(label: str, gate: GateResult) -> str:
    """``<label> gate <status>: <reason>``, naming the plaintext callers of a failing gate:
    they are what has to change before the step can go ahead."""
    line = f"{label} gate {gate.status}: {gate.reason}"
    if gate.status == "fail" and gate.offenders:
        shown = ", ".join(e.label() for e in gate.offenders[:_CALLERS_SHOWN])
        more = len(gate.offenders) - _CALLERS_SHOWN
        line += f"; plaintext from {shown}" + (f" and {more} more" if more > 0 else "")
    if gate.proof:
        line += f"; {gate.proof}"
    return line


def settle_window(settle_s: float) -> str:
    """The Prometheus duration of a settle period (whole seconds, at least one)."""
    return f"{max(math.ceil(settle_s), 1)}s"


def _settle(settle_s: float, watch: SettleWatch | None) -> None:
    """Wait ``settle_s`` seconds, telling ``watch`` how far along about once a second."""
    start = time.monotonic()
    while (waited := time.monotonic() - start) < settle_s:
        if watch is not None:
            watch(waited, settle_s)
        time.sleep(min(1.0, settle_s - waited))
    if watch is not None:
        watch(settle_s, settle_s)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def show_target(target: str) -> str:
    """A record target for people: ``Kind namespace/name`` or the file path."""
    if ":" not in target:
        return target
    _, kind, namespace, name = parse_key(target)
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


class ApplySession:
    """Apply, roll back, verify and report the steps of ``plan`` on ``writer``'s target.

    Every method raises ApplyError (ReadOnlyError without ``write``; GateRefused when a gate
    refuses) or ClusterError; the journal at ``journal_path`` is read at the start of each
    operation, so several sessions (CLI runs, the TUI) see each other's work; apply and
    rollback hold its lock throughout (waiting up to ``lock_wait_s`` for another holder;
    ``caller`` names this one in the refusal a second run gets). ``traffic`` is read afresh by
    every gate check: the TUI keeps one session open for a long time."""

    def __init__(self, plan: Plan, writer: Writer, *, write: bool, journal_path: str,
                 traffic: TrafficReader | None = None, gates: GateJudge | None = None,
                 source: str = "",
                 lock_wait_s: float = LOCK_WAIT_S, caller: str = "planner",
                 unread: tuple[str, ...] = ()) -> None:
        self.plan = plan
        self.writer = writer
        self.write_enabled = write
        self.journal_path = journal_path
        self.traffic = traffic
        self.gates = gates
        self.source = source
        self.plan_hash = plan_hash(plan)
        self.lock_wait_s = lock_wait_s
        self.caller = caller
        self.unread = frozenset(unread)
        self._writes = 0
        self._target: Target | None = None

    @property
    def target(self) -> Target:
        """The cluster (or folder) this session changes, as the journal files it."""
        if self._target is None:
            self._target = self.writer.identity()
        return self._target

    @property
    def _current(self) -> str:
        """How a diff names the state it starts from: ``live`` is read from a cluster; a
        folder's files are only what they say now (nothing about a folder is called live)."""
        return "in the folder" if self.target.folder else "live"

    def _journal(self) -> Journal:
        return load_journal(self.journal_path, self.target)

    def _save(self, journal: Journal) -> None:
        save_journal(self.journal_path, journal)

    def _locked(self, what: str) -> Any:
        """The journal's lock, for the length of an operation that writes it (the holder is
        named to whoever waits: what it does, to which target)."""
        return journal_lock(self.journal_path, f"{self.caller} {what} on {self.target.label()}",
                            self.lock_wait_s)

    def journal_note(self) -> str | None:
        """One line when the journal holds steps of other targets (they are not shown)."""
        others = load_journals(self.journal_path).others(self.target)
        if not others:
            return None
        shown = "; ".join(f"{j.target.label()}: {len(j.steps)} step(s)" for j in others[:3])
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        return (f"journal {self.journal_path} also holds steps of other targets, not shown and "
                f"never used here ({shown}{more}); this is {self.target.label()}")

    def close(self) -> None:
        """Release the writer's connections."""
        self.writer.close()

    def __enter__(self) -> ApplySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- preview ---------------------------------------------------------------------------

    def preview(self, step_id: str, *, force_conflicts: bool = False) -> StepPreview:
        """Dry-run every write of the step and diff it against the live objects. Nothing is
        stored, so this works without ``write``."""
        step = self._step(step_id)
        planned, warnings = self.writer.planned(step, Stamp(step_id, self.plan_hash, _now()))
        journals = load_journals(self.journal_path)
        journal = journals.of(self.target)
        state = journal.state(step_id)
        if state in (StepState.APPLIED, StepState.VERIFIED):
            warnings.append(f"step {step_id} is already {state}")
        elif (elsewhere := journals.elsewhere(self.target, step_id)) is not None:
            warnings.append(elsewhere)
        warnings.extend(self._unmet(step, journal))
        warnings.extend(f"not ready: {m}" for m in self.live_prerequisites(step, journal))
        warnings.extend(self.unseen(planned))
        diffs: list[str] = []
        changes: list[str] = []
        for write in planned:
            live = self.writer.read(write.kind, write.target)
            try:
                result = self.writer.dry_run(write, force_conflicts=force_conflicts)
            except ApplyError as err:
                changes.append(_would(write, live, None))
                warnings.append(DRY_RUN_REFUSED + str(err))
                continue
            changes.append(_would(write, live, self.writer.render(live) == self.writer.render(
                result)))
            # The parts the step touches, as the journal keeps them: a restart's diff shows
            # the template annotations, not the workload's env and its credentials.
            diffs.extend(difflib.unified_diff(
                self.writer.render(jr.kept(write.kind, live)).splitlines(keepends=True),
                self.writer.render(jr.kept(write.kind, result)).splitlines(keepends=True),
                fromfile=f"{self._current}: {show_target(write.target)}",
                tofile=f"after: {show_target(write.target)}"))
        if not planned:
            warnings.append(f"step {step_id} changes nothing: applying it records it as done")
        refused = next((w for w in warnings if w.startswith(DRY_RUN_REFUSED)), None)
        return StepPreview(step_id, "".join(diffs), changes, warnings, refused)

    # --- apply -----------------------------------------------------------------------------

    def apply(self, step_id: str, *, force: bool = False, resume: bool = False,
              force_conflicts: bool = False, progress: Progress | None = None,
              no_gate: bool = False, settle_s: float | None = None,
              auto_rollback: bool = False, batch: str = staging.DEFAULT_BATCH,
              rollout_timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S,
              watch: RolloutWatch | None = None,
              settle_watch: SettleWatch | None = None) -> StepOutcome:
        """Apply the step (module docstring). An applied step is left alone.

        A STRICT step with no traffic source is refused unless ``no_gate`` (recorded as gate
        mode ``none``). With ``settle_s`` and a source that can be read again (Prometheus),
        a STRICT step is checked after the writes: wait ``settle_s`` seconds (Istio pushes the
        policy to the proxies asynchronously), read plaintext and connection failures into
        its namespaces over that time, and compare with the same figures before the writes;
        when they rose, the outcome has ``check_failed`` and, with ``auto_rollback``, the
        step is rolled back. ``settle_watch`` sees the wait about once a second.

        Restarts go in batches of ``batch`` (``25%`` of the step's restarts, or a count); on a
        cluster each batch must roll out within ``rollout_timeout_s`` with the data plane in
        its new pods before the next starts (``watch`` sees every poll). A batch that does not
        stops the step (``failed``, the journal says which batch and why) with
        OutcomeNotReached; ``resume`` waits for that batch again and goes on."""
        require_write(self.write_enabled)
        step = self._step(step_id)
        with self._locked(f"apply {step_id}"):
            return self._apply(step, force=force, resume=resume,
                               force_conflicts=force_conflicts, progress=progress,
                               no_gate=no_gate, settle_s=settle_s, auto_rollback=auto_rollback,
                               staged=_Staging(batch, rollout_timeout_s, watch),
                               settle_watch=settle_watch)

    def _apply(self, step: Step, *, force: bool, resume: bool, force_conflicts: bool,
               progress: Progress | None, no_gate: bool, settle_s: float | None,
               auto_rollback: bool, staged: _Staging,
               settle_watch: SettleWatch | None = None) -> StepOutcome:
        step_id = step.id
        journal = self._journal()
        entry = journal.entry(step_id)
        if entry.state in (StepState.APPLIED, StepState.VERIFIED):
            # Said through progress too: a run that waited for the lock must say it did nothing.
            line = (f"step {step_id} is already {self._shown(entry.state)} on "
                    f"{self.target.label()}; nothing to do")
            if progress is not None:
                progress(line)
            return StepOutcome(step_id, str(self._shown(entry.state)), [line])
        forced, gate_mode = self._preconditions(step, journal, force, no_gate)
        checked: list[str] = []
        if step.phase is Phase.PREREQUISITES:
            forced, checked = self._control_plane_ready(step, forced, force)
        if step.phase is Phase.AUTHZ_ENFORCE and (settle_s is not None or auto_rollback):
            # Istio's health figures count 503s and resets, not the 403s a denial answers:
            # they cannot tell whether enforcing hurt anyone.
            checked.append(f"{step.id}: no post-apply check for an authorization step (--settle "
                           "and --auto-rollback are for STRICT steps); run `planner verify "
                           f"{step.id} --prometheus URL` after it")
        gated = step.phase in _STRICT_PHASES
        if gated and auto_rollback and self.writer.probe is None:
            raise ApplyError(f"--auto-rollback needs a cluster: {self.writer.label} only gets "
                             "the files, which reach the cluster when it syncs; verify the step "
                             "there afterwards (`planner verify STEP --prometheus URL`)")
        if gated and auto_rollback and (settle_s is None or self._health_reader(step) is None):
            raise ApplyError("--auto-rollback needs the post-apply check: a --settle period and "
                             "a traffic source that can be read again after the apply "
                             "(--prometheus; an export file cannot)")
        baseline = self._baseline(step, settle_s)
        unchecked = (gated and settle_s is not None and self.traffic is not None
                     and baseline is None)
        stamp = Stamp(step_id, self.plan_hash, _now())
        planned, warnings = self.writer.planned(step, stamp)
        unseen = self.unseen(planned)
        if unseen and not force:
            raise ApplyError(f"{unseen[0]}; grant the meshplan-scan role (docs/rbac.yaml) and "
                             "scan again, or use --force (recorded in the journal)")
        forced = (*forced, *unseen)
        try:
            journal = jr.begin_apply(journal, step_id, self.plan_hash, _now(), resume=resume,
                                     forced=forced, requires=step.requires)
            if gate_mode:
                journal = jr.set_gate(journal, step_id, gate_mode)
        except JournalError as err:
            raise ApplyError(str(err)) from None
        entry = journal.entry(step_id)
        planned = self._resumable(entry, planned)
        if not entry.records:
            for write in planned:  # every write validated before the first one happens
                self.writer.dry_run(write, force_conflicts=force_conflicts)
        self._save(journal)
        messages = [*warnings, *checked, *(f"forced: {f}" for f in forced)]
        if progress is not None:
            for line in checked:
                progress(line)
        if unchecked:
            why = ("the files reach the cluster only when it syncs" if self.writer.probe is None
                   else "a traffic export cannot be read again")
            messages.append(f"no post-apply check: {why}; check the step with `planner verify "
                            f"{step_id} --prometheus URL`"
                            + (" once it has synced" if self.writer.probe is None else ""))
        order = staging.stages([w.kind is WriteKind.RESTART for w in planned], staged.batch)
        batches = [s for s in order if planned[s[0]].kind is WriteKind.RESTART]
        for stage in order:
            for index in stage:
                journal = self._write(journal, step_id, index, planned[index],
                                      force_conflicts, messages, progress)
            if stage in batches and self.writer.probe is not None:
                journal = self._staged(journal, step, [planned[i] for i in stage],
                                       (batches.index(stage) + 1, len(batches)), staged,
                                       progress, retry=resume)
        journal = jr.finish(journal, step_id, StepState.APPLIED, _now(),
                            f"applied {len(planned)} write(s)")
        self._save(journal)
        if gate_mode == jr.GATE_NONE:
            messages.append("applied without gate (--no-gate): no traffic source checked "
                            "for plaintext callers")
        if baseline is None or settle_s is None:
            return StepOutcome(step_id, str(self._shown(StepState.APPLIED)), messages)
        return self._post_apply(step, baseline, settle_s, auto_rollback, messages, progress,
                                settle_watch)

    # --- after a STRICT apply --------------------------------------------------------------

    def _health_reader(self, step: Step) -> HealthReader | None:
        """The source the post-apply check re-reads; None when there is none to re-read, or
        no cluster the step reached (GitOps: the files reach it when it syncs)."""
        reader = self.traffic
        if step.phase not in _STRICT_PHASES or not isinstance(reader, HealthReader) \
                or not reader.rereadable or self.writer.probe is None:
            return None
        return reader

    def _gate_namespaces(self, step: Step) -> list[str]:
        if step.phase is Phase.MESH_STRICT:
            return sorted({f.name for f in self.plan.namespaces if f.mode != "outside"})
        return [step.target.namespace]

    def _baseline(self, step: Step, settle_s: float | None) -> Health | None:
        """Plaintext and failures into the step's namespaces over the settle period before
        the writes: what the post-apply check compares with. None when there is no check
        (no ``settle_s``, not a STRICT step, or a source that cannot be read again)."""
        reader = self._health_reader(step)
        if settle_s is None or reader is None:
            return None
        try:
            return reader.health(self._gate_namespaces(step), settle_window(settle_s))
        except MetricsError as err:
            raise ApplyError(f"post-apply check: cannot read the traffic before the step "
                             f"(nothing written): {err}") from None

    def _post_apply(self, step: Step, before: Health, settle_s: float, auto_rollback: bool,
                    messages: list[str], progress: Progress | None,
                    settle_watch: SettleWatch | None = None) -> StepOutcome:
        """Wait ``settle_s``, re-read, compare with ``before``; roll back on a rise with
        ``auto_rollback``. An unreadable source after the apply fails the check."""
        reader = self._health_reader(step)
        assert reader is not None  # a baseline was read, so the source can be read again
        namespaces = self._gate_namespaces(step)
        wait = (f"waiting {settle_s:g}s for Istio to push the policy to the proxies "
                "(--settle)")
        messages.append(wait)
        if progress is not None:
            progress(wait)
        _settle(settle_s, settle_watch)
        try:
            after = reader.health(namespaces, settle_window(settle_s))
            risen = health_rose(before, after)
        except MetricsError as err:
            risen = [f"traffic could not be read after the apply: {err}"]
        where = ", ".join(namespaces)
        if not risen:
            line = (f"post-apply check passed: no rise in plaintext or connection failures "
                    f"into {where} over {settle_s:g}s")
            self._log_check(step.id, line)
            return StepOutcome(step.id, str(StepState.APPLIED), [*messages, line])
        line = f"post-apply check failed: into {where}, " + "; ".join(risen)
        self._log_check(step.id, line)
        if not auto_rollback:
            return StepOutcome(step.id, str(StepState.APPLIED),
                               [*messages, line, f"roll it back with `planner rollback "
                                f"{step.id} --write`, or apply with --auto-rollback"],
                               check_failed=True)
        if progress is not None:
            progress("rolling back (--auto-rollback)")
        # Still under this apply's lock: nothing else touches the step in between.
        undone = self._rollback(step.id, progress)
        return StepOutcome(step.id, undone.state,
                           [*messages, line, "rolled back (--auto-rollback)", *undone.messages],
                           check_failed=True)

    def _log_check(self, step_id: str, line: str) -> None:
        journal = self._journal()
        self._save(jr.finish(journal, step_id, journal.state(step_id), _now(), line))

    def _write(self, journal: Journal, step_id: str, index: int, write: Planned,
               force_conflicts: bool, messages: list[str],
               progress: Progress | None) -> Journal:
        """Write ``index`` of the step, journaled before (intent) and after (done); skipped
        when the journal has it done (a resume). Returns the journal as saved."""
        record = journal.entry(step_id).record(index)
        if record is not None and record.phase is RecordPhase.DONE:
            return journal
        if record is None:
            before = self.writer.read(write.kind, write.target)
            journal = jr.intend(journal, step_id, Record(index, write.kind, write.target,
                                                         before, write.desired))
            self._save(journal)
        try:
            after = self.writer.write(write, force_conflicts=force_conflicts)
        except PlannerError as err:
            journal = jr.finish(journal, step_id, StepState.FAILED, _now(),
                                f"failed at write {index + 1}: {err}")
            self._save(journal)
            raise
        self._wrote()
        journal = jr.done(journal, step_id, index, after)
        self._save(journal)
        line = f"{_VERBS[write.kind]} {show_target(write.target)}"
        messages.append(line)
        if progress is not None:
            progress(line)
        return journal

    def _staged(self, journal: Journal, step: Step, batch: list[Planned],
                position: tuple[int, int], staged: _Staging, progress: Progress | None,
                *, retry: bool) -> Journal:
        """Wait for one batch of restarts to roll out with its data plane. On a resume
        (``retry``), workloads that rolled out without it (the injector was fixed since) are
        restarted once more, their journaled before-state kept. A batch that does not make it
        fails the step: the journal says which batch and why, and OutcomeNotReached says it
        to the user."""
        number, total = position
        failure, bare = self._await(step, batch, position, staged, progress)
        if failure and retry and bare:
            # Microseconds: a retry within the second of the first restart must still change
            # the template, or no rollout happens.
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for write in (w for w in batch if w.target in bare):
                index = next(r.index for r in journal.entry(step.id).records
                             if r.target == write.target)
                record = journal.entry(step.id).record(index)
                assert record is not None
                desired = restart_payload(stamp)
                journal = jr.intend(journal, step.id, Record(index, write.kind, write.target,
                                                             record.before, desired))
                self._save(journal)
                journal = self._write(journal, step.id, index,
                                      Planned(write.kind, write.target, desired),
                                      False, [], progress)
            failure, _ = self._await(step, batch, position, staged, progress)
        if not failure:
            return journal
        where = (f"{jr.STAGED_STOP}{number} of {total} "
                 f"({', '.join(show_target(w.target) for w in batch)}): {failure}")
        journal = jr.finish(journal, step.id, StepState.FAILED, _now(), where)
        self._save(journal)
        raise OutcomeNotReached(
            f"{step.id} {where}; the later batches were not restarted. Fix it, then "
            f"`planner apply {step.id} --resume --write` waits for this batch again and goes on, "
            f"or `planner rollback {step.id} --write` undoes the step")

    def _await(self, step: Step, batch: list[Planned], position: tuple[int, int],
               staged: _Staging, progress: Progress | None) -> tuple[str, set[str]]:
        """Poll the batch's workloads until each rolled out with the data plane in its
        current pods (``kubectl rollout status``, then the pods), a rollout fails, or the
        timeout passes. Returns why it failed (empty: it did not) and the targets that rolled
        out without the data plane."""
        from planner.domain import outcomes as oc

        probe = self.writer.probe
        assert probe is not None  # only a cluster restarts workloads
        namespace = step.target.namespace
        mode = oc.enrollment_mode(self.plan, namespace)
        pending = {w.target: parse_key(w.target) for w in batch}
        last: dict[str, str] = {}
        bare: dict[str, str] = {}  # rolled out without the data plane, and how
        deadline = time.monotonic() + staged.timeout_s
        pause = _FIRST_POLL_S
        while True:
            pods: list[dict[str, Any]] | None = None
            for target, (_, kind, ns, name) in list(pending.items()):
                obj = probe.workload(kind, ns, name)
                if obj is None:
                    return f"{kind} {ns}/{name} no longer exists", set()
                rollout = oc.rollout_status(obj)
                last[target] = rollout.message
                ready = rollout.desired if rollout.done else min(rollout.updated,
                                                                 rollout.available)
                if staged.watch is not None:
                    staged.watch(RolloutTick(step.id, *position, f"{kind} {ns}/{name}",
                                             ready, rollout.desired, rollout.done,
                                             rollout.message))
                if rollout.failed:
                    return f"{rollout.message} ({rollout.failed})", set()
                if not rollout.done:
                    continue
                del pending[target]
                if mode == "sidecar":
                    pods = probe.pods(ns) if pods is None else pods
                    outcome = oc.workload_outcome(obj, pods, mode)
                    if not outcome.ok:
                        bare[target] = outcome.straggler(mode)
                        continue
                if progress is not None:
                    progress(f"rolled out {kind} {ns}/{name} ({rollout.desired} replica(s)"
                             + (", istio-proxy in every pod" if mode == "sidecar" else "")
                             + f"; batch {position[0]} of {position[1]})")
            if bare:
                return ("; ".join(bare.values()) + " after rolling out; "
                        + probe.injector_check(namespace).detail), set(bare)
            if not pending:
                return "", set()
            if time.monotonic() >= deadline:
                return (f"not rolled out within {staged.timeout_s:g}s (--rollout-timeout): "
                        + "; ".join(last[t] for t in pending)), set()
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, _MAX_POLL_S)

    def _resumable(self, entry: jr.StepEntry, planned: list[Planned]) -> list[Planned]:
        """The writes to do: the recorded ones first, with their recorded payloads (resending
        exactly what may already have been written keeps a resume idempotent), then the
        plan's writes the journal does not have. A re-scan plans no restart for a workload
        already running its sidecar, so restarts done before the interruption may be gone
        from the plan: they stay recorded. ApplyError when any other write changed."""
        recorded = sorted(entry.records, key=lambda r: r.index)
        if not recorded:
            return list(planned)
        targets = {r.target for r in recorded}
        planned_targets = {w.target for w in planned}
        changed = [r.target for r in recorded
                   if r.kind is not WriteKind.RESTART and r.target not in planned_targets]
        if any(r.kind is WriteKind.RESTART for r in recorded):
            changed += [w.target for w in planned
                        if w.kind is not WriteKind.RESTART and w.target not in targets]
        if changed or [r.index for r in recorded] != list(range(len(recorded))):
            what = show_target(changed[0]) if changed else "the recorded writes"
            raise ApplyError(f"step {entry.step_id} changed since the interrupted apply "
                             f"({what} no longer matches the plan); roll it back instead")
        return [*(Planned(r.kind, r.target, r.desired) for r in recorded),
                *(w for w in planned if w.target not in targets)]

    def _wrote(self) -> None:
        self._writes += 1
        limit = os.environ.get(CRASH_ENV)
        if limit and self._writes == int(limit):
            os.kill(os.getpid(), signal.SIGKILL)

    # --- preconditions ---------------------------------------------------------------------

    def _unmet(self, step: Step, journal: Journal) -> list[str]:
        """Why a STRICT or authorization step may not be applied yet, per the journal."""
        if step.phase not in _ORDERED_PHASES:
            return []
        missing = [r for r in step.requires
                   if journal.state(r) not in (StepState.APPLIED, StepState.VERIFIED)]
        if not missing:
            return []
        return [f"step {step.id} requires {', '.join(missing)} to be applied first (journal "
                f"{self.journal_path})"]

    def _preconditions(self, step: Step, journal: Journal, force: bool,
                       no_gate: bool = False) -> tuple[tuple[str, ...], str]:
        """Check requires (per the journal, then live) and the gate; returns what ``force``
        overrode and how the gate was met (a :data:`planner.domain.journal.GATE_MODES` value,
        empty without a gate)."""
        forced = self._unmet(step, journal)
        if forced and not force:
            raise ApplyError(f"{forced[0]}; use --force to apply anyway")
        missing = self.live_prerequisites(step, journal)
        if missing and not force:
            raise OutcomeNotReached(
                f"step {step.id} is not ready on {self.target.label()}: {missing[0]}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                + "; fix that (re-apply, resume or roll back the step named, or restart the "
                "workloads named), or use --force (recorded in the journal)")
        forced.extend(f"live prerequisite: {m}" for m in missing)
        if step.phase not in GATED_PHASES:
            return tuple(forced), ""
        if self.traffic is None:
            if not no_gate:
                does, check = (("enforces authorization", "would-be denials")
                               if step.phase is Phase.AUTHZ_ENFORCE
                               else ("turns on STRICT", "plaintext callers"))
                raise GateRefused(
                    f"step {step.id} {does} and no traffic source gates it: give "
                    f"--prometheus URL or --traffic FILE to check for {check}, or "
                    "--no-gate to apply it without a gate (recorded in the journal)")
            return tuple(forced), jr.GATE_NONE
        if no_gate:
            raise ApplyError("--no-gate and a traffic source exclude each other: the gate "
                             "runs whenever a source is given")
        gate = self._gate(step, GATE_WINDOW)
        if gate is not None and gate.status != "pass":
            reason = gate_line(self.traffic.label, gate)
            if not force:
                raise GateRefused(f"{reason}; use --force to apply anyway (it is recorded "
                                  "in the journal)")
            forced.append(reason)
            return tuple(forced), jr.GATE_FORCED
        if gate is not None and gate.evidence == DECLARED:
            return tuple(forced), jr.GATE_TRUSTED  # the user's --trust-declared, recorded
        return tuple(forced), jr.GATE_PASSED

    def unseen(self, planned: list[Planned]) -> list[str]:
        """Why writes of a kind the scan could not read (403) are refused: the plan could not
        see what was there, so neither the step nor its rollback rests on facts."""
        kinds = sorted({parse_key(w.target)[1] for w in planned if ":" in w.target}
                       & self.unread)
        return [f"step writes {kind} objects, which the scan could not read: its plan and "
                "rollback rest on what it could not see" for kind in kinds]

    def live_prerequisites(self, step: Step, journal: Journal) -> list[str]:
        """What a STRICT step needs, read from the live cluster rather than trusted from the
        journal: every object and namespace label its required steps wrote must still hold
        (an exception PeerAuthentication deleted by hand, an injection label removed, would
        otherwise go STRICT unnoticed). One line per problem; empty when ready, for steps
        without a gate, and for requirements the journal does not show as applied (those are
        :meth:`_unmet`). An object a later applied step rewrote (superseded) is not missing.
        Authorization steps are checked alike (the dry-run policies before enforcing them).

        On a cluster, the pods too: every workload in the step's scope (its namespace, its
        workload, or every enrolled namespace for the mesh-wide step) must run the data plane
        its namespace is enrolled to in every current pod (:meth:`_dataplane_missing`)."""
        if step.phase not in _ORDERED_PHASES:
            return []
        missing: list[str] = []
        for required in step.requires:
            entry = journal.entry(required)
            if entry.state not in (StepState.APPLIED, StepState.VERIFIED):
                continue
            for record in entry.records:
                if record.kind not in (WriteKind.APPLY, WriteKind.LABEL):
                    continue
                live = self.writer.read(record.kind, record.target)
                why = jr.prerequisite_missing(record, live)
                later = jr.superseded_by(journal, required, record) if why else None
                if why and (later is None or jr.drifted(later[1], live)):
                    missing.append(f"{show_target(record.target)} of {required} {why}")
        return [*missing, *self._dataplane_missing(step)]

    def _dataplane_missing(self, step: Step) -> list[str]:
        """The workloads in a STRICT step's scope whose pods do not run the data plane their
        namespace is enrolled to (sidecar: istio-proxy in every current pod; ambient: the
        namespace label, ztunnel, and every pod redirected), read live: STRICT would cut
        those pods off. One line per namespace, naming the stragglers (the enrollment's
        outcome check, :meth:`ClusterProbe.enrollment`); nothing without a cluster."""
        probe = self.writer.probe
        if probe is None:
            return []
        from planner.domain import outcomes as oc

        workload = step.target.name if step.target.scope is Scope.WORKLOAD else ""
        lines = []
        for namespace in self._gate_namespaces(step):
            mode = oc.enrollment_mode(self.plan, namespace)
            if mode == "outside":
                continue
            outcome = probe.enrollment(namespace, mode, workload)
            if not outcome.reached:
                lines.append(f"pods of {namespace} not all on the {mode} data plane: "
                             f"{outcome.summary()}")
        return lines

    def _control_plane_ready(self, step: Step, forced: tuple[str, ...],
                             force: bool) -> tuple[tuple[str, ...], list[str]]:
        """The prerequisites read live (istiod, Istio APIs, injector or ztunnel, root
        namespace): OutcomeNotReached unless they hold or ``force`` (then recorded). Returns
        the forced reasons and the check lines. Without a cluster (GitOps) there is nothing
        to read: a line says so."""
        outcome = self._outcome(step)
        if outcome is None:
            return forced, [f"{step.id}: not checked: {self.writer.label} has no cluster to "
                            "read Istio from"]
        lines = [check.line() for check in outcome.checks]
        if outcome.reached:
            return forced, lines
        reason = f"Istio is not ready on {self.writer.label}: {outcome.summary()}"
        if not force:
            raise OutcomeNotReached(f"{step.id}: {reason}; install Istio first (or --force, "
                                    "recorded in the journal)")
        return (*forced, reason), lines

    def _outcome(self, step: Step) -> Outcome | None:
        """What the step promises, read live: the control plane for the prerequisites, the
        workloads' data plane for an enrollment; None for other steps (their objects, checked
        for drift, are their outcome) and without a cluster."""
        probe = self.writer.probe
        if probe is None:
            return None
        from planner.domain import outcomes as oc

        if step.phase is Phase.PREREQUISITES:
            return probe.control_plane(self.plan.root_namespace, oc.dataplane_needs(self.plan))
        if step.phase is Phase.ENROLL:
            namespace = step.target.namespace
            return probe.enrollment(namespace, oc.enrollment_mode(self.plan, namespace))
        return None

    def _gate(self, step: Step, window: str) -> GateResult | None:
        """The gate of a STRICT or authorization enforce step, when a traffic source is
        configured: the same evaluation as ``planner plan`` (``gates``: the what-if of a STRICT
        step at its place in the plan, or the would-be denials of an enforce step with the
        shadow RBAC counters of a source that has them, on the traffic read now). An
        unreadable source, or no judge to read it with, is evidence missing: ``unknown``,
        which blocks like ``fail``."""
        if self.traffic is None or step.phase not in GATED_PHASES:
            return None
        from planner.domain.traffic import GateResult

        if self.gates is None:
            return GateResult("unknown", "no gate evaluator was given to this session")
        shadow = None
        try:
            snapshot = self.traffic.read(self.traffic.window or window)
            if step.phase is Phase.AUTHZ_ENFORCE and isinstance(self.traffic, ShadowReader):
                shadow = self.traffic.shadow_denials([step.target.namespace],
                                                     self.traffic.window or window)
        except MetricsError as err:
            return GateResult("unknown", str(err))
        return self.gates(self.plan, snapshot, shadow).get(step.id)

    # --- rollback --------------------------------------------------------------------------

    def rollback(self, step_id: str, *, cascade: bool = False,
                 progress: Progress | None = None) -> StepOutcome:
        """Restore every object the step wrote to its journaled before-state (creations are
        deleted), newest first, restarts last. Idempotent: rerun it after an interruption.

        Refused (ApplyError naming them) while later steps of the plan that need this one are
        applied here; ``cascade`` rolls those back first, latest first."""
        require_write(self.write_enabled)
        with self._locked(f"rollback {step_id}"):
            journal = self._journal()
            order = self._rollback_order(step_id, journal, cascade)
            messages: list[str] = []
            outcome = StepOutcome(step_id, str(journal.state(step_id)))
            for sid in order:
                outcome = self._rollback(sid, progress)
                messages.extend(outcome.messages)
                if sid != step_id:
                    messages.append(f"rolled back {sid} first: it depends on {step_id}")
            return StepOutcome(step_id, outcome.state, messages)

    def dependents(self, step_id: str, journal: Journal | None = None) -> list[str]:
        """The later steps of the plan that need ``step_id`` and are applied (or half-applied)
        on this target, in plan order."""
        requires = {s.id: s.requires for s in self.plan.steps}
        return jr.applied_dependents(journal or self._journal(), requires, step_id)

    def _rollback_order(self, step_id: str, journal: Journal, cascade: bool) -> list[str]:
        """``step_id``, after its applied dependents (latest first) with ``cascade``; without
        it, ApplyError naming them while there are any."""
        dependents = self.dependents(step_id, journal)
        if dependents and not cascade:
            named = ", ".join(f"{d} ({jr.shown_state(journal.entry(d))})" for d in dependents)
            raise ApplyError(f"cannot roll back {step_id}: {named} depend(s) on it on "
                             f"{self.target.label()}; roll them back first, or add --cascade "
                             "to roll them back too, latest first")
        return [*reversed(dependents), step_id]

    def rollback_preview(self, step_id: str, *, cascade: bool = False) -> StepPreview:
        """The diff a rollback will make (live -> the journal's before-state), without
        changing anything: with ``cascade`` its applied dependents' first, in the order the
        rollback takes. ``refused`` says why the rollback itself would refuse (dependents
        without ``cascade``, nothing applied here)."""
        journals = load_journals(self.journal_path)
        journal = journals.of(self.target)
        warnings: list[str] = []
        refused: str | None = None
        try:
            order = self._rollback_order(step_id, journal, cascade)
        except ApplyError as err:
            refused = str(err)
            order = [step_id]
        diffs: list[str] = []
        changes: list[str] = []
        for sid in order:
            entry = journal.entry(sid)
            if entry.state is StepState.ROLLED_BACK:
                warnings.append(f"step {sid} is already rolled back")
                continue
            if entry.state is StepState.PENDING:
                refused = refused or (journals.elsewhere(self.target, sid) or
                                      f"step {sid} was never applied to "
                                      f"{self.target.label()}") + ": nothing to roll back here"
                continue
            for record in jr.undo_order(entry):
                live = self.writer.read(record.kind, record.target)
                restored = self.writer.restored(record, live)
                if jr.drifted(record, live):
                    warnings.append(f"{show_target(record.target)} changed since {sid} was "
                                    "applied; the rollback restores its before-state anyway")
                verb = "delete" if restored is None and live is not None else "restore"
                # Conditional, as apply's preview: a dry run has changed nothing.
                changes.append(f"{sid}: would {verb} {show_target(record.target)}")
                diffs.extend(difflib.unified_diff(
                    self.writer.render(live).splitlines(keepends=True),
                    self.writer.render(restored).splitlines(keepends=True),
                    fromfile=f"{self._current}: {show_target(record.target)}",
                    tofile=f"after rollback: {show_target(record.target)}"))
        if refused:
            warnings.insert(0, refused)
        return StepPreview(step_id, "".join(diffs), changes, warnings, refused)

    def _rollback(self, step_id: str, progress: Progress | None) -> StepOutcome:
        journals = load_journals(self.journal_path)
        journal = journals.of(self.target)
        entry = journal.entry(step_id)
        if entry.state is StepState.ROLLED_BACK:
            return StepOutcome(step_id, str(entry.state),
                               [f"step {step_id} is already rolled back"])
        if entry.state is StepState.PENDING and (
                elsewhere := journals.elsewhere(self.target, step_id)) is not None:
            raise ApplyError(f"{elsewhere}: nothing to roll back here")
        try:
            journal = jr.begin_rollback(journal, step_id, _now())
        except JournalError as err:
            raise ApplyError(f"{err} on {self.target.label()}") from None
        self._save(journal)
        messages: list[str] = []
        for record in jr.undo_order(entry):
            live = self.writer.read(record.kind, record.target)
            if jr.drifted(record, live):
                messages.append(f"warning: {show_target(record.target)} changed since the "
                                "apply; its before-state is restored anyway")
            journal = jr.begin_undo(journal, step_id, record.index)
            self._save(journal)
            if jr.kept(record.kind, live) != record.before:
                try:
                    self.writer.undo(record, live)
                except PlannerError as err:
                    journal = jr.finish(journal, step_id, StepState.ROLLING_BACK, _now(),
                                        f"rollback failed: {err}")
                    self._save(journal)
                    raise
                self._wrote()
            journal = jr.undone(journal, step_id, record.index)
            self._save(journal)
            line = f"restored {show_target(record.target)}"
            messages.append(line)
            if progress is not None:
                progress(line)
        journal = jr.finish(journal, step_id, StepState.ROLLED_BACK, _now(), "rolled back")
        self._save(journal)
        return StepOutcome(step_id, str(StepState.ROLLED_BACK), messages)

    # --- verify and status -----------------------------------------------------------------

    def verify(self, step_id: str) -> StepOutcome:
        """Check the step: applied per the journal, every written object live as written, and
        the plaintext gate (Prometheus: the last 15 minutes) where a traffic source is
        configured. State ``verified`` means it passed (and is recorded); any other state is
        the reason it did not. A GitOps folder has no cluster to check: its files as written
        give ``written`` (nothing recorded), never ``verified``."""
        step = self._step(step_id)
        journals = load_journals(self.journal_path)
        entry = journals.of(self.target).entry(step_id)
        messages: list[str] = []
        if entry.state not in (StepState.APPLIED, StepState.VERIFIED):
            messages.append(journals.elsewhere(self.target, step_id) or
                            f"step {step_id} is {jr.shown_state(entry)} on "
                            f"{self.target.label()}, not applied")
        applied = entry.state in (StepState.APPLIED, StepState.VERIFIED)
        changed = self._changes(journals.of(self.target), entry) if applied else LiveChanges()
        messages.extend(changed.lines())
        outcome = self._outcome(step) if applied else None
        if outcome is not None:
            messages.extend(check.line() for check in outcome.checks)
        gate = self._gate(step, VERIFY_WINDOW)
        if self.traffic is not None and gate is not None:
            messages.append(gate_line(self.traffic.label, gate))
        gate_failed = gate is not None and gate.status != "pass"
        reached = applied and not changed and (outcome is None or outcome.reached)
        if gate_failed or not reached:
            failed = "gate" if gate_failed else "outcome"
            if entry.state is StepState.VERIFIED:
                # A verification that no longer holds is news: the journal stops saying so.
                with self._locked(f"verify {step_id}"):
                    journal = self._journal()
                    if journal.entry(step_id) == entry:
                        journal = jr.finish(journal, step_id, StepState.APPLIED, _now(),
                                            f"verification failed ({failed} not reached)")
                        self._save(journal)
                    entry = journal.entry(step_id)
            return StepOutcome(step_id, str(self._shown(changed.state(entry))), messages,
                               failed=failed)
        if self.target.folder:
            # Files are all a folder holds: nothing of the cluster was read, so nothing is
            # recorded as verified.
            return StepOutcome(step_id, str(StepState.WRITTEN), [
                *messages, f"{len(entry.records)} file(s) as written to {self.target.folder}; "
                "not checked against a cluster: once it has synced, verify the step there "
                f"(`planner verify {step_id} --context CONTEXT`)"])
        with self._locked(f"verify {step_id}"):
            # Re-read under the lock: an apply or rollback may have run while this checked.
            journal = self._journal()
            if journal.entry(step_id) != entry:
                return StepOutcome(step_id, str(jr.shown_state(journal.entry(step_id))), [
                    *messages, f"step {step_id} changed while it was verified; run verify "
                    "again"], failed="outcome")
            self._save(jr.finish(journal, step_id, StepState.VERIFIED, _now(), "verified"))
        checked = len(entry.records)
        return StepOutcome(step_id, str(StepState.VERIFIED),
                           [*messages, f"{checked} object(s) live as applied"])

    def status(self) -> dict[str, str]:
        """Step id -> state, for every step of the plan (and any other journaled step)."""
        return {step_id: state for step_id, state, _ in self.status_details()}

    def status_details(self) -> list[tuple[str, str, str]]:
        """(step id, state, note) rows: the journal checked against the live objects. A step
        the journal does not know is ``applied`` when every object it writes carries its
        ``meshplan.io/step`` annotation (the journal was lost), else ``pending``. Only the
        entries of this session's target count (:meth:`journal_note` mentions the others)."""
        journal = self._journal()
        planned = [s.id for s in self.plan.steps]
        ids = [*planned, *sorted(set(journal.steps) - set(planned))]
        rows = []
        for step_id in ids:
            entry = journal.steps.get(step_id)
            if entry is None:
                rows.append(self._from_annotations(self.plan.step(step_id)))
                continue
            changed = (self._changes(journal, entry)
                       if entry.state in (StepState.APPLIED, StepState.VERIFIED)
                       else LiveChanges())
            note = jr.interruption(entry) or "; ".join(changed.lines())
            if step_id not in planned and entry.state is not StepState.ROLLED_BACK:
                note = "; ".join(filter(None, [jr.unplanned_note(entry), note]))
            if entry.forced:
                note = "; ".join(filter(None, [note, "forced: " + "; ".join(entry.forced)]))
            if entry.state in (StepState.APPLIED, StepState.VERIFIED) and jr.gate_note(entry):
                note = "; ".join(filter(None, [jr.gate_note(entry), note]))
            rows.append((step_id, str(self._shown(changed.state(entry))), note))
        return rows

    def _shown(self, state: StepState) -> StepState:
        """``state`` as this target shows it: a step applied to a GitOps folder is
        ``written`` (its files are; no cluster was read), never applied nor verified."""
        if self.target.folder and state in (StepState.APPLIED, StepState.VERIFIED):
            return StepState.WRITTEN
        return state

    def gate_modes(self) -> dict[str, str]:
        """The applied STRICT steps of this target whose gate was not met on evidence: step
        id -> ``none`` (applied without gate, ``--no-gate``) or ``forced`` (``--force`` over a
        gate that did not pass), as the journal records them."""
        return {step_id: entry.gate for step_id, entry in self._journal().steps.items()
                if entry.gate in (jr.GATE_NONE, jr.GATE_FORCED)
                and entry.state in (StepState.APPLIED, StepState.VERIFIED)}

    def _changes(self, journal: Journal, entry: jr.StepEntry) -> LiveChanges:
        """Which of the step's objects changed since it was applied: rewritten by a later
        applied step of the plan (superseded), or by someone else (drifted)."""
        drifted: list[str] = []
        superseded: dict[str, list[str]] = {}
        for record in entry.records:
            live = self.writer.read(record.kind, record.target)
            if not jr.drifted(record, live):
                continue
            later = jr.superseded_by(journal, entry.step_id, record)
            if later is not None and not jr.drifted(later[1], live):
                superseded.setdefault(later[0], []).append(show_target(record.target))
            else:
                drifted.append(show_target(record.target))
        return LiveChanges(tuple(drifted), tuple((k, tuple(v))
                                                 for k, v in sorted(superseded.items())))

    def _from_annotations(self, step: Step) -> tuple[str, str, str]:
        planned, _ = self.writer.planned(step, Stamp(step.id, self.plan_hash, _now()))
        marked = [w for w in planned if w.kind in (WriteKind.APPLY, WriteKind.LABEL)]
        if marked and all(_step_annotation(self.writer.read(w.kind, w.target)) == step.id
                          for w in marked):
            return (step.id, str(StepState.APPLIED),
                    "per the objects' meshplan.io/step annotations; not in the journal, so "
                    "it cannot be rolled back from here")
        return step.id, str(StepState.PENDING), ""

    def _step(self, step_id: str) -> Step:
        try:
            return self.plan.step(step_id)
        except KeyError:
            raise ApplyError(self.unknown_step(step_id)) from None

    def unknown_step(self, step_id: str) -> str:
        """Why ``step_id`` is not a step of this plan: the plan's steps, and, when the journal
        holds it for this target, how it was planned (``--authz``) and that a rollback works
        from the journal alone."""
        entry = self._journal().steps.get(step_id)
        if entry is None:
            return self.plan.unknown_step(step_id)
        return (f"no step {step_id!r} in the plan; the journal holds it "
                f"({jr.shown_state(entry)}): {jr.unplanned_note(entry)}")


def _step_annotation(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(STEP_ANNOTATION)
    return str(value) if value is not None else None
