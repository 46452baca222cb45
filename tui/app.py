"""The meshplan TUI: one App, three main screens (assess, graph, plan) as Textual modes, and
workers for everything slow. Domain work happens only in :mod:`planner.service`."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterable
from functools import partial
from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState, get_current_worker

from planner.errors import PlannerError
from planner.untrusted import clean
from tui import analysis_worker, collector, dialogs, header_model
from tui.actions import ACTIONS, BY_ID, applies_to, available, parse_command
from tui.apply_controller import ApplyController, describe
from tui.messages import (
    Analysed,
    Assessed,
    GateRefusedStep,
    PostApplyFailed,
    PreviewReady,
    RollbackPreviewReady,
    StepFinished,
    StepsChanged,
    WorkFailed,
    WorkProgress,
)
from tui.options import Answers, TuiOptions
from tui.screens.assess import AssessScreen
from tui.screens.base import MeshScreen
from tui.screens.graph import GraphScreen, NamespaceScreen
from tui.screens.modals import (
    ConfirmModal,
    GateModal,
    HelpScreen,
    MessageModal,
    PostApplyModal,
)
from tui.screens.plan import PlanScreen

if TYPE_CHECKING:
    from rich.console import RenderableType

    from planner.domain.analysis import Analysis
    from planner.domain.fit import Assessment
    from planner.domain.observed import NamespaceTraffic
    from planner.domain.plan import Plan
    from planner.domain.traffic import GateResult
    from planner.service import StepPreview


def bindings() -> list[BindingType]:
    """Key bindings from the action table (``check_action`` hides what a session lacks)."""
    return [Binding(a.keys, a.id, a.footer, show=a.show) for a in ACTIONS if a.bind and a.keys]


class MeshplanApp(App[None]):
    """``planner tui``."""

    CSS_PATH = "app.tcss"
    #: ``-narrow`` below 100 columns: the plan screen stacks its panes (app.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012 (Textual's)
    TITLE = "meshplan"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "assess": AssessScreen, "graph": GraphScreen, "plan": PlanScreen}
    BINDINGS: ClassVar[list[BindingType]] = bindings()
    COMMAND_PALETTE_BINDING = BY_ID["command_palette"].keys

    tick = reactive(0)

    def __init__(self, options: TuiOptions) -> None:
        super().__init__()
        self.options = options
        self.write = options.write
        self.analysis: Analysis | None = None
        self.plan: Plan | None = None
        #: The plan the apply engine gets: ``plan`` before the traffic gates reordered and
        #: blocked it, i.e. what ``planner apply`` builds from the same flags.
        self.apply_plan: Plan | None = None
        #: Each STRICT step's plaintext gate (GateResult) by step id.
        self.gates: dict[str, GateResult] = {}
        #: The observed traffic per namespace (NamespaceTraffic) by name; empty without it.
        self.namespace_traffic: dict[str, NamespaceTraffic] = {}
        #: Why the observed traffic asked for could not be read ("" when it was, or not asked).
        self.traffic_error = ""
        self.assessment: Assessment | None = None
        self.overrides: Answers = dict(options.overrides)
        self.states: dict[str, str] = {}
        #: The journal's note on a step (step id -> "applied without gate (--no-gate)" ...).
        self.step_notes: dict[str, str] = {}
        #: Applied STRICT steps whose gate was not met on evidence: ``none`` or ``forced``.
        self.gate_modes: dict[str, str] = {}
        self.previews: dict[str, StepPreview] = {}
        self.outcomes: dict[str, str] = {}
        self.reassessing = False
        self.busy_label = ""
        self.screen_title = ""
        self.scan_seconds: float | None = None
        self.first_plan_paint: float | None = None
        self.started = perf_counter()
        self.failures: list[WorkFailed] = []
        #: The exception that ended the app, if one escaped every handler (a bug).
        self.crash: BaseException | None = None
        self._views: list[MeshScreen] = []
        #: The apply session and the step operations on it (run in the "apply" workers).
        self.apply = ApplyController(options, self._post,
                                     lambda text: self.log.warning(text))
        #: Set once the first scan is on screen: the assessment waits for it so the first paint
        #: does not share the interpreter with it.
        self._shown = threading.Event()

    # --- header --------------------------------------------------------------------------

    @property
    def source_label(self) -> str:
        """The input, as the header shows it."""
        return header_model.source_label(self.options.spec)

    @property
    def cluster_label(self) -> str:
        """The kube context, or ``none`` in a manifest session (the source says which)."""
        return header_model.cluster_label(self.options.spec)

    @property
    def istio_label(self) -> str:
        """Istio's version (istiod image tag) and revisions, or that it is absent."""
        return header_model.istio_label(self.plan, self.analysis)

    @property
    def progress_label(self) -> str:
        """``step n of m``: n is the first step not yet applied."""
        return header_model.progress_label(self.plan, self.states)

    def bump(self) -> None:
        """Redraw the header."""
        self.tick += 1

    # --- views ---------------------------------------------------------------------------

    def register_view(self, view: MeshScreen) -> None:
        """A screen that redraws when the data changes."""
        if view not in self._views:
            self._views.append(view)

    def unregister_view(self, view: MeshScreen) -> None:
        """The screen went away."""
        if view in self._views:
            self._views.remove(view)

    def _refresh_views(self) -> None:
        for view in list(self._views):
            try:
                view.refresh_data()
            except Exception as err:  # a drawing bug must not take the app down
                self._failed(WorkFailed(f"drawing {view.title_text}", str(err),
                                        traceback.format_exc(), expected=False))
        self.bump()

    # --- life cycle ----------------------------------------------------------------------

    def _handle_exception(self, error: Exception) -> None:
        # Textual exits on an uncaught exception with code 1 and prints a page of traceback
        # with locals (cluster data among them); `planner tui` re-raises it once the terminal
        # is restored, so the CLI reports it as one line with its exit code (see run()).
        if self.crash is None:
            self.crash = error
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        if self.crash is None:
            super()._print_error_renderables()
        else:
            self._exit_renderables.clear()

    def on_mount(self) -> None:
        self.switch_mode(self.options.start if self.options.start in self.MODES else "assess")
        self.run_analysis()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        definition = BY_ID.get(action)
        if definition is None:
            return True
        if definition.dangerous and not self.write:
            return False
        if isinstance(self.screen, ModalScreen):
            return False
        name = getattr(self.screen, "name_in_table", "")
        return applies_to(definition, name)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # The palette reads a command's title and help as Textual markup: everything is
        # escaped (the filter key `[/]` is a closing tag, a namespace name is cluster data).
        name = getattr(screen, "name_in_table", "")
        for a in available(self.write):
            if a.argument or not applies_to(a, name) or a.id in ("command_palette", "drill"):
                continue
            keys = f"  [{a.key_label}]" if a.keys else ""
            yield SystemCommand(escape(a.description + (" (write)" if a.dangerous else "")),
                                escape(f":{a.command}{keys}" if a.command else keys.strip()),
                                partial(self.run_action_id, a.id))
        if self.analysis is not None:
            for ns in self.analysis.scan.inventory.namespaces[:500]:
                shown = escape(clean(ns.name, 60))
                yield SystemCommand(f"Open namespace {shown}", f":ns {shown}",
                                    partial(self.action_goto_namespace, ns.name))
        yield from super().get_system_commands(screen)

    def run_action_id(self, action_id: str, *args: str) -> None:
        """Run a table action by id if this session allows it."""
        if self.check_action(action_id, ()) is False:
            what = BY_ID[action_id]
            reason = "needs --write" if what.dangerous and not self.write else \
                "not available on this screen"
            self.notify(f"{what.description}: {reason}", severity="warning", markup=False)
            return
        self.call_next(getattr(self, f"action_{action_id}"), *args)

    def run_command(self, line: str) -> None:
        """Run a ``:`` command line."""
        if not line.strip():
            return
        action, argument = parse_command(line)
        if action is None:
            self.notify(f"unknown command: {clean(line, 60)} (? lists them)",
                        severity="error", markup=False)
            return
        if action.argument and not argument:
            self.notify(f":{action.command} needs {action.argument}", severity="error",
                        markup=False)
            return
        if action.argument:
            self.run_action_id(action.id, argument)
        else:
            self.run_action_id(action.id)

    # --- actions -------------------------------------------------------------------------

    def action_show_assess(self) -> None:
        self.switch_mode("assess")

    def action_show_graph(self) -> None:
        self.switch_mode("graph")

    def action_show_plan(self) -> None:
        self.switch_mode("plan")

    def action_goto_namespace(self, name: str) -> None:
        if self.analysis is None:
            self.notify("still scanning", severity="warning")
            return
        if name not in self.analysis.scan.inventory.namespace_index:
            self.notify(f"no namespace {clean(name, 60)}", severity="error", markup=False)
            return
        self.switch_mode("graph")
        self.open_namespace(name)

    def open_namespace(self, name: str) -> None:
        """Drill into a namespace."""
        self.push_screen(NamespaceScreen(name))

    async def action_back(self) -> None:
        screen = self.screen
        if isinstance(screen, MeshScreen) and screen.close_prompt():
            return
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_filter(self) -> None:
        if isinstance(self.screen, MeshScreen):
            self.screen.open_prompt("filter")

    def action_command_line(self) -> None:
        if isinstance(self.screen, MeshScreen):
            self.screen.open_prompt("command")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.write))

    def action_rescan(self) -> None:
        if not self._refused_while_a_step_runs("rescan"):
            self.run_analysis()

    def _refused_while_a_step_runs(self, what: str) -> bool:
        """True (and says so) while a step is applied, rolled back or verified: a new scan
        replaces the plan and closes the apply session the step is using."""
        if not any(w.group == "apply" and w.name == "step" and not w.is_finished
                   for w in self.workers):
            return False
        self.notify(f"a step is running: {what} when it is done", severity="warning")
        return True

    def _selected_step(self) -> str | None:
        screen = self.screen
        step = screen.context().get("step") if isinstance(screen, MeshScreen) else None
        if step is None:
            self.notify("no step selected", severity="warning")
        return step

    def action_preview_step(self) -> None:
        step = self._selected_step()
        if step is not None:
            self.run_preview(step, "show")

    def action_verify_step(self) -> None:
        step = self._selected_step()
        if step is not None:
            self.run_step("verify", step)

    def action_apply_step(self) -> None:
        step = self._selected_step()
        if step is not None and self.write:
            self.run_preview(step, "apply")

    def action_rollback_step(self) -> None:
        step_id = self._selected_step()
        if step_id is not None and self.write and self.plan is not None:
            self.run_preview(step_id, "rollback")

    # --- profile answers -----------------------------------------------------------------

    def answer(self, field_name: str, value: int | bool | None) -> None:
        """A profile question answered on the assessment screen: re-assess and re-plan in a
        worker, as `planner plan` with the same answer flags would (the plan opens with the
        verdict, and the apply engine stamps the plan's hash)."""
        if self.overrides.get(field_name) == value and (value is not None
                                                       or field_name not in self.overrides):
            return
        if self._refused_while_a_step_runs("answer"):
            self._refresh_views()  # the drop-downs show the answers in force again
            return
        if value is None:
            self.overrides.pop(field_name, None)
        else:
            self.overrides[field_name] = value
        self.reassessing = True
        self._refresh_views()
        self.run_analysis()

    # --- workers -------------------------------------------------------------------------

    def _post(self, message: Message) -> None:
        """Post from a worker thread unless the worker was superseded."""
        worker = get_current_worker()
        if not worker.is_cancelled:
            self.post_message(message)

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan", name="scan")
    def run_analysis(self) -> None:
        """Scan, read the observed traffic, build and gate the plan, then assess."""
        analysis_worker.analyse_and_plan(self.options, dict(self.overrides), self._post,
                                         self._shown)

    def on_unmount(self) -> None:
        self.apply.close()

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply", name="status")
    def run_status(self) -> None:
        """Read the journal's step states (quietly skipped without an apply engine)."""
        self.apply.status(*self._apply_input())

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply", name="dry-run")
    def run_preview(self, step_id: str, then: str) -> None:
        """Dry-run one step; ``then`` is ``apply`` to continue into the confirm dialog, or
        ``rollback`` for the rollback's own diff, with the applied steps that depend on it."""
        self.apply.preview(*self._apply_input(), step_id, then)

    @work(thread=True, exclusive=True, exit_on_error=False, group="apply", name="step")
    def run_step(self, operation: str, step_id: str, *, force: bool = False,
                 cascade: bool = False, no_gate: bool = False) -> None:
        """Apply (then verify), roll back, or verify one step, with progress. ``force`` applies
        over a refusing gate (journaled as forced), ``no_gate`` a STRICT step without a
        traffic source (journaled as ``--no-gate``); ``cascade`` rolls back the applied steps
        that depend on the step first."""
        self.apply.step(*self._apply_input(), operation, step_id, force=force, cascade=cascade,
                        no_gate=no_gate)

    def _apply_input(self) -> tuple[Analysis, Plan]:
        """The analysis and the plan the apply engine gets (``apply_plan``: as ``planner
        apply`` builds it). The apply actions exist only once a scan is on screen."""
        if self.analysis is None or self.plan is None:
            raise PlannerError("no plan yet: the scan is still running")
        return self.analysis, self.apply_plan or self.plan

    # --- results -------------------------------------------------------------------------

    @on(WorkProgress)
    def _progress(self, message: WorkProgress) -> None:
        label = message.label
        if label and message.total:
            label += f" {message.done}/{message.total}"
        elif label and message.done:
            label += f" {message.done}"
        self.busy_label = label
        # A worker's last word can arrive while the app quits and its screens are gone.
        screen = self.screen_stack[-1] if self.screen_stack else None
        if isinstance(screen, PlanScreen):
            screen.set_work(label, message.done, message.total)
        self.bump()

    @on(Analysed)
    def _analysed(self, message: Analysed) -> None:
        self.analysis, self.plan = message.analysis, message.plan
        self.apply_plan = message.apply_plan
        self.gates = dict(message.gates)
        self.namespace_traffic = dict(message.namespaces)
        self.traffic_error = message.traffic_error
        self.scan_seconds = message.seconds
        self.previews.clear()
        self.outcomes.clear()
        self.states = {}
        self.step_notes = {}
        self.gate_modes = {}
        self.apply.close()
        self._refresh_views()
        if message.traffic_error:
            self.notify(clean(message.traffic_error, 400), title="observed traffic unavailable",
                        severity="error", timeout=10, markup=False)
        diagnostics = message.analysis.scan.diagnostics
        if diagnostics:
            self.notify(f"{len(diagnostics)} input diagnostic(s); first: "
                        f"{clean(diagnostics[0], 160)}", severity="warning", markup=False)
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        if self.first_plan_paint is None and isinstance(self.screen, PlanScreen):
            self.first_plan_paint = perf_counter() - self.started
        self._shown.set()
        self.run_status()

    @on(Assessed)
    def _assessed(self, message: Assessed) -> None:
        if message.overrides != self.overrides:
            return  # a newer answer is on its way
        self.assessment = message.assessment
        self.reassessing = False
        self._refresh_views()

    @on(StepsChanged)
    def _steps_changed(self, message: StepsChanged) -> None:
        self.states = {k: str(v).replace("_", " ").replace("-", " ")
                       for k, v in message.states.items()}
        self.step_notes = dict(message.notes)
        self.gate_modes = dict(message.gate_modes)
        self._refresh_views()

    @on(PreviewReady)
    def _preview_ready(self, message: PreviewReady) -> None:
        self.previews[message.step_id] = message.preview
        self._refresh_views()
        if isinstance(self.screen, PlanScreen):
            self.screen.show_step(message.step_id, force=True)
        if message.then != "apply":
            return
        body = dialogs.apply_body(message.step_id, message.preview)
        step_id = message.step_id
        gate = self.gates.get(step_id)
        if self._ungated(step_id):
            # No source, no gate: only an explicit "Apply without gate" goes on (--no-gate).
            self._push_gate(step_id, gate, "", body)
            return
        if gate is not None and gate.status != "pass":
            # The gate first, and no plain Apply: the engine would refuse the step anyway.
            self._push_gate(step_id, gate, "", body)
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.run_step("apply", step_id)

        self.push_screen(ConfirmModal(f"Apply step {step_id}?", body, "Apply"), confirmed)

    def _ungated(self, step_id: str) -> bool:
        """True for a STRICT step of a session without a traffic source: no gate can run."""
        from planner import service

        plan = self.apply_plan or self.plan
        return (self.options.traffic is None and plan is not None
                and step_id in service.gated_steps(plan))

    def _push_gate(self, step_id: str, gate: GateResult | None, reason: str,
                   body: list[RenderableType]) -> None:
        """The gate dialog of a STRICT step; "Apply anyway" (``--write`` only) applies it
        forced, or, without a traffic source, "Apply without gate" applies it as
        ``--no-gate``."""
        callers: list[str] = []
        if self.analysis is not None and self.plan is not None:
            from planner import service

            try:
                callers = service.step_callers(self.analysis, self.apply_plan or self.plan,
                                               step_id)
            except KeyError:
                callers = []

        no_source = self._ungated(step_id)

        def chosen(ok: bool | None) -> None:
            if ok and self.write:
                self.run_step("apply", step_id, force=not no_source, no_gate=no_source)

        from planner.domain.plan import Phase

        steps = {s.id: s for s in (self.apply_plan or self.plan).steps} if self.plan else {}
        authz = step_id in steps and steps[step_id].phase is Phase.AUTHZ_ENFORCE
        self.push_screen(GateModal(step_id, gate, reason, callers, self.write, body,
                                   self.traffic_error, authz=authz, no_source=no_source),
                         chosen)

    @on(RollbackPreviewReady)
    def _rollback_preview_ready(self, message: RollbackPreviewReady) -> None:
        preview, step_id, dependents = message.preview, message.step_id, message.dependents
        if preview.refused and not dependents:
            self.push_screen(MessageModal(f"Cannot roll back {step_id}", preview.refused))
            return
        title, body, label = dialogs.rollback_dialog(step_id, preview, dependents)

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.run_step("rollback", step_id, cascade=bool(dependents))

        self.push_screen(ConfirmModal(title, body, label), confirmed)

    @on(GateRefusedStep)
    def _gate_refused(self, message: GateRefusedStep) -> None:
        self.outcomes[message.step_id] = f"apply refused: {message.reason}"
        self._refresh_views()
        self._push_gate(message.step_id, self.gates.get(message.step_id), message.reason, [])

    @on(PostApplyFailed)
    def _post_apply_failed(self, message: PostApplyFailed) -> None:
        step_id, outcome = message.step_id, message.outcome
        rolled_back = outcome.state == "rolled back"
        lines = [m for m in outcome.messages
                 if m.startswith(("post-apply check", "rolled back", "restored"))]

        def chosen(rollback: bool | None) -> None:
            if rollback and self.write:
                self.run_preview(step_id, "rollback")

        self.push_screen(PostApplyModal(step_id, lines, rolled_back, self.write), chosen)

    @on(StepFinished)
    def _step_finished(self, message: StepFinished) -> None:
        text = describe(message.outcome)
        self.outcomes[message.step_id] = f"{message.operation}: {text}"
        state = str(getattr(message.outcome, "state", "") or "")
        failed = state in ("failed", "drifted") or message.outcome.check_failed
        self.notify(f"{message.operation} {clean(message.step_id)}: {text}",
                    severity="error" if failed else "information", markup=False)
        self._refresh_views()
        if message.operation == "verify" and isinstance(self.screen, PlanScreen):
            self.screen.show_step(message.step_id, force=True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker errors go: a notification for planner errors, a modal with the
        traceback for anything unexpected. The app keeps running."""
        if event.state is not WorkerState.ERROR:
            return
        err = event.worker.error
        self.busy_label = ""
        self.reassessing = False
        if isinstance(self.screen, PlanScreen):
            self.screen.set_work("")
        if isinstance(err, PlannerError):
            self._failed(WorkFailed(event.worker.name, str(err)))
        else:
            details = "".join(traceback.format_exception(err)) if err else ""
            self._failed(WorkFailed(event.worker.name, f"{type(err).__name__}: {err}",
                                    details, expected=False))
        self.bump()

    def _failed(self, failure: WorkFailed) -> None:
        self.failures.append(failure)
        if failure.expected:
            self.notify(clean(failure.message, 400), title=f"{failure.title} failed",
                        severity="error", timeout=8, markup=False)
        else:
            self.push_screen(MessageModal(f"{failure.title} failed", failure.message,
                                          failure.details))


def run(options: TuiOptions) -> None:
    """Start the TUI (blocking). An exception that ended it is raised again here, after the
    terminal is restored, for the CLI's one-line internal error and exit code."""
    collector.session()
    app = MeshplanApp(options)
    app.run()
    if app.crash is not None:
        raise app.crash


__all__ = ["MeshplanApp", "run"]
