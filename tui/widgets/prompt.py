"""The bottom prompt: ``:`` command line and ``/`` filter (k9s)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.message import Message
from textual.widgets import Input


class PromptBar(Input):
    """Hidden until ``:`` or ``/``; ``enter`` submits, ``esc`` (the app's back) closes."""

    DEFAULT_CSS = """
    PromptBar { display: none; dock: bottom; height: 1; border: none; padding: 0 1; }
    PromptBar.-open { display: block; }
    """

    @dataclass
    class Done(Message):
        """The prompt was submitted (``kind`` is ``command`` or ``filter``)."""

        kind: str
        value: str

    @dataclass
    class FilterChanged(Message):
        """The filter text changed (live filtering)."""

        value: str

    kind: str = "command"

    def open(self, kind: str, value: str = "") -> None:
        """Show the prompt for ``kind`` and focus it."""
        self.kind = kind
        self.placeholder = ("command: assess graph plan ns NAME rescan help q" if kind == "command"
                            else "filter (/!text hides matches)")
        self.value = value
        self.add_class("-open")
        self.focus()

    def close(self) -> None:
        """Hide the prompt."""
        self.remove_class("-open")

    @property
    def is_open(self) -> bool:
        """True while the prompt is shown."""
        return self.has_class("-open")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close()
        self.post_message(self.Done(self.kind, event.value))

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.kind == "filter" and self.is_open:
            self.post_message(self.FilterChanged(event.value))
