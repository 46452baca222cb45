"""TUI on one namespace of 10,000 Services: time from ``:ns ns-000`` to the first rows of its
Services table, to the table full (up to its row limit), the longest the UI went without
answering in between, and the time from each key of a ``/`` filter to the filtered table.

The TUI runs headless (Textual's pilot) in a fresh process per run, on a generated cluster of
one namespace (``sample_clusters/generate.py``, seed 7, 3.5 call edges per service unless
--density says otherwise: about 35,000 edges into and out of the namespace). A 10 ms heartbeat
timer measures the UI's stalls: the longest gap between two beats is the longest time a key
would have waited.
Keys go into the filter prompt 150 ms apart (a fast typist); each is timed until the table
holds the first page of its matches. Targets (docs/performance.md): first rows within
2 s, a filter keystroke answered within 100 ms.
Usage: python bench/tui_namespace.py [--runs N] [--services N] [--density D]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _cluster import ROOT, compile_bytecode, density_of, density_option, generated_cluster

FILTER = "api-1"


def child(folder: str) -> None:
    """Open the namespace in a headless TUI and print the figures as one JSON line."""
    here = Path(__file__).resolve().parent
    # Keep this folder (it holds tui.py) from shadowing the tui package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from textual.widgets import DataTable

    from planner.service import ManifestInput
    from tui.app import MeshplanApp
    from tui.options import TuiOptions
    from tui.rows import LIMIT, TableFeed
    from tui.screens.graph import NamespaceScreen
    from tui.widgets.prompt import PromptBar

    # When each fill of the Services table put its first page in (the first paint after it).
    fills: list[tuple[float, str]] = []
    fill = TableFeed._fill

    def timed_fill(feed: TableFeed, generation: int, kept: list) -> None:  # type: ignore[type-arg]
        fill(feed, generation, kept)
        if feed.table_id == "services" and generation == feed.generation:
            fills.append((time.perf_counter(), feed.query))

    TableFeed._fill = timed_fill  # type: ignore[method-assign]

    async def until(predicate: Callable[[], bool]) -> None:
        # Poll without the pilot: pilot.press waits for the app to go idle, which would hide
        # the very stalls this measures.
        while not predicate():
            await asyncio.sleep(0.001)

    async def run() -> None:
        app = MeshplanApp(TuiOptions(ManifestInput((folder,), recursive=True),
                                     journal_path=str(Path(folder) / "journal.json")))
        async with app.run_test(size=(120, 40)) as pilot:
            while app.assessment is None or app.busy_label:
                if app.failures:
                    raise SystemExit(f"tui failed: {app.failures[0].message}")
                await pilot.pause(0.05)
            await pilot.pause(0.2)
            beats: list[float] = []
            app.set_interval(0.01, lambda: beats.append(time.perf_counter()))
            await asyncio.sleep(0.05)
            start = time.perf_counter()
            app.run_command("ns ns-000")
            await until(lambda: isinstance(app.screen, NamespaceScreen) and bool(fills))
            first = fills[0][0] - start
            screen = app.screen
            assert isinstance(screen, NamespaceScreen)
            feed = screen.service_rows
            table = screen.query_one("#services", DataTable)
            await until(lambda: bool(feed.rows) and feed.pending == 0 and table.row_count
                        == min(len(feed.rows), LIMIT) + (1 if feed.hidden else 0))
            every = time.perf_counter() - start
            full = table.row_count
            stall = max((b - a for a, b in itertools.pairwise(beats)), default=0.0)
            await pilot.press("slash")
            await pilot.pause(0.2)
            prompt = screen.query_one(PromptBar)
            keys: list[float] = []
            for key in FILTER:
                pressed = time.perf_counter()
                prompt.value += key
                await until(lambda: bool(fills) and fills[-1][1] == prompt.value)
                keys.append(fills[-1][0] - pressed)
                await asyncio.sleep(max(0.0, 0.15 - (time.perf_counter() - pressed)))
            print(json.dumps({"rows": len(feed.rows), "first_rows": first, "table_full": every,
                              "shown": full,
                              "longest_stall": stall, "keys": keys,
                              "matches": len(feed.shown)}))
            app.exit()

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    density_option(parser)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    compile_bytecode()
    results = []
    with generated_cluster("yaml", namespaces=1, services=args.services,
                           density=density_of(args)) as folder:
        for _ in range(args.runs):
            done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                                   str(folder)], capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                raise SystemExit(f"child failed ({done.returncode}): {done.stderr[-800:]}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for r in results:
        keys = ", ".join(f"{k * 1000:.0f}" for k in r["keys"])
        stall = r["longest_stall"] * 1000
        print(f"{r['rows']} services: first rows {r['first_rows']:.3f} s, table full "
              f"({r['shown']} rows) {r['table_full']:.2f} s, longest UI stall {stall:.0f} ms; "
              f"/{FILTER} per key (ms): {keys} -> {r['matches']} rows")
    best_first = min(r["first_rows"] for r in results)
    worst_key = max(max(r["keys"]) for r in results)
    median_keys = sorted(k for r in results for k in r["keys"])
    print(f"first rows: best {best_first:.3f} s (target <= 2 s); filter key: median "
          f"{median_keys[len(median_keys) // 2] * 1000:.0f} ms, worst {worst_key * 1000:.0f} ms "
          f"(target <= 100 ms)")


if __name__ == "__main__":
    main()
