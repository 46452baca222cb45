"""Helpers for driving the TUI with Textual's pilot."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.pilot import Pilot

from planner.service import ClusterInput, ManifestInput
from tui.app import MeshplanApp
from tui.options import TuiOptions

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "sample_clusters" / "shop"
SIZE = (120, 40)


def journey(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async pilot test without an async pytest plugin."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def plain(widget: Any) -> str:
    """What a Static shows, as plain text."""
    import io

    from rich.console import Console

    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


def shop_app(**options: Any) -> MeshplanApp:
    """The app on sample_clusters/shop (read-only unless ``write=True``)."""
    spec = ManifestInput(("sample_clusters/shop",), recursive=True)
    return MeshplanApp(TuiOptions(spec, **options))


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], bool], seconds: float = 30,
                   what: str = "condition") -> None:
    """Pause the pilot until ``predicate`` holds (workers run in threads)."""
    steps = int(seconds / 0.05)
    for _ in range(steps):
        if predicate():
            await pilot.pause()
            return
        await pilot.pause(0.05)
    app = pilot.app
    raise AssertionError(f"timed out waiting for {what}; failures: "
                         f"{getattr(app, 'failures', None)}")


async def ready(pilot: Pilot[Any]) -> None:
    """Wait until the scan, the plan and the assessment are on screen, with no toasts."""
    app = pilot.app
    await wait_for(pilot, lambda: getattr(app, "assessment", None) is not None
                   and not getattr(app, "busy_label", ""), what="the assessment")
    await pilot.pause()
    app.clear_notifications()
    await pilot.pause()


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the repository root so the header shows the relative input path."""
    monkeypatch.chdir(ROOT)


@pytest.fixture
def hostile_cluster(tmp_path: Path) -> Path:
    """A small generated cluster full of hostile names, labels and annotations."""
    import subprocess
    import sys

    out = tmp_path / "hostile"
    subprocess.run([sys.executable, str(ROOT / "sample_clusters" / "generate.py"),
                    "--namespaces", "3", "--services", "4", "--seed", "3", "--hostile",
                    "--out", str(out)], check=True, capture_output=True)
    return out / "manifests"


def served(api: Any, folder: Path, extra: str) -> ClusterInput:
    """The input of a cluster serving ``folder``'s manifests and the ``extra`` YAML as they
    are. Names no API server allows are refused in manifests (Kubernetes' naming rules), so a
    cluster (the test API server validates none) is how hostile names reach the TUI."""
    docs = [doc for path in sorted(folder.rglob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    api.load([*docs, *(doc for doc in yaml.safe_load_all(extra) if doc)])
    return ClusterInput(str(api.kubeconfig))
