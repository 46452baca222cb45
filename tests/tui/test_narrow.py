"""The TUI on an 80x24 terminal (Textual's pilot): every table of every screen fits its width,
so no column is cut off past the right edge (a horizontal scroll hides it as surely as a crop),
and no header is cut either; text that does not fit wraps onto more lines of its row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from planner.service import TrafficSource
from tests.traffic.shop_truth import write_csv
from tests.tui.conftest import journey, ready, shop_app, wait_for
from tui.app import MeshplanApp
from tui.screens.graph import EdgeScreen, NamespaceScreen
from tui.screens.modals import HelpScreen
from tui.screens.plan import PlanScreen

NARROW = (80, 24)


def _cut(app: MeshplanApp) -> list[str]:
    """Every table of the current screen that is wider than its room, or cuts a header."""
    found = []
    for table in app.screen.query(DataTable):
        if table.max_scroll_x > 0:
            found.append(f"{table.id}: {table.virtual_size.width} columns in "
                         f"{table.scrollable_content_region.width}")
        found += [f"{table.id}: header {c.label} cut" for c in table.columns.values()
                  if c.get_render_width(table) < len(str(c.label)) + 2]
    return found


@journey
async def test_the_assess_screen_fits_80_columns() -> None:
    app = shop_app()
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        tables = list(app.screen.query(DataTable))
        assert {t.id for t in tables} == {"factors", "dataplane", "costs"}
        assert not _cut(app), _cut(app)
        factors = app.screen.query_one("#factors", DataTable)
        assert [str(c.label) for c in factors.columns.values()] == [
            "code", "weight", "factor", "value", "threshold"]
        # Long titles wrap onto a second line instead of widening the table.
        assert max(r.height for r in factors.rows.values()) > 1
        titles = " ".join(str(factors.get_cell_at((i, 2)))
                          for i in range(factors.row_count))
        assert app.assessment is not None
        for factor in app.assessment.factors:
            assert factor.title in titles


async def _visit(pilot: Any, app: MeshplanApp) -> dict[str, list[str]]:
    """Every screen and dialog with a table, and what each cuts."""
    cut = {}
    await pilot.press("2")
    await pilot.pause()
    cut["graph"] = _cut(app)
    await pilot.press("colon", *"ns orders", "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, NamespaceScreen)
                   and app.screen.query_one("#edges", DataTable).row_count > 0, what="edges")
    cut["namespace"] = _cut(app)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, EdgeScreen), what="an edge")
    cut["edge"] = _cut(app)
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen), what="the plan")
    cut["plan"] = _cut(app)
    await pilot.press("question_mark")
    await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
    cut["help"] = _cut(app)
    return {screen: found for screen, found in cut.items() if found}


@journey
async def test_every_screen_fits_80_columns(tmp_path: Path) -> None:
    traffic = TrafficSource(traffic_file=str(write_csv(tmp_path / "edges.csv")))
    app = shop_app(traffic=traffic, write=True, out_dir=str(tmp_path / "out"),
                   journal_path=str(tmp_path / "journal.json"))
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        assert app.analysis is not None and app.analysis.traffic is not None
        assert not await _visit(pilot, app)
        assert not [f for f in app.failures if not f.expected], app.failures


@journey
async def test_the_plan_stacks_its_panes_below_100_columns() -> None:
    app = shop_app(start="plan")
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        steps = app.screen.query_one("#steps-pane")
        detail = app.screen.query_one("#step-detail")
        assert detail.region.y >= steps.region.bottom
        assert detail.region.width == steps.region.width
        table = app.screen.query_one("#steps", DataTable)
        assert [str(c.label) for c in table.columns.values()] == [
            "#", "step", "state", "blockers"]
        # A step id longer than its column breaks after a '-', onto a second line of its row.
        long = "50-exception-payments-payments-webhook"
        assert next(row.height for key, row in table.rows.items() if key.value == long) == 2
    wide = shop_app(start="plan")
    async with wide.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        steps = wide.screen.query_one("#steps-pane")
        detail = wide.screen.query_one("#step-detail")
        assert detail.region.x >= steps.region.right and not _cut(wide)


@journey
async def test_the_header_cuts_a_long_source_instead_of_wrapping(tmp_path: Path) -> None:
    """A header that wrapped showed its first line only: on 80 columns a long manifests path
    left ``source:`` with nothing after it. It stays one line, cut with an ellipsis."""
    import shutil

    from planner.service import ManifestInput
    from tui.options import TuiOptions

    folder = tmp_path / "a-manifests-folder-with-a-rather-long-name" / "shop"
    shutil.copytree("sample_clusters/shop", folder)
    app = MeshplanApp(TuiOptions(ManifestInput((str(folder),), recursive=True)))
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        line = app.screen.query_one("#header").render_line(0).text
        assert "source: " + str(tmp_path)[:8] in line, line
        assert line.rstrip().endswith("…"), line


@journey
async def test_a_long_verdict_leaves_the_steps_in_view_on_80x24() -> None:
    """The shop read without -R is judged mesh-overkill: verdict, summary and two lighter
    alternatives are 8 lines at 80 columns, which used to push every step row out of the
    stacked steps pane. The verdict now scrolls within 4 lines and the steps keep their rows."""
    from planner.service import ManifestInput
    from tui.options import TuiOptions

    app = MeshplanApp(TuiOptions(ManifestInput(("sample_clusters/shop",)), start="plan"))
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        assert app.plan is not None and app.plan.fit is not None and app.plan.fit.overkill
        table = app.screen.query_one("#steps", DataTable)
        assert app.focused is table
        # Rows drawn inside the table's room, below its header line.
        assert table.scrollable_content_region.height - table.header_height >= 5
        scroll = app.screen.query_one("#plan-verdict-scroll")
        assert scroll.region.height <= 4 and scroll.max_scroll_y > 0
        # Nothing of the verdict is lost: it is all there, a scroll away.
        verdict = str(app.screen.query_one("#plan-verdict").render())
        for alternative in app.plan.fit.alternatives:
            assert alternative.name in verdict
        # Keyboard users reach it: tab to the step detail, tab to the verdict, down scrolls.
        await pilot.press("tab", "tab", "down")
        await pilot.pause()
        assert app.focused is scroll and scroll.scroll_y > 0


@journey
async def test_apply_dialogs_keep_their_buttons_on_80x24(tmp_path: Path) -> None:
    """A dry-run diff longer than the terminal scrolls inside the dialog: the body is held to
    45% of the height, so Apply and Cancel (or the gate's buttons) stay on screen. It used to
    grow to 30 lines, which pushed the buttons out of the 19-line dialog at 80x24 (and at
    120x40 too for long diffs)."""
    from textual.widgets import Button

    from tui.screens.modals import ConfirmModal, GateModal

    app = shop_app(write=True, out_dir=str(tmp_path / "out"),
                   journal_path=str(tmp_path / "journal.json"), start="plan")
    async with app.run_test(size=NARROW) as pilot:
        await ready(pilot)
        assert app.plan is not None
        ids = [s.id for s in app.plan.steps]
        wanted = ["20-mesh-permissive", "30-enroll-storefront",
                  next(i for i in ids if i.startswith("50-exception-")),
                  next(i for i in ids if i.startswith("40-strict-"))]
        long_bodies = 0
        for step_id in wanted:
            screen = app.screen
            assert isinstance(screen, PlanScreen)
            screen.select_step(step_id)
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, (ConfirmModal, GateModal)),
                           what=f"the dialog of {step_id}")
            await pilot.pause()
            dialog = app.screen.query_one("#dialog")
            body = app.screen.query_one("#dialog-body")
            long_bodies += body.max_scroll_y > 0
            buttons = list(app.screen.query(Button))
            assert buttons, step_id
            for button in buttons:
                region = button.region
                assert region.height > 0 and region.bottom <= dialog.region.bottom <= 24, \
                    (step_id, str(button.label), region, dialog.region)
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, PlanScreen), what="the plan")
        assert long_bodies, "no dialog had more to show than its body: the test shows nothing"
