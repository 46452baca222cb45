"""Plan: the rollout steps with their state, and the selected step's detail (why, YAML,
preconditions with their live result, the STRICT steps' plaintext gate from the observed
traffic, blockers with fixes, rollback)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Label, ProgressBar, Static

from planner.domain.plan import Action, Change, Phase, Plan, Scope, Step
from planner.sinks.plan_table import blocker_cell, changes_cell, dataplane_lines
from planner.sinks.tables import Id
from planner.untrusted import clean
from tui.actions import PLAN
from tui.format import gate_text, matches, state_text, what_if_text
from tui.screens.base import MeshScreen

if TYPE_CHECKING:
    from planner.domain.traffic import GateResult

#: The blockers cell of a step the journal holds and the plan on screen does not.
JOURNAL_ONLY = "journal only"
SEVERITY_STYLE = {"info": "dim", "warning": "yellow", "error": "red", "critical": "bold red"}


def changes_yaml(changes: tuple[Change, ...]) -> str:
    """The changes as YAML documents; deletes and restarts as commented stubs."""
    from planner.sinks.wire import dump_yaml, to_wire

    parts: list[str] = []
    for change in changes:
        if change.action is Action.APPLY:
            parts.append(dump_yaml(to_wire(dict(change.object))))
        else:
            meta = change.object.get("metadata", {}) if isinstance(change.object, dict) else {}
            where = f"{meta.get('namespace', '')}/{meta.get('name', '')}".strip("/")
            parts.append(f"# {change.action.value} {change.object.get('kind', '')} {where}\n")
    return "".join(p if p.startswith("#") else "---\n" + p for p in parts).removeprefix(
        "---\n") if parts else "# nothing to change (a read-only step)\n"


def yaml_view(text: str) -> Syntax:
    """YAML with syntax highlighting (Syntax never reads markup)."""
    return Syntax(text, "yaml", theme="ansi_dark", word_wrap=False, background_color="default")


def verdict_text(plan: Plan) -> Text:
    """The plan's opening lines: verdict and score, why, the lighter alternatives when a mesh
    is overkill, how namespaces get their data plane, and what the input could not tell."""
    text = Text()
    fit = plan.fit
    if fit is not None:
        style = "bold yellow" if fit.overkill else "bold"
        text.append(f"Verdict: {fit.verdict}  score {fit.score}/100", style=style)
        text.append(f"\n{clean(fit.summary)}")
        if fit.overkill:
            for alt in fit.alternatives:
                text.append(f"\n  lighter: {clean(alt.name)}: {clean(alt.why)}", style="yellow")
    for line in dataplane_lines(plan):
        text.append(f"\n{line}", style="dim")
    for note in plan.notes:
        text.append(f"\nnote: {clean(note)}", style="dim")
    return text


class PlanScreen(MeshScreen):
    """The rollout, step by step."""

    name_in_table = PLAN
    title_text = "Plan"
    # The steps, not the verdict's scroll (the first focusable widget) take the first focus.
    AUTO_FOCUS = "#steps"

    def __init__(self) -> None:
        super().__init__()
        self._shown: str | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="plan-body"):
            with Vertical(id="steps-pane"):
                # The verdict first: a plan is never read without "is a mesh worth it here?".
                # It scrolls within a few lines instead of pushing the steps off a small
                # terminal (an overkill verdict with its alternatives is 8 lines at 80 columns).
                with VerticalScroll(id="plan-verdict-scroll"):
                    yield Static("", id="plan-verdict")
                yield Label("Steps (d: dry-run diff)", classes="section", id="steps-label")
                yield DataTable(id="steps", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="work"):
                    yield Static("", id="work-label")
                    yield ProgressBar(id="work-bar", show_eta=False)
            with VerticalScroll(id="step-detail"):
                yield Static("", id="step-info")
                yield Label("Apply", classes="section")
                yield Static("", id="step-yaml")
                yield Label("Rollback", classes="section")
                yield Static("", id="step-rollback")

    def prepare(self) -> None:
        # State right after the id: it is what must stay visible. Four columns, the wrapping
        # ones at fixed widths (rows grow): beside the step's detail on a 100-column terminal,
        # and above it on an 80-column one, the table fits; the phase and the changes are in
        # the detail.
        table = self.query_one("#steps", DataTable)
        table.add_column("#")
        for label, width in (("step", 22), ("state", 11), ("blockers", 12)):
            table.add_column(label, width=width)
        if self.mesh.write:
            self.query_one("#steps-label", Label).update(
                "Steps (d: dry-run diff, a: apply, u: roll back, v: verify)")

    def focus_main(self) -> None:
        self.query_one("#steps", DataTable).focus()

    def refresh_data(self) -> None:
        plan = self.mesh.plan
        if plan is not None:
            self.query_one("#plan-verdict", Static).update(verdict_text(plan))
        self.apply_filter(self.filter_text)

    def apply_filter(self, query: str, now: bool = True) -> None:
        plan = self.mesh.plan
        if plan is None:
            return
        table = self.query_one("#steps", DataTable)
        keep = self.selected_step_id()
        table.clear()
        states = self.mesh.states
        row = 0
        for i, step in enumerate(plan.steps, start=1):
            state = states.get(step.id, "pending")
            if not matches(query, step.id, step.title, step.phase.value, state,
                           step.target.namespace, *(b.code for b in step.blockers)):
                continue
            table.add_row(str(i), Id(step.id, "bold"),
                          state_text(state, self.mesh.gate_modes.get(step.id, "")),
                          blocker_cell(step), key=step.id, height=None)
            if step.id == keep:
                table.move_cursor(row=row, animate=False)
            row += 1
        for i, step_id in enumerate(self._journal_only(plan), start=len(plan.steps) + 1):
            # Applied from a plan built otherwise (--authz): never hidden, since rolling
            # back what it rests on must not go unnoticed; u rolls it back from the journal.
            state = states[step_id]
            if not matches(query, step_id, state, JOURNAL_ONLY):
                continue
            table.add_row(str(i), Id(step_id, "bold"),
                          state_text(state, self.mesh.gate_modes.get(step_id, "")),
                          Text(JOURNAL_ONLY, style="dim"), key=step_id, height=None)
            if step_id == keep:
                table.move_cursor(row=row, animate=False)
            row += 1
        self._shown = None
        self.show_step(self.selected_step_id())

    def _journal_only(self, plan: Plan) -> list[str]:
        """The steps the journal holds for this target that the plan on screen lacks."""
        planned = {s.id for s in plan.steps}
        return sorted(set(self.mesh.states) - planned)

    def selected_step_id(self) -> str | None:
        """The step under the cursor."""
        table = self.query_one("#steps", DataTable)
        if not table.row_count:
            return None
        value = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(value) if value is not None else None

    def select_step(self, step_id: str) -> None:
        """Move the cursor to ``step_id`` (tests and ``:`` use it)."""
        table = self.query_one("#steps", DataTable)
        table.move_cursor(row=table.get_row_index(step_id), animate=False)
        self.show_step(step_id)

    def show_step(self, step_id: str | None, force: bool = False) -> None:
        """Draw the detail of one step."""
        if step_id == self._shown and not force:
            return
        self._shown = step_id
        plan = self.mesh.plan
        info = self.query_one("#step-info", Static)
        if plan is None or step_id is None:
            info.update(Text("no step selected", style="dim"))
            self.query_one("#step-yaml", Static).update("")
            self.query_one("#step-rollback", Static).update("")
            return
        if step_id not in {s.id for s in plan.steps}:
            info.update(self._journal_only_info(step_id))
            self.query_one("#step-yaml", Static).update("")
            self.query_one("#step-rollback", Static).update("")
            return
        step = plan.step(step_id)
        info.update(self.step_info(step))
        self.query_one("#step-yaml", Static).update(yaml_view(changes_yaml(step.apply)))
        self.query_one("#step-rollback", Static).update(
            yaml_view(changes_yaml(step.rollback)))

    def _journal_only_info(self, step_id: str) -> Text:
        """A journaled step the plan on screen lacks: its state, the journal's note (why it
        is not planned), and that its rollback works from the journal."""
        text = Text()
        text.append(clean(step_id), style="bold")
        text.append("  ")
        text.append_text(state_text(self.mesh.states.get(step_id, "pending")))
        note = self.mesh.step_notes.get(step_id, "")
        if note:
            text.append(f"\n{clean(note)}", style="yellow")
        text.append("\nits writes are in the journal only"
                    + ("; u rolls it back from there" if self.mesh.write else ""), style="dim")
        return text

    def step_info(self, step: Step) -> Group:
        """Why, target, preconditions (with the live result of the last dry-run), blockers."""
        state = self.mesh.states.get(step.id, "pending")
        head = Text()
        head.append(clean(step.id), style="bold")
        head.append("  ")
        head.append_text(state_text(state))
        note = self.mesh.step_notes.get(step.id, "")
        if note:
            head.append(f"  {clean(note)}", style="yellow")
        head.append(f"\n{clean(step.title)}\n")
        head.append("phase: ", style="bold")
        head.append(f"{step.phase.value}; changes: {changes_cell(step, ', ')}\n")
        head.append("why: ", style="bold")
        head.append(clean(step.why) + "\n")
        if step.requires:
            head.append("requires: ", style="bold")
            head.append(", ".join(clean(r) for r in step.requires) + "\n")
        if step.forced_by:
            head.append("forced by: ", style="bold")
            head.append(", ".join(clean(r) for r in step.forced_by) + "\n")
        preview = self.mesh.previews.get(step.id)
        head.append("preconditions", style="bold")
        head.append(" (live result from the last dry-run)\n" if preview is not None
                    else " (not checked yet: d runs a dry-run)\n", style="dim")
        for p in step.preconditions:
            head.append("  • " + clean(p) + "\n")
        for q in step.promql:
            head.append("  • no series for ", style="")
            head.append(clean(q), style="cyan")
            head.append("\n")
        what_if = self.mesh.plan.what_if.get(step.id) if self.mesh.plan else None
        if what_if is not None:
            head.append_text(what_if_text(what_if))
        gate = self.mesh.gates.get(step.id)
        if gate is not None:
            authz = step.phase is Phase.AUTHZ_ENFORCE
            head.append_text(gate_text(gate, self.mesh.traffic_error, authz=authz))
            if not authz:
                head.append_text(self._plaintext_callers(step, gate))
        if preview is not None:
            if preview.warnings:
                for w in preview.warnings:
                    head.append("  ✗ " + clean(w) + "\n", style="yellow")
            else:
                head.append("  ✓ dry-run raised no warnings\n", style="green")
        if step.verify:
            head.append("verify: ", style="bold")
            head.append("; ".join(clean(v) for v in step.verify) + "\n")
        outcome = self.mesh.outcomes.get(step.id)
        if outcome is not None:
            head.append("last result: ", style="bold")
            head.append(clean(outcome) + "\n")
        parts: list[RenderableType] = [head]
        if step.blockers:
            blockers = Text()
            blockers.append("blockers\n", style="bold red")
            for b in step.blockers:
                blockers.append(f"  {b.code} ", style=SEVERITY_STYLE.get(b.severity.value, ""))
                blockers.append(clean(b.subject, 80), style="bold")
                blockers.append(": " + clean(b.message) + "\n")
                if b.fix:
                    blockers.append("    fix: ", style="green")
                    blockers.append(clean(b.fix) + "\n")
            parts.append(blockers)
        return Group(*parts)

    def _plaintext_callers(self, step: Step, gate: GateResult) -> Text:
        """For a failing namespace gate: the callers as the graph names them, with the
        workloads the manifests suspect behind an unnamed (sidecar-less) one."""
        text = Text(end="")
        report = self.mesh.namespace_traffic.get(step.target.namespace)
        if gate.status != "fail" or report is None or step.target.scope != Scope.NAMESPACE:
            return text
        for c in report.plaintext_callers[:6]:
            text.append("    caller ", style="dim")
            text.append(clean(c.caller, 80), style="bold red")
            text.append(f" → {clean(c.service, 80)}")
            if c.suspects:
                text.append("  suspects: " + ", ".join(clean(s, 60) for s in c.suspects),
                            style="yellow")
            text.append("\n")
        return text

    def set_work(self, label: str, done: int = 0, total: int = 0) -> None:
        """Show the progress of long work under the steps (empty label: hide)."""
        self.query_one("#work-label", Static).update(Text(clean(label, 60)))
        bar = self.query_one("#work-bar", ProgressBar)
        bar.display = bool(label)
        bar.update(total=total or None, progress=done)

    @on(DataTable.RowHighlighted, "#steps")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show_step(str(event.row_key.value))

    def context(self) -> dict[str, str | None]:
        return {"step": self.selected_step_id()}
