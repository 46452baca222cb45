"""A namespace of thousands of Services stays live: each mount draws once, rows are built and
filtered off the UI thread, the table shows a first page at once and the rest in chunks, a
row's cells are made only when it goes into the table, and fast typing in the filter is matched
once per pause, not once per key. These tests count work
(draws, rows added, filter passes, threads); bench/tui.py measures the time."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from planner.service import ManifestInput
from tests.tui.conftest import SIZE, journey, ready, shop_app, wait_for
from tui import rows as rows_module
from tui.app import MeshplanApp
from tui.options import TuiOptions
from tui.rows import BIG, FIRST_PAGE, Row
from tui.screens import graph as graph_screens
from tui.screens.assess import AssessScreen
from tui.screens.base import MeshScreen
from tui.screens.graph import EdgeScreen, GraphScreen, NamespaceScreen
from tui.screens.plan import PlanScreen

ROOT = Path(__file__).resolve().parents[2]
SERVICES = 1500
NAMESPACE = "ns-000"


@pytest.fixture(scope="module")
def big_namespace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One namespace of 1,500 Services and Deployments (above the big-list threshold)."""
    sys.path.insert(0, str(ROOT / "sample_clusters"))
    try:
        import generate
    finally:
        sys.path.remove(str(ROOT / "sample_clusters"))
    out = tmp_path_factory.mktemp("big")
    generate.generate(1, SERVICES, seed=7, out=out, fmt="yaml")
    return out / "manifests"


class Counts:
    """Counts draws per screen class, rows added per table and filter passes with their
    threads, by wrapping the methods for the duration of a test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.draws: Counter[str] = Counter()
        self.added: Counter[str] = Counter()
        self.filters: list[tuple[str, bool]] = []
        self.builds: list[bool] = []
        for cls in (AssessScreen, GraphScreen, NamespaceScreen, EdgeScreen, PlanScreen):
            self._count_draws(monkeypatch, cls)
        add_row = DataTable.add_row

        def counted_add_row(table: DataTable[Any], *cells: Any, **kwargs: Any) -> Any:
            self.added[str(table.id)] += 1
            return add_row(table, *cells, **kwargs)

        monkeypatch.setattr(DataTable, "add_row", counted_add_row)
        select = rows_module.select

        def counted_select(rows: list[Row], query: str) -> list[Row]:
            if len(rows) >= BIG:  # a small list is filtered at once, on the UI thread
                self.filters.append((query,
                                     threading.current_thread() is threading.main_thread()))
            return select(rows, query)

        monkeypatch.setattr(rows_module, "select", counted_select)
        service_rows = graph_screens.service_rows

        def counted_build(analysis: Any, namespace: str) -> list[Row]:
            self.builds.append(threading.current_thread() is threading.main_thread())
            return service_rows(analysis, namespace)

        monkeypatch.setattr(graph_screens, "service_rows", counted_build)
        self.cells = 0
        service_cells = graph_screens._service_cells

        def counted_cells(*args: Any) -> tuple[Any, ...]:
            self.cells += 1
            return service_cells(*args)

        monkeypatch.setattr(graph_screens, "_service_cells", counted_cells)

    def _count_draws(self, monkeypatch: pytest.MonkeyPatch, cls: type[MeshScreen]) -> None:
        draw = cls.refresh_data

        def counted(screen: MeshScreen) -> None:
            self.draws[type(screen).__name__] += 1
            draw(screen)

        monkeypatch.setattr(cls, "refresh_data", counted)

    def reset(self) -> None:
        """Forget what was counted so far."""
        self.draws.clear()
        self.added.clear()
        self.filters.clear()
        self.builds.clear()
        self.cells = 0


def big_app(folder: Path) -> MeshplanApp:
    return MeshplanApp(TuiOptions(ManifestInput((str(folder),), recursive=True)))


def services_in(app: MeshplanApp) -> list[str]:
    return [s.name for s in app.analysis.scan.inventory.services if s.namespace == NAMESPACE]


@journey
async def test_each_screen_draws_once_when_it_mounts(monkeypatch: pytest.MonkeyPatch) -> None:
    counts = Counts(monkeypatch)
    app = shop_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        counts.reset()
        await pilot.press("2")
        await pilot.pause()
        assert isinstance(app.screen, GraphScreen)
        assert counts.draws == {"GraphScreen": 1}
        await pilot.press("3")
        await pilot.pause()
        assert counts.draws == {"GraphScreen": 1, "PlanScreen": 1}
        counts.reset()
        await pilot.press("colon", *"ns storefront", "enter")
        await pilot.pause()
        assert isinstance(app.screen, NamespaceScreen)
        assert counts.draws == {"NamespaceScreen": 1}
        edges = app.screen.query_one("#edges", DataTable)
        # Each row once (it was twice: the base class's on_mount ran again through super()).
        assert counts.added["edges"] == edges.row_count == len(app.screen.edges) > 0
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EdgeScreen)
        assert counts.draws == {"NamespaceScreen": 1, "EdgeScreen": 1}
        assert not app.failures


@journey
async def test_a_big_namespace_is_built_off_the_ui_thread_and_shown_a_page_first(
        big_namespace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = Counts(monkeypatch)
    app = big_app(big_namespace)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        expected = services_in(app)
        assert len(expected) == SERVICES >= BIG
        counts.reset()
        await pilot.press("colon", *f"ns {NAMESPACE}", "enter")
        screen = app.screen
        assert isinstance(screen, NamespaceScreen)
        table = screen.query_one("#services", DataTable)
        await wait_for(pilot, lambda: table.row_count == SERVICES, what="every service row")
        # :ns mounts the graph screen under the namespace: each drawn once.
        assert counts.draws == {"GraphScreen": 1, "NamespaceScreen": 1}
        assert counts.builds == [False]  # built once, in a worker thread
        # Every row added once, in table order, none twice.
        assert counts.added["services"] == SERVICES
        assert [str(table.get_row_at(i)[0]) for i in range(SERVICES)] == expected

        # A fill puts the first page in at once and the rest on later turns of the loop.
        feed = screen.service_rows
        at_first_paint: list[tuple[int, int]] = []
        feed.on_filled = lambda: at_first_paint.append((table.row_count, feed.pending))
        counts.reset()
        feed.show(feed.rows, "")
        await wait_for(pilot, lambda: bool(at_first_paint), what="the first page")
        assert at_first_paint == [(FIRST_PAGE, SERVICES - FIRST_PAGE)]
        # A newer fill drops the chunks still pending from the older one.
        before = counts.added["services"]
        feed.filter("-1", now=True)
        wanted = [name for name in expected if "-1" in name]
        await wait_for(pilot, lambda: len(at_first_paint) == 2 and feed.pending == 0,
                       what="the filtered rows")
        await pilot.pause(0.2)
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == wanted
        assert at_first_paint[1] == (FIRST_PAGE, len(wanted) - FIRST_PAGE)
        # From the newer fill on, only its rows were added: the older one's chunks stopped.
        assert counts.added["services"] - before == len(wanted)
        assert not app.failures


@journey
async def test_typing_a_filter_on_a_big_namespace_matches_once_per_pause_off_the_ui_thread(
        big_namespace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = Counts(monkeypatch)
    app = big_app(big_namespace)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("colon", *f"ns {NAMESPACE}", "enter")
        screen = app.screen
        assert isinstance(screen, NamespaceScreen)
        table = screen.query_one("#services", DataTable)
        await wait_for(pilot, lambda: table.row_count == SERVICES, what="every service row")

        # Keys typed within the debounce: the first (after a pause) is matched at once, the
        # others once the typing pauses: two passes over the rows, not one per key.
        counts.reset()
        for text in ("a", "ap", "api", "api-1"):
            screen.apply_filter(text, now=False)
        wanted = [name for name in services_in(app) if "api-1" in name]
        assert wanted
        await wait_for(pilot, lambda: table.row_count == len(wanted), what="the filter")
        await pilot.pause(0.2)
        big_feeds = sum(feed.big for feed in (screen.service_rows, screen.edge_rows))
        assert screen.service_rows.big
        assert sorted(q for q, _ in counts.filters) == sorted(["a", "api-1"] * big_feeds)
        assert not any(on_ui for _, on_ui in counts.filters)
        assert counts.added["services"] == len(wanted)

        # Through the prompt: the result is the same whatever the typing speed.
        counts.reset()
        await pilot.press("slash", *"!api", "enter")
        kept = [name for name in services_in(app) if "api" not in name]
        await wait_for(pilot, lambda: screen.service_rows.query == "!api"
                       and table.row_count == len(kept) and screen.service_rows.pending == 0,
                       what="the inverted filter")
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == kept
        # Never a full pass per key: at most one per key plus the final enter.
        assert len(counts.filters) <= big_feeds * (len("!api") + 1)
        assert not any(on_ui for _, on_ui in counts.filters)
        assert not app.failures


@journey
async def test_a_table_holds_at_most_the_limit_and_says_how_many_more(
        big_namespace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows_module, "LIMIT", 500)
    counts = Counts(monkeypatch)
    app = big_app(big_namespace)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        counts.reset()
        await pilot.press("colon", *f"ns {NAMESPACE}", "enter")
        screen = app.screen
        assert isinstance(screen, NamespaceScreen)
        table = screen.query_one("#services", DataTable)
        await wait_for(pilot, lambda: table.row_count == 501, what="the capped table")
        await pilot.pause(0.2)
        assert counts.added["services"] == 501
        # Cells were made for the rows in the table only, not for the 1,000 beyond the limit.
        assert counts.cells == 500
        assert str(table.get_row_at(500)[0]) == f"… {SERVICES - 500} more: refine the filter (/)"
        # Selecting that row in the edges (focused) opens nothing; the row above opens its edge.
        edges = screen.query_one("#edges", DataTable)
        await wait_for(pilot, lambda: edges.row_count == 501, what="the capped edges")
        assert edges.has_focus and screen.edge_rows.hidden
        edges.move_cursor(row=500)
        await pilot.press("enter")
        assert app.screen is screen
        edges.move_cursor(row=499)
        await pilot.press("enter")
        assert isinstance(app.screen, EdgeScreen)
        assert app.screen.edge is screen.edges[499]
        await pilot.press("escape")
        # A filter that keeps fewer rows shows them all, without the last row.
        await pilot.press("slash", *"api-1", "enter")
        wanted = [name for name in services_in(app) if "api-1" in name]
        await wait_for(pilot, lambda: screen.service_rows.query == "api-1"
                       and table.row_count == len(wanted), what="the filter")
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == wanted
        assert not app.failures
