"""Pixels: one snapshot per screen at 120x40 (pytest-textual-snapshot; update with
``pytest tests/tui --snapshot-update`` and review the SVGs)."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from tests.tui.conftest import SIZE, ready, shop_app


async def _plan(pilot: Any) -> None:
    await ready(pilot)
    await pilot.press("3")
    await pilot.pause()
    pilot.app.screen.select_step("50-exception-storefront-assets")
    await pilot.pause()


def test_assess_screen(snap_compare: Any) -> None:
    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=ready)


def test_graph_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        await pilot.press("2")
        await pilot.pause()

    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=run_before)


def test_namespace_drill_down(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        await pilot.press("colon", *"ns storefront", "enter")
        await pilot.pause()

    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=run_before)


def test_edge_evidence(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        await pilot.press("colon", *"ns storefront", "enter", "enter")
        await pilot.pause()

    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=run_before)


def test_plan_screen_read_only(snap_compare: Any) -> None:
    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=_plan)


def test_plan_screen_write(snap_compare: Any, tmp_path: Any) -> None:
    app = shop_app(write=True, out_dir=str(tmp_path / "out"),
                   journal_path=str(tmp_path / "journal.json"))
    assert snap_compare(app, terminal_size=SIZE, run_before=_plan)


def test_graph_filtered(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        await pilot.press("2", "slash", *"!prometheus", "enter")
        await pilot.pause()
        assert pilot.app.screen.query_one("#namespaces", DataTable).row_count > 0

    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(shop_app(), terminal_size=SIZE, run_before=run_before)
