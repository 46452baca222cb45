"""What every main screen shares: the header, the prompt, the footer and the filter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer

from tui.widgets.header import MeshHeader
from tui.widgets.prompt import PromptBar

if TYPE_CHECKING:
    from tui.app import MeshplanApp


def set_columns(table: DataTable[Any], names: tuple[str, ...],
                widths: Mapping[str, int] | None = None) -> None:
    """Give ``table`` exactly these columns (rows go with them when they change): the
    observed-traffic columns appear only once a scan brought traffic. ``widths``: the fixed
    width of the columns whose text wraps (their rows grow) to keep the table inside an
    80-column terminal."""
    if tuple(str(c.label) for c in table.columns.values()) != names:
        table.clear(columns=True)
        for name in names:
            table.add_column(name, width=(widths or {}).get(name))


class MeshScreen(Screen[None]):
    """A screen with the header on top and the ``:``/``/`` prompt above the footer.

    Subclasses compose their body in :meth:`compose_body`, draw the app's data in
    :meth:`refresh_data` and filter their list in :meth:`apply_filter`."""

    #: The screen name used by the action table (``assess``, ``graph``...).
    name_in_table = ""
    title_text = ""
    filter_text = ""

    @property
    def mesh(self) -> MeshplanApp:
        """The app, typed."""
        return cast("MeshplanApp", self.app)

    def compose(self) -> ComposeResult:
        yield MeshHeader(id="header")
        yield from self.compose_body()
        yield PromptBar(id="prompt")
        # Compact: with --write the apply and rollback keys must fit on a 120-column terminal.
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        # Textual calls the on_mount of every class in the MRO: subclasses set up their tables
        # in prepare() instead, so a mount draws the data once.
        self.prepare()
        self.mesh.register_view(self)
        self.refresh_data()

    def prepare(self) -> None:
        """Set up the screen's widgets (table columns) before its first draw."""

    def on_unmount(self) -> None:
        self.mesh.unregister_view(self)

    def on_screen_resume(self) -> None:
        self.mesh.screen_title = self.title_text
        self.mesh.bump()

    def refresh_data(self) -> None:
        """Redraw from the app's analysis, plan and assessment (any may still be None)."""

    def apply_filter(self, query: str, now: bool = True) -> None:
        """Show only the rows matching ``query`` (see :func:`tui.format.matches`); ``now`` is
        False while the user types (a big list waits for a pause, see :mod:`tui.rows`)."""

    def open_prompt(self, kind: str) -> None:
        """Open the ``:`` command line or the ``/`` filter."""
        self.query_one(PromptBar).open(kind, self.filter_text if kind == "filter" else "")

    def close_prompt(self) -> bool:
        """Close the prompt if it is open; True when it was."""
        prompt = self.query_one(PromptBar)
        if prompt.is_open:
            prompt.close()
            self.focus_main()
            return True
        return False

    def focus_main(self) -> None:
        """Give the focus back to the screen's main list."""

    @on(PromptBar.FilterChanged)
    def _filter_changed(self, event: PromptBar.FilterChanged) -> None:
        self.filter_text = event.value
        self.apply_filter(event.value, now=False)

    @on(PromptBar.Done)
    def _prompt_done(self, event: PromptBar.Done) -> None:
        self.focus_main()
        if event.kind == "filter":
            self.filter_text = event.value
            self.apply_filter(event.value)
        else:
            self.mesh.run_command(event.value)

    def context(self) -> dict[str, str | None]:
        """What the screen has selected, for actions (``step``, ``namespace``...)."""
        return {}
