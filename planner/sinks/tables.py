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
- ``-o wide`` on a console too narrow for every column at its narrowest readable width (no word
  folded) prints the default table, then each row's wide cells under its key (the row's ids),
  one ``header: value`` line each: squeezing eight columns into 80 would fold ``namespace``
  into ``namespa`` / ``ce``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from planner.domain.value import value_class
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


@value_class
class Column:
    """One column: its header, whether only ``-o wide`` shows it, whether its cells are ids to
    keep on one line when there is room (``whole``), its alignment, and whether it names the
    row when the wide cells are listed under it (``key``; by default the ``whole`` columns)."""

    header: str
    wide: bool = False
    whole: bool = False
    justify: Literal["left", "right"] = "left"
    key: bool = False


class KubeTable:
    """A Rich renderable table of ``columns``, wide-only columns dropped unless ``wide``.

    Rows are given with a cell for every column, wide or not, so a renderer builds one row and
    the view decides what shows. Column widths are settled when it is printed, for the width of
    the console it is printed on; so is whether the wide cells fit in the table or follow it
    (see the module notes)."""

    def __init__(self, title: str, columns: Sequence[Column], wide: bool = False,
                 caption: str | None = None) -> None:
        # Titles and captions are short, and Rich takes them as ``Text`` only.
        self.title = Text(clean(title))
        self.caption = None if caption is None else Text(clean(caption))
        self.wide = wide
        self.all_columns = list(columns)
        self.rows: list[tuple[Sequence[RenderableType], bool]] = []

    def add_row(self, *cells: RenderableType, end_section: bool = False) -> None:
        """One row: a cell per column of the full (wide) layout, in order."""
        self.rows.append((cells, end_section))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        shown = self._indexes(self.wide)
        narrow = self._indexes(False)
        if len(narrow) < len(shown) and not self._fits(console, width, shown):
            yield self.table(console, width, narrow)
            yield from self._wide_cells(console)
            return
        yield self.table(console, width, shown)

    def _indexes(self, wide: bool) -> list[int]:
        return [i for i, c in enumerate(self.all_columns) if wide or not c.wide]

    def _fits(self, console: Console, width: int, shown: list[int]) -> bool:
        """Whether every column of ``shown`` gets at least its narrowest readable width (its
        longest word or id part, header included) on a ``width``-column console."""
        columns = [self.all_columns[i] for i in shown]
        measures = _measures(console, width, columns,
                             [[cells[i] for i in shown] for cells, _ in self.rows])
        return sum(m.minimum for m in measures) <= _room(width, len(shown))

    def _wide_cells(self, console: Console) -> RenderResult:
        """After the default table: each row's key (its ids), then ``header: value`` for each
        wide cell that says something, indented."""
        keys = [i for i, c in enumerate(self.all_columns) if c.key] or [
            i for i, c in enumerate(self.all_columns) if c.whole and not c.wide]
        wide = [i for i, c in enumerate(self.all_columns) if c.wide and i not in keys]
        yield Text(f"{self.title.plain}: the -o wide columns, by row")
        label = max(cell_len(self.all_columns[i].header) for i in wide) + 1
        for cells, _ in self.rows:
            key = Text("  ".join(_plain(console, cells[i]) for i in keys), style="bold")
            grid = Table.grid(padding=(0, 1))
            grid.add_column(width=label + 2, justify="right")
            grid.add_column(overflow="fold")
            for i in wide:
                if _plain(console, cells[i]):
                    grid.add_row(Text(f"{self.all_columns[i].header}:", style="dim"), cells[i])
            yield key
            if grid.row_count:
                yield grid

    def table(self, console: Console, width: int, shown: list[int] | None = None) -> Table:
        """The Rich table of the columns ``shown`` (default: the view's) laid out for
        ``width`` columns."""
        shown = self._indexes(self.wide) if shown is None else shown
        columns = [self.all_columns[i] for i in shown]
        rows = [([cells[i] for i in shown], end) for cells, end in self.rows]
        fixed = _widths(console, width, columns, [cells for cells, _ in rows])
        table = Table(title=self.title, title_justify="left", caption=self.caption,
                      caption_justify="left")
        for index, column in enumerate(columns):
            table.add_column(column.header, justify=column.justify, overflow="fold",
                             width=fixed.get(index))
        for cells, end_section in rows:
            table.add_row(*cells, end_section=end_section)
        return table


def _plain(console: Console, cell: RenderableType) -> str:
    """A cell's text on one line (a row's key; whether a wide cell is empty)."""
    if isinstance(cell, Id):
        return cell.text
    if isinstance(cell, Text):
        return cell.plain.strip()
    if isinstance(cell, str):
        return cell.strip()
    return " ".join("".join(segment.text for segment in line).strip()
                    for line in console.render_lines(cell))


def _room(width: int, columns: int) -> int:
    """What ``columns`` columns leave for text on a ``width``-column console: each has a
    border on its left and one space of padding on either side, and the table a border on
    its right."""
    return width - 1 - 3 * columns


def _measures(console: Console, width: int, columns: Sequence[Column],
              rows: Sequence[Sequence[RenderableType]]) -> list[Measurement]:
    """Per column, over its header and cells: the narrowest width that breaks no word (nor
    an id's part), and the width that keeps every cell on one line."""
    options = console.options.update_width(width)
    found = []
    for index, column in enumerate(columns):
        cells = [Text(column.header), *(cells[index] for cells in rows)]
        sizes = [Measurement.get(console, options, cell) for cell in cells]
        found.append(Measurement(max(m.minimum for m in sizes), max(m.maximum for m in sizes)))
    return found


def _widths(console: Console, width: int, columns: Sequence[Column],
            rows: Sequence[Sequence[RenderableType]]) -> dict[int, int]:
    """Fixed widths for the columns that need them (none when every cell fits on one line).
    When every column can have its narrowest readable width, each gets it, ``whole`` columns
    then their full width in column order while the rest stays readable, and what is left
    goes to each column in proportion to what it still lacks: Rich's own squeeze takes from
    the widest column first, down past its longest word. Otherwise :func:`_whole_widths`."""
    measures = _measures(console, width, columns, rows)
    room = _room(width, len(columns))
    if sum(m.maximum for m in measures) <= room:
        return {}
    if sum(m.minimum for m in measures) > room:
        return _whole_widths(measures, columns, room)
    widths = [m.minimum for m in measures]
    spare = room - sum(widths)
    for index, column in enumerate(columns):
        whole = measures[index].maximum - widths[index]
        if column.whole and whole <= spare:
            widths[index] += whole
            spare -= whole
    lacking = [m.maximum - w for m, w in zip(measures, widths, strict=True)]
    total = sum(lacking)
    shares = [spare * lack // total for lack in lacking]
    for index, share in enumerate(shares):
        widths[index] += share
    # The rounding's remainder, a cell each, to the columns that still lack most.
    for index in sorted(range(len(columns)), key=lambda i: lacking[i] - shares[i],
                        reverse=True)[:spare - sum(shares)]:
        widths[index] += 1
    return dict(enumerate(widths))


def _whole_widths(measures: Sequence[Measurement], columns: Sequence[Column],
                  room: int) -> dict[int, int]:
    """On a console too narrow for every column's narrowest readable width: widths that keep
    ``whole`` columns on one line, in column order, as long as every other column keeps a
    readable width (:data:`_READABLE`); Rich squeezes the others."""
    widest = [m.maximum for m in measures]
    needed = [min(w, _READABLE) for w in widest]
    fixed: dict[int, int] = {}
    for index, column in enumerate(columns):
        if not column.whole:
            continue
        extra = widest[index] - needed[index]
        if sum(needed) + extra <= room:
            needed[index] = widest[index]
            fixed[index] = widest[index]
    return fixed
