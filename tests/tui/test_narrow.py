"""The TUI on an 80x24 terminal (Textual's pilot): every table of a screen fits its width, so
no column is cut off past the right edge (a horizontal scroll hides it as surely as a crop)."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.tui.conftest import journey, ready, shop_app

NARROW = (80, 24)


def _overflowing(tables: list[DataTable[object]]) -> list[str]:
    return [f"{t.id}: {t.virtual_size.width} columns in {t.scrollable_content_region.width}"
            for t in tables if t.max_scroll_x > 0]


@journey
async def test_the_assess_screen_fits_80_columns() -> None:
    app = shop_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        tables = list(app.screen.query(DataTable))
        assert {t.id for t in tables} == {"factors", "dataplane", "costs"}
        assert not _overflowing(tables), _overflowing(tables)
        factors = app.screen.query_one("#factors", DataTable)
        assert [str(c.label) for c in factors.columns.values()] == [
            "code", "weight", "factor", "value", "threshold"]
        for table in tables:  # a header is never cut either
            assert all(c.get_render_width(table) >= len(str(c.label)) + 2
                       for c in table.columns.values()), table.id
        # Long titles wrap onto a second line instead of widening the table.
        assert max(r.height for r in factors.rows.values()) > 1
        titles = " ".join(str(factors.get_cell_at((i, 2)))
                          for i in range(factors.row_count))
        assert app.assessment is not None
        for factor in app.assessment.factors:
            assert factor.title in titles
