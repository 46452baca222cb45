"""TUI speed: time from start to the first full paint of the plan screen on the 10,000-service
generated cluster, against ``planner plan`` on the same input. Both run as fresh processes
(interpreter start and imports included): ``planner plan`` until it exits, the TUI (headless)
until the first paint of the plan screen with every step in its table, measured from the
moment the parent launched it (what a user waits for; tearing the app down afterwards is not).
Target: TUI <= 1.5x ``planner plan``.
Usage: python bench/tui.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

from _cluster import ROOT, generated_cluster


def child(folder: str, launched: float) -> None:
    """Run the TUI headless until the plan screen is painted with every step; print the
    seconds from ``launched`` (the parent's wall clock at launch) to that paint."""
    here = Path(__file__).resolve().parent
    # This script is called tui.py: keep it from shadowing the tui package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from planner.service import ManifestInput
    from tui.app import MeshplanApp, TuiOptions
    from tui.screens.plan import PlanScreen

    async def run() -> None:
        app = MeshplanApp(TuiOptions(ManifestInput((folder,), recursive=True), start="plan",
                                     journal_path=str(Path(folder) / "journal.json")))
        async with app.run_test(size=(120, 40)) as pilot:
            while app.first_plan_paint is None:
                if app.failures:
                    raise SystemExit(f"tui failed: {app.failures[0].message}")
                await pilot.pause(0.01)
            screen = app.screen
            assert isinstance(screen, PlanScreen)
            from textual.widgets import DataTable

            assert screen.query_one("#steps", DataTable).row_count == len(app.plan.steps)
            since_launch = time.time() - launched
            print(f"steps={len(app.plan.steps)} paint={app.first_plan_paint:.3f} "
                  f"since_launch={since_launch:.3f}")
            app.exit()

    asyncio.run(run())


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([*command, *(["--launched", repr(time.time())]
                                       if "--child" in command else [])],
                          capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 3):
        raise SystemExit(f"{command[:4]} failed ({done.returncode}): {done.stderr[-500:]}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--launched", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.launched if args.launched is not None else time.time())
        return
    with generated_cluster("yaml") as folder:
        plan_cmd = [sys.executable, "-m", "planner", "plan", "-f", str(folder), "-R"]
        tui_cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(folder)]
        plan_time = min(timed(plan_cmd)[0] for _ in range(args.runs))
        tui_runs = [timed(tui_cmd) for _ in range(args.runs)]
        paints = [float(out.rsplit("since_launch=", 1)[1].split()[0]) for _, out in tui_runs]
        tui_time = min(paints)
        detail = tui_runs[-1][1].strip().splitlines()[-1]
        wall = min(t for t, _ in tui_runs)
    print(f"planner plan:        {plan_time:.2f} s")
    print(f"tui first plan paint: {tui_time:.2f} s from launch ({detail}; process wall time "
          f"incl. teardown {wall:.2f} s)")
    print(f"ratio: {tui_time / plan_time:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
