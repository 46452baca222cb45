"""Cluster strings are data: markup, ANSI escapes, unicode and very long values render
literally, on every screen, without a crash."""

from __future__ import annotations

import html
from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable

from planner.untrusted import clean
from tests.kubeapi import KubeAPIServer
from tests.tui.conftest import SIZE, journey, ready, served, wait_for
from tui.app import MeshplanApp
from tui.format import matches, safe
from tui.options import TuiOptions
from tui.screens.graph import EdgeScreen, GraphScreen, NamespaceScreen

MARKUP = "[bold red]x"
LONG = "svc-" + "a" * 300
EXTRA = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: "{MARKUP}"
  labels: {{istio-injection: enabled, note: "[link=https://evil.example]click[/link]"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: "{LONG}", namespace: "{MARKUP}"}}
spec:
  selector: {{matchLabels: {{app: caller}}}}
  template:
    metadata: {{labels: {{app: caller}}}}
    spec:
      containers:
      - name: c
        image: "img"
        env: [{{name: TARGET, value: "http://dst.{MARKUP}:80/\\e[31m日本語 🚀"}}]
---
apiVersion: v1
kind: Service
metadata: {{name: dst, namespace: "{MARKUP}"}}
spec: {{selector: {{app: caller}}, ports: [{{port: 80}}]}}
"""


def test_helpers_escape_everything() -> None:
    assert safe(MARKUP).plain == MARKUP
    assert "\x1b" not in clean("\x1b[31mred\x1b[0m")
    assert clean("a\nb") == "a\\nb"
    assert len(clean("x" * 500, 60)) == 60
    assert matches("!foo", "bar") and not matches("!foo", "food")


@journey
async def test_hostile_names_render_literally(hostile_cluster: Path,
                                             kube_api: KubeAPIServer) -> None:
    spec = served(kube_api, hostile_cluster, EXTRA)
    app = MeshplanApp(TuiOptions(spec))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert MARKUP in app.analysis.scan.inventory.namespace_index
        await pilot.press("2")
        assert isinstance(app.screen, GraphScreen)
        table = app.screen.query_one("#namespaces", DataTable)
        cells = [table.get_row_at(i)[0] for i in range(table.row_count)]
        assert all(isinstance(c, Text) for c in cells)
        assert MARKUP in [c.plain for c in cells]
        svg = html.unescape(app.export_screenshot()).replace("\xa0", " ")
        assert MARKUP in svg
        # Drill into the hostile namespace, then into an edge with a hostile env value.
        await pilot.press("colon", *f"ns {MARKUP}", "enter")
        assert isinstance(app.screen, NamespaceScreen) and app.screen.namespace == MARKUP
        edges = app.screen.query_one("#edges", DataTable)
        if edges.row_count:
            await pilot.press("enter")
            assert isinstance(app.screen, EdgeScreen)
            assert "\x1b" not in app.export_screenshot()
            await pilot.press("escape")
        for key in ("escape", "1", "3", "down", "down", "2"):
            await pilot.press(key)
            app.export_screenshot()
        await wait_for(pilot, lambda: not app.busy_label, what="idle")
        assert not [f for f in app.failures if not f.expected], app.failures
