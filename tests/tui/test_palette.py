"""The ctrl+p palette on every screen: it opens, lists this screen's commands, searches and
runs one; nothing in it is read as markup (a key like ``/`` once killed the app)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.command import CommandPalette
from textual.pilot import Pilot

from tests.kubeapi import KubeAPIServer
from tests.tui.conftest import SIZE, journey, ready, served, shop_app, wait_for
from tests.tui.test_hostile import EXTRA, MARKUP
from tui.app import MeshplanApp
from tui.options import TuiOptions
from tui.screens.graph import EdgeScreen, GraphScreen, NamespaceScreen
from tui.screens.modals import HelpScreen
from tui.screens.plan import PlanScreen


async def palette(pilot: Pilot[Any], query: str) -> list[str]:
    """Open the palette, type ``query``; the prompts of the hits it lists, as shown."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
    await pilot.press(*query)
    shown: list[str] = []

    def listed() -> bool:
        options = app.screen.query_one("CommandList").options  # type: ignore[attr-defined]
        shown[:] = [str(o.prompt) for o in options]
        return bool(shown)

    await wait_for(pilot, listed, what=f"hits for {query!r}")
    return shown


async def run_first(pilot: Pilot[Any]) -> None:
    """Run the open palette's first hit."""
    await pilot.press("down", "enter")
    await pilot.pause()


async def help_from_palette(pilot: Pilot[Any]) -> list[str]:
    shown = await palette(pilot, "This help")
    await run_first(pilot)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help")
    await pilot.press("escape")
    return shown


@journey
async def test_palette_on_every_screen_searches_and_runs_a_command() -> None:
    app = shop_app(write=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        seen = {}
        # Assessment -> Graph by the palette.
        seen["assess"] = await help_from_palette(pilot)
        await palette(pilot, "Graph: namespaces")
        await run_first(pilot)
        assert isinstance(app.screen, GraphScreen)
        seen["graph"] = await help_from_palette(pilot)
        # Graph -> a namespace, by its palette entry.
        await palette(pilot, "Open namespace storefront")
        await run_first(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, NamespaceScreen), what="ns")
        seen["namespace"] = await help_from_palette(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EdgeScreen), what="edge")
        seen["edge"] = await help_from_palette(pilot)
        await palette(pilot, "Plan: the rollout")
        await run_first(pilot)
        assert isinstance(app.screen, PlanScreen)
        seen["plan"] = await help_from_palette(pilot)
        # The filter's key is shown as typed, not swallowed as a closing tag.
        shown = await palette(pilot, "Filter the list")
        assert any(s.endswith("\n[/]") for s in shown), shown
        await pilot.press("escape")
        assert app.is_running and not app.failures
        assert all(any("This help" in s for s in hits) for hits in seen.values()), seen
    assert app.return_code in (0, None)


@journey
async def test_palette_shows_a_hostile_namespace_literally(hostile_cluster: Path,
                                                           kube_api: KubeAPIServer) -> None:
    app = MeshplanApp(TuiOptions(served(kube_api, hostile_cluster, EXTRA)))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        shown = await palette(pilot, f"Open namespace {MARKUP}")
        assert shown[0] == f"Open namespace {MARKUP}\n:ns {MARKUP}", shown
        await run_first(pilot)
        await wait_for(pilot, lambda: isinstance(app.screen, NamespaceScreen), what="ns")
        assert app.screen.namespace == MARKUP
        assert not app.failures
