"""The rows of a list: built and filtered off the UI thread on a big list, shown a page at a time.

A namespace of 10,000 Services is 10,000 table rows. Adding a row to a ``DataTable`` measures
every cell on the UI thread, so a screen never adds them all in one go: the first page (a
screenful and some) goes in at once and the rest follows :data:`SETTLE` seconds later in chunks
on later turns of the event loop, which keeps keys and scrolling answered in between, up to
:data:`LIMIT` rows and a last row saying how many more the filter would show (refine it to see
them). A newer fill (another filter keystroke, fresh data) drops the chunks still pending. A
row's cells (Rich text) are made when it goes into the table, never for the rows a filter or
the limit keeps out: building a row prepares only its key and the text the ``/`` filter
searches. On a big list a key is matched at once after a pause in typing, and keys typed within
:data:`DEBOUNCE` of the last match wait for the typing to pause; the match runs in a thread
worker. Small lists (the plan's steps, a sample's namespaces) are filled and filtered at once,
as before."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable

from tui.format import needle

#: Rows shown at once: more than a tall terminal's screenful.
FIRST_PAGE = 60
#: Rows added per later turn of the event loop.
CHUNK = 100
#: Seconds a fill waits after its first page before adding the rest: a key typed meanwhile
#: starts a new fill without waiting behind chunks of the old one.
SETTLE = 0.25
#: From this many rows a list is built, and its filter matched, in a thread worker.
BIG = 1000
#: Seconds after a big list's last match during which further keys wait for a pause in typing
#: this long (a key after a longer pause is matched at once).
DEBOUNCE = 0.03
#: Seconds between two chunks: long enough for the screen to repaint and keys to be read.
CHUNK_GAP = 0.005
#: Most rows a table holds; past it, one last row says how many more the filter would show.
#: Textual's DataTable does work in proportion to its rows on every change (it re-lists them
#: in order), so an ever longer table makes every later chunk and keystroke slower.
LIMIT = 2000
#: The key of that last row.
MORE = "…more"


@dataclass(frozen=True, slots=True)
class Row:
    """One table row: its key, what makes its cells, the lower-cased text the filter searches
    and the object it shows (what selecting it opens)."""

    key: str
    make: Callable[[], tuple[RenderableType, ...]]
    search: str
    value: object = None

    @property
    def cells(self) -> tuple[RenderableType, ...]:
        """The row's cells, made now (rows are made for the table, not kept)."""
        return self.make()


def row(key: str,
        cells: tuple[RenderableType, ...] | Callable[[], tuple[RenderableType, ...]],
        *fields: object, value: object = None) -> Row:
    """A row whose filter searches ``fields`` (each on its own: a query never spans two).
    ``cells`` may be a function making them when the row goes into the table: on a big list,
    most rows never do."""
    make = cells if callable(cells) else partial(tuple, cells)
    return Row(key, make, "\x00".join(str(f).lower() for f in fields), value)


def select(rows: Sequence[Row], query: str) -> list[Row]:
    """The rows the ``/`` filter keeps (the meaning of :func:`tui.format.matches`)."""
    text, invert = needle(query)
    if not text:
        return list(rows)
    return [r for r in rows if (text in r.search) != invert]


class TableFeed:
    """Fills one ``DataTable`` of ``owner`` with :class:`Row` s, a page at a time.

    ``on_filled`` runs on the UI thread once the first page is in the table (the screen
    restores its cursor and detail pane there)."""

    def __init__(self, owner: Widget, table_id: str,
                 on_filled: Callable[[], None] | None = None, height: int | None = 1) -> None:
        self.owner = owner
        self.table_id = table_id
        self.on_filled = on_filled
        #: Lines per row; None: as many as its cells wrap to (measured when it is added).
        self.height = height
        self.rows: list[Row] = []
        self._values: dict[str, object] = {}
        self._added = 0
        #: The rows the current filter keeps, in order (all of them may not be in the table
        #: yet: see :attr:`pending`).
        self.shown: list[Row] = []
        self.query = ""
        #: Bumped by every fill; work started for an older one is dropped when it lands.
        self.generation = 0
        self._timer: Timer | None = None
        #: When the last match of a big list started (``time.monotonic``).
        self._matched = -DEBOUNCE

    @property
    def table(self) -> DataTable[Any]:
        """The table this feed fills."""
        return self.owner.query_one(f"#{self.table_id}", DataTable)

    @property
    def big(self) -> bool:
        """True when this list is filtered in a worker after a pause in typing."""
        return len(self.rows) >= BIG

    @property
    def pending(self) -> int:
        """Rows the filter keeps that are not in the table yet (up to :data:`LIMIT`)."""
        return min(len(self.shown), LIMIT) - self._added

    @property
    def hidden(self) -> int:
        """Rows the filter keeps beyond :data:`LIMIT` (the table's last row counts them)."""
        return max(len(self.shown) - LIMIT, 0)

    def show(self, rows: list[Row], query: str) -> None:
        """Replace the rows and fill the table with those ``query`` keeps."""
        self.rows = rows
        self._values = {r.key: r.value for r in rows}
        self.filter(query, now=True)

    def value(self, key: str | None) -> object:
        """The object shown by the row ``key`` (None for no row)."""
        return self._values.get(key) if key is not None else None

    def load(self, build: Callable[[], list[Row]], size: int, query: str) -> None:
        """Build the rows with ``build`` and show them: in a thread worker when ``size`` (the
        expected number of rows) makes a big list, else at once. ``build`` only reads."""
        self.query = query
        if size < BIG:
            self.show(build(), query)
            return
        self.generation += 1
        generation = self.generation

        def work() -> None:
            rows = build()
            self.owner.app.call_from_thread(self._built, generation, rows)

        self.owner.run_worker(work, thread=True, exclusive=True, exit_on_error=False,
                              group=f"rows-{self.table_id}", name="rows")

    def _built(self, generation: int, rows: list[Row]) -> None:
        if generation == self.generation and self.owner.is_attached:
            self.show(rows, self.query)

    def filter(self, query: str, now: bool = False) -> None:
        """Show the rows ``query`` keeps: at once on a small list or when ``now``. A big list is
        matched off the UI thread: at once when its last match is :data:`DEBOUNCE` seconds old
        and none waits, else after :data:`DEBOUNCE` seconds without another call (fast typing
        is matched once per pause, not once per key)."""
        self.query = query
        self.generation += 1
        waiting = self._timer is not None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self.big:
            self._fill(self.generation, select(self.rows, query))
        elif now or (not waiting and time.monotonic() - self._matched >= DEBOUNCE):
            self._match(self.generation)
        else:
            generation = self.generation
            self._timer = self.owner.set_timer(DEBOUNCE, lambda: self._match(generation))

    def _match(self, generation: int) -> None:
        self._timer = None
        self._matched = time.monotonic()
        rows, query = self.rows, self.query

        def work() -> None:
            kept = select(rows, query)
            self.owner.app.call_from_thread(self._fill, generation, kept)

        self.owner.run_worker(work, thread=True, exclusive=True, exit_on_error=False,
                              group=f"filter-{self.table_id}", name="filter")

    def _fill(self, generation: int, kept: list[Row]) -> None:
        if generation != self.generation or not self.owner.is_attached:
            return
        self.shown = kept
        first = FIRST_PAGE if self.big else LIMIT
        self.table.clear()
        self._added = 0
        self._add(kept[:first])
        if self.on_filled is not None:
            self.on_filled()
        self._later(generation, first, SETTLE)

    def _later(self, generation: int, start: int, wait: float = CHUNK_GAP) -> None:
        if self.pending > 0:
            self.owner.set_timer(wait, lambda: self._chunk(generation, start))
        elif self.hidden:
            table = self.table
            more = Text(f"… {self.hidden} more: refine the filter (/)", style="dim italic",
                        end="")
            table.add_row(more, *([""] * (len(table.columns) - 1)), key=MORE)

    def _chunk(self, generation: int, start: int) -> None:
        if generation != self.generation or not self.owner.is_attached:
            return
        self._add(self.shown[start:min(start + CHUNK, LIMIT)])
        self._later(generation, start + CHUNK)

    def _add(self, rows: Sequence[Row]) -> None:
        table = self.table
        for r in rows:
            table.add_row(*r.cells, key=r.key, height=self.height)
        self._added += len(rows)
