"""Dialogs: confirm a dangerous action (with its dry-run diff), show an error or a result, and
the ``?`` help generated from the action table."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static

from planner.untrusted import clean
from tui.actions import help_rows
from tui.format import gate_text

if TYPE_CHECKING:
    from planner.domain.traffic import GateResult


class ConfirmModal(ModalScreen[bool]):
    """Shows what will change and asks; ``y``/``enter`` on the button confirms, ``esc``/``n``
    cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,n", "cancel", "Cancel"),
                                             Binding("y", "confirm", "Confirm")]

    def __init__(self, title: str, body: list[RenderableType], confirm_label: str) -> None:
        super().__init__()
        self.title_str = title
        self.body = body
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger"):
            yield Label(Text(clean(self.title_str), style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                for part in self.body:
                    # A plain string would be read as markup; parts are Text or Syntax.
                    yield Static(Text(part) if isinstance(part, str) else part)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm_label, variant="error", id="confirm")
                yield Button("Cancel", variant="default", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class MessageModal(ModalScreen[None]):
    """An error or a result with its details; any of ``esc``, ``enter``, ``q`` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, message: str, details: str = "", error: bool = True) -> None:
        super().__init__()
        self.title_str = title
        self.message = message
        self.details = details
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog " + ("danger" if self.error else "")):
            yield Label(Text(clean(self.title_str), style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(Text(self.message))
                if self.details:
                    yield Static(Text(self.details, style="dim"), id="dialog-details")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)


class GateModal(ModalScreen[bool]):
    """A STRICT step whose plaintext gate did not pass: said first, then the reason, the
    callers concerned and (before an apply) the dry-run diff. There is no plain Apply: in a
    ``--write`` session an explicit "Apply anyway" overrides the gate, and the journal records
    the step as forced (the TUI's ``planner apply --force``); ``esc``/``n``/``q`` cancel.

    ``callers`` are the calls the step puts under STRICT, from its what-if as its gate judges
    them (``planner.service.step_callers``):
    listed when the gate has no plaintext callers to name (``unknown``: no proof either way),
    so the dialog never asks to fix "the callers below" and lists none.

    ``no_source``: the session has no traffic source, so no gate can run at all. The only way
    past is then an explicit "Apply without gate" (``--write`` only), journaled as
    ``planner apply --no-gate`` journals it; "Apply anyway" (``--force``) does not stand in
    for a source, as on the command line."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,n,q", "cancel", "Cancel")]
    #: Callers listed before "… and N more" (``planner plan`` lists them all).
    CALLERS_SHOWN: ClassVar[int] = 10

    def __init__(self, step_id: str, gate: GateResult | None = None, reason: str = "",
                 callers: list[str] | None = None, write: bool = False,
                 body: list[RenderableType] | None = None, traffic_error: str = "",
                 authz: bool = False, no_source: bool = False) -> None:
        super().__init__()
        #: An authorization enforce step: its gate is on would-be denials, not plaintext.
        self.authz = authz
        self.traffic_error = traffic_error
        self.no_source = no_source
        self.step_id = step_id
        self.gate = gate
        self.reason = reason
        self.callers = list(callers or [])
        self.write = write
        self.body = list(body or [])
        self.status = str(gate.status) if gate is not None else "unknown"

    @property
    def title_str(self) -> str:
        """The dialog's first line: the gate's verdict, before anything else."""
        if self.no_source:
            return f"No gate: step {self.step_id} is refused"
        return f"Gate {self.status}: step {self.step_id} is refused"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger"):
            yield Label(Text(clean(self.title_str), style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                # Text(...) and gate_text never read markup: callers' names are cluster data.
                yield Static(Text(self._verdict(), style="bold red"), id="gate-verdict")
                if self.reason:
                    yield Static(Text(clean(self.reason)), id="gate-reason")
                if self.gate is not None and not self.no_source:
                    yield Static(gate_text(self.gate, self.traffic_error, authz=self.authz),
                                 id="gate-detail")
                if self.callers and not (self.gate is not None and self.gate.offenders):
                    yield Static(self._callers(), id="gate-callers")
                for part in self.body:
                    yield Static(part)
                if self.write and self.no_source:
                    yield Static(Text("Apply without gate applies the step with no traffic "
                                      "checked; the journal records it as `planner apply "
                                      "--no-gate` does, and `planner status` and this plan "
                                      "show it as applied without gate.", style="dim"),
                                 id="dialog-details")
                elif self.write:
                    yield Static(Text("Apply anyway overrides the gate; the journal records "
                                      "the step as forced, and `planner status` shows it.",
                                      style="dim"), id="dialog-details")
            with Horizontal(classes="dialog-buttons"):
                if self.write and self.no_source:
                    yield Button("Apply without gate", variant="error", id="no-gate")
                elif self.write:
                    yield Button("Apply anyway", variant="error", id="force")
                yield Button("Cancel" if self.write else "Close", id="cancel")

    def _verdict(self) -> str:
        if self.no_source:
            risk = ("the policies would deny callers that call today" if self.authz else
                    "a caller still sends plaintext, which STRICT would cut off")
            return (f"No traffic source gates this step, so nothing shows whether {risk}. "
                    "Start the TUI with --prometheus URL (or --traffic FILE) to gate it, or "
                    "apply it without a gate. Nothing was written.")
        if self.authz:
            if self.status == "fail":
                return ("The policies would deny callers that call today: name them in the "
                        "policies (re-plan with the traffic that shows them) or make them "
                        "callers with a principal, then apply again. Nothing was written.")
            return ("No proof either way that the policies would deny nothing: keep the dry "
                    "run until the shadow denials (Prometheus) or the observed callers show "
                    "it, then apply again. Nothing was written.")
        if self.status == "fail":
            return ("Plaintext callers would be cut off: make the callers below use mutual "
                    "TLS (the MP301 blockers on the plan screen say how), then dry-run and "
                    "apply again. Nothing was written.")
        return ("No proof either way that every caller speaks mutual TLS, so STRICT could cut "
                "some off. Show that the callers below use mutual TLS (Istio telemetry in "
                "Prometheus over the window), then dry-run and apply again. Nothing was "
                "written.")

    def _callers(self) -> Text:
        text = Text("Calls the step puts under STRICT (its what-if, as its gate judges):\n",
                    style="bold")
        for key in self.callers[:self.CALLERS_SHOWN]:
            text.append("    ? ", style="yellow")
            text.append(clean(key, 120) + "\n", style="")
        if len(self.callers) > self.CALLERS_SHOWN:
            text.append(f"    … and {len(self.callers) - self.CALLERS_SHOWN} more\n",
                        style="dim")
        return text

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#force")
    def action_force(self) -> None:
        if self.write and not self.no_source:
            self.dismiss(True)

    @on(Button.Pressed, "#no-gate")
    def action_no_gate(self) -> None:
        if self.write and self.no_source:
            self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class PostApplyModal(ModalScreen[bool]):
    """After a STRICT step, plaintext or connection failures into its namespaces rose over
    the settle period (the engine's post-apply check, as ``planner apply`` runs it). Said
    first, then what rose. While the step is still applied, "Roll back…" opens the rollback
    dialog (its diff from the journal, then a confirmation); "Keep it" leaves the step as it
    is. After ``--auto-rollback`` the step is rolled back already and the dialog says so."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,n,q", "cancel", "Keep")]

    def __init__(self, step_id: str, lines: list[str], rolled_back: bool,
                 write: bool = True) -> None:
        super().__init__()
        self.step_id = step_id
        self.lines = lines
        self.rolled_back = rolled_back
        self.write = write

    @property
    def title_str(self) -> str:
        """The dialog's first line: the check failed, and where the step is now."""
        where = "rolled back (--auto-rollback)" if self.rolled_back else "still applied"
        return f"Post-apply check failed: step {self.step_id} is {where}"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger"):
            yield Label(Text(clean(self.title_str), style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Static(Text("\n".join(clean(line) for line in self.lines)),
                             id="post-apply-lines")
                if not self.rolled_back:
                    yield Static(Text("Callers may be failing now. Roll back opens the "
                                      "rollback dialog (its diff, then a confirmation).",
                                      style="dim"), id="dialog-details")
            with Horizontal(classes="dialog-buttons"):
                if self.write and not self.rolled_back:
                    yield Button("Roll back…", variant="error", id="rollback")
                    yield Button("Keep it", id="cancel")
                else:
                    yield Button("Close", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#rollback")
    def action_rollback(self) -> None:
        if self.write and not self.rolled_back:
            self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class HelpScreen(ModalScreen[None]):
    """Every key of this session, from the one action table."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, write: bool) -> None:
        super().__init__()
        self.write = write

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog help"):
            mode = "WRITE: apply and rollback are available" if self.write else \
                "READ-ONLY: start with --write to apply or roll back"
            yield Label(Text(f"Keys — {mode}", style="bold"), id="dialog-title")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("keys", "command")
        # Wrapping at fixed widths (rows grow): the dialog fits an 80-column terminal.
        table.add_column("action", width=33)
        table.add_column("where", width=14)
        for keys, command, description, where in help_rows(self.write):
            table.add_row(Text(keys), Text(command), Text(description), Text(where),
                          height=None)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
