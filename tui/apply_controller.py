"""The TUI's apply session: opened once per scan (in a worker), closed when a new scan
arrives or the app ends; dry runs, apply (then verify), rollback and verify of one step, their
results posted as messages. The app runs these methods in its thread workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from planner.errors import PlannerError
from planner.untrusted import clean
from tui.messages import (
    GateRefusedStep,
    Post,
    PostApplyFailed,
    PreviewReady,
    RollbackPreviewReady,
    StepFinished,
    StepsChanged,
    WorkProgress,
)
from tui.options import TuiOptions

if TYPE_CHECKING:
    from planner.domain.analysis import Analysis
    from planner.domain.plan import Plan
    from planner.service import ApplySession, StepOutcome

#: Where a WRITE session in manifest mode writes the steps' GitOps files without --out.
DEFAULT_OUT = "meshplan-rollout"


def describe(outcome: StepOutcome) -> str:
    """An engine answer in one line: the step's state, then what happened."""
    text = outcome.state or "done"
    if outcome.messages:
        text += ": " + "; ".join(outcome.messages)
    return clean(text)


class ApplyController:
    """The apply session of one TUI and the step operations on it."""

    def __init__(self, options: TuiOptions, post: Post,
                 warn: Callable[[str], None]) -> None:
        self.options = options
        self._post = post
        self._warn = warn
        self._session: ApplySession | None = None
        self._session_lock = threading.Lock()

    def session(self, analysis: Analysis, plan: Plan) -> ApplySession:
        """The apply session for ``plan`` (opened once per scan), in a worker."""
        with self._session_lock:
            if self._session is not None:
                return self._session
            from planner import service

            spec = self.options.spec
            manifests = isinstance(spec, service.ManifestInput)
            out_dir = self.options.out_dir or (DEFAULT_OUT if manifests else None)
            # traffic=: the engine re-checks a STRICT step's plaintext gate (Prometheus with its
            # token and CA, or the export file) right before writing it, and raises
            # GateRefused when it does not pass; it picks its own look-back window unless
            # --window was given.
            self._session = service.open_apply_session(
                analysis, plan, write=self.options.write,
                journal_path=self.options.journal_path or service.DEFAULT_JOURNAL,
                kube=spec if isinstance(spec, service.ClusterInput) else None, out_dir=out_dir,
                traffic=self.options.traffic, caller="planner tui")
            return self._session

    def close(self) -> None:
        """Close the session (a new scan opens another)."""
        with self._session_lock:
            session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception as err:  # closing must never take the app down
                self._warn(f"closing the apply session: {err}")

    def post_states(self, session: ApplySession) -> None:
        """Post the journal's step states (and notes) as :class:`StepsChanged`."""
        rows = session.status_details()
        self._post(StepsChanged({step: state for step, state, _ in rows},
                                {step: note for step, _, note in rows if note},
                                session.gate_modes()))

    def status(self, analysis: Analysis, plan: Plan) -> None:
        """Read the journal's step states (quietly skipped without an apply engine)."""
        try:
            session = self.session(analysis, plan)
            self.post_states(session)
        except PlannerError:
            return  # no engine or no target (manifests without --out): every step pending

    def preview(self, analysis: Analysis, plan: Plan, step_id: str, then: str) -> None:
        """Dry-run one step; ``then`` is ``apply`` to continue into the confirm dialog, or
        ``rollback`` for the rollback's own diff (from the journal, as ``planner rollback
        --dry-run`` prints it), with the applied steps that depend on it."""
        self._post(WorkProgress(f"dry-run {then if then == 'rollback' else 'of'} {step_id}"))
        session = self.session(analysis, plan)
        if then == "rollback":
            preview = session.rollback_preview(step_id)
            dependents = list(session.dependents(step_id)) if preview.refused else []
            if dependents:
                preview = session.rollback_preview(step_id, cascade=True)
            self._post(RollbackPreviewReady(step_id, preview, dependents))
        else:
            self._post(PreviewReady(step_id, session.preview(step_id), then))
        self._post(WorkProgress(""))

    def step(self, analysis: Analysis, plan: Plan, operation: str, step_id: str, *,
             force: bool = False, cascade: bool = False, no_gate: bool = False) -> None:
        """Apply (then verify), roll back, or verify one step, with progress. ``force`` applies
        over a refusing gate (journaled as forced), ``no_gate`` a STRICT step without a
        traffic source (journaled as ``planner apply --no-gate``); ``cascade`` rolls back the
        applied steps that depend on the step first.

        A STRICT step gets the post-apply check ``planner apply`` runs (``--settle``,
        ``--auto-rollback`` of the TUI), its wait shown as progress; when it fails, a
        :class:`PostApplyFailed` follows the step's result instead of a verification."""
        session = self.session(analysis, plan)
        verb = {"apply": "applying", "rollback": "rolling back", "verify": "verifying"}

        def progress(words: str = "") -> None:
            self._post(WorkProgress(f"{verb[operation]} {step_id}"
                                    + (f": {words}" if words else "")))

        def settling(waited: float, settle_s: float) -> None:
            self._post(WorkProgress(f"applying {step_id}: settling before the post-apply "
                                    "check (--settle)", int(waited), max(int(settle_s), 1)))

        progress()
        from planner.errors import GateRefused

        try:
            if operation == "apply":
                try:
                    outcome = session.apply(
                        step_id, force=force, no_gate=no_gate, progress=progress,
                        settle_s=self.options.settle_s,
                        auto_rollback=self.options.auto_rollback, settle_watch=settling)
                except GateRefused as err:
                    # Not a failure of the app: the gate did its job. Say why in a dialog.
                    self._post(GateRefusedStep(step_id, str(err)))
                    return
                self._post(StepFinished("apply", step_id, outcome))
                if outcome.check_failed:
                    self._post(PostApplyFailed(step_id, outcome))
                    return
                progress("verifying")
                self._post(StepFinished("verify", step_id, session.verify(step_id)))
            elif operation == "rollback":
                self._post(StepFinished("rollback", step_id, session.rollback(
                    step_id, cascade=cascade, progress=progress)))
            else:
                self._post(StepFinished("verify", step_id, session.verify(step_id)))
        finally:
            self.post_states(session)
            self._post(WorkProgress(""))
