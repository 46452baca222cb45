"""Tables that read on an 80-column terminal, the way ``kubectl get`` does it.

Rules every human table follows (the README says them to users):

- No cell is ever cropped: every column folds a word longer than its width onto the next line
  instead of cutting it with ``…``, and prose wraps at spaces. An id split over two lines is
  still whole; an id cut to ``Service/data/pos…`` is not.
- The table never grows past the console, so the terminal never cuts off its right-hand
  columns (the ones that decide: blockers, gates).
- Ids (``Service/data/postgres``, step ids, labels) break after a ``/``, ``-``, ``.``, ``:`` or
  ``=`` when they must, and fold inside a part only when the part alone is wider than the column.
- Ids people type back (step ids, namespaces) stay on one line whenever the console leaves the
  other columns room to wrap; only on a console too narrow for that are they folded too.
- The default view holds the columns that decide something (step, namespace, state, blockers);
  the columns that explain (titles, evidence, reasons, assumptions) are ``wide`` and shown with
  ``-o wide`` only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from planner.untrusted import Lines, clean

#: Below this a wrapping column stops being readable; whole columns leave others this much.
_READABLE = 8

#: An id may break after these (``Service/`` ``data/`` ``postgres``, ``50-`` ``exception-``);
#: a list of ids or labels after its commas and spaces too.
_ID_BREAK = re.compile(r"(?<=[/.:=,\s])|(?<=-)(?!>)")


class Id:
    """An id as a table cell: breaks between its parts (see the module notes), never cut.
    The text is untrusted and shown as :func:`planner.untrusted.clean` shows it."""

    def __init__(self, value: object, style: str = "") -> None:
        self.text = clean(value)
        self.style = style
        self.parts = [part for part in _ID_BREAK.split(self.text) if part]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((cell_len(part) for part in self.parts), default=0)
        return Measurement(longest, cell_len(self.text)).with_maximum(options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(options.max_width, 1)
        lines: list[str] = []
        line = ""
        for part in self.parts:
            if cell_len(line + part) <= width:
                line += part
                continue
            if line:
                lines.append(line)
            *full, line = chop_cells(part, width) or [""]
            lines.extend(full)
        lines.append(line)
        yield Lines(Text("\n".join(lines), style=self.style, overflow="fold"))


@dataclass(frozen=True)
class Column:
    """One column: its header, whether only ``-o wide`` shows it, whether its cells are ids to
    keep on one line when there is room (``whole``), and its alignment."""

    header: str
    wide: bool = False
    whole: bool = False
    justify: Literal["left", "right"] = "left"


class KubeTable:
    """A Rich renderable table of ``columns``, wide-only columns dropped unless ``wide``.

    Rows are given with a cell for every column, wide or not, so a renderer builds one row and
    the view decides what shows. Column widths are settled when it is printed, for the width of
    the console it is printed on."""

    def __init__(self, title: str, columns: Sequence[Column], wide: bool = False,
                 caption: str | None = None) -> None:
        # Titles and captions are short, and Rich takes them as ``Text`` only.
        self.title = Text(clean(title))
        self.caption = None if caption is None else Text(clean(caption))
        self._shown = [i for i, column in enumerate(columns) if wide or not column.wide]
        self.columns = [columns[i] for i in self._shown]
        self.rows: list[tuple[list[RenderableType], bool]] = []

    def add_row(self, *cells: RenderableType, end_section: bool = False) -> None:
        """One row: a cell per column of the full (wide) layout, in order."""
        self.rows.append(([cells[i] for i in self._shown], end_section))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(console, options.max_width)

    def table(self, console: Console, width: int) -> Table:
        """The Rich table laid out for ``width`` columns."""
        fixed = self._whole_widths(console, width)
        table = Table(title=self.title, title_justify="left", caption=self.caption,
                      caption_justify="left")
        for index, column in enumerate(self.columns):
            table.add_column(column.header, justify=column.justify, overflow="fold",
                             width=fixed.get(index))
        for cells, end_section in self.rows:
            table.add_row(*cells, end_section=end_section)
        return table

    def _whole_widths(self, console: Console, width: int) -> dict[int, int]:
        """Widths that keep ``whole`` columns on one line, in column order, as long as every
        other column keeps a readable width."""
        options = console.options.update_width(width)
        widest = []
        for index, column in enumerate(self.columns):
            cells = [Text(column.header), *(cells[index] for cells, _ in self.rows)]
            widest.append(max(Measurement.get(console, options, cell).maximum
                              for cell in cells))
        # Each column has a border on its left and one space of padding on either side.
        room = width - 1 - 3 * len(self.columns)
        needed = [min(w, _READABLE) for w in widest]
        fixed: dict[int, int] = {}
        for index, column in enumerate(self.columns):
            if not column.whole:
                continue
            extra = widest[index] - needed[index]
            if sum(needed) + extra <= room:
                needed[index] = widest[index]
                fixed[index] = widest[index]
        return fixed
