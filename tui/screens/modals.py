"""Dialogs: confirm a dangerous action (with its dry-run diff), show an error or a result, and
the ``?`` help generated from the action table."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static

from tui.actions import help_rows
from tui.format import clean, gate_text


class ConfirmModal(ModalScreen[bool]):
    """Shows what will change and asks; ``y``/``enter`` on the button confirms, ``esc``/``n``
    cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,n", "cancel", "Cancel"),
                                             Binding("y", "confirm", "Confirm")]

    def __init__(self, title: str, body: list[Any], confirm_label: str) -> None:
        super().__init__()
        self.title_str = title
        self.body = body
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger"):
            yield Label(Text(clean(self.title_str), style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                for part in self.body:
                    yield Static(part)
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


class GateRefusedModal(MessageModal):
    """The apply engine refused a STRICT step: its plaintext gate did not pass.

    Only a Close button, in every mode: overriding a gate is a deliberate, journaled act left to
    ``planner apply --force``, and a read-only session is not even told about it."""

    def __init__(self, step_id: str, reason: str, gate: Any = None, write: bool = False) -> None:
        lines = ["Nothing was written. Make the callers below use mutual TLS (the MP301 "
                 "blockers on the plan screen say how), then dry-run and apply again."]
        if write:
            lines.append("To override the gate, run `planner apply --force` from the command "
                         "line: it records the override in the journal.")
        super().__init__(f"Gate refused step {step_id}", reason, "\n".join(lines))
        self.step_id = step_id
        self.reason = reason
        self.gate = gate

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog danger"):
            yield Label(Text(clean(self.title_str), style="bold"), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                # Text(...) and gate_text never read markup: callers' names are cluster data.
                yield Static(Text(clean(self.message)), id="gate-reason")
                if self.gate is not None:
                    yield Static(gate_text(self.gate), id="gate-detail")
                yield Static(Text(self.details, style="dim"), id="dialog-details")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="close")


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
        table.add_columns("keys", "command", "action", "where")
        for keys, command, description, where in help_rows(self.write):
            table.add_row(keys, command, Text(description), where)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
