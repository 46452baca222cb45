"""TUI speed: time from start to the first full paint of the plan screen on the 10,000-service
generated cluster (3.5 call edges per service unless --density says otherwise), against
``planner plan`` on the same input. Both run as fresh processes taking turns (interpreter
start and imports included), serial (PLANNER_JOBS=1) and parallel (the default: a YAML reader
per core): ``planner plan`` until it exits, the TUI (headless) until the first paint of the
plan screen with every step in its table, measured from the moment the parent launched it
(what a user waits for; tearing the app down afterwards is not).
Target: TUI <= 1.5x ``planner plan``.
Usage: python bench/tui.py [--runs N] [--density D]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from _cluster import (
    SERIAL,
    Timed,
    alternate,
    best,
    compile_bytecode,
    density_of,
    density_option,
    generated_cluster,
    planner_argv,
    ratio_line,
    run_process,
)


def child(folder: str, launched: float) -> None:
    """Run the TUI headless until the plan screen is painted with every step; print the
    seconds from ``launched`` (the parent's wall clock at launch) to that paint."""
    here = Path(__file__).resolve().parent
    # This script is called tui.py: keep it from shadowing the tui package.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from planner.service import ManifestInput
    from tui.app import MeshplanApp
    from tui.options import TuiOptions
    from tui.screens.plan import PlanScreen

    async def run() -> None:
        app = MeshplanApp(TuiOptions(ManifestInput((folder,), recursive=True), start="plan",
                                     journal_path=str(Path(folder) / "journal.json")))
        async with app.run_test(size=(120, 40)):
            while app.first_plan_paint is None:
                if app.failures:
                    raise SystemExit(f"tui failed: {app.failures[0].message}")
                # A plain sleep: pilot.pause would make every widget answer a message each
                # time, work a user's idle screen does not do, taken from the analysis worker.
                await asyncio.sleep(0.02)
            cpu = time.process_time()
            screen = app.screen
            assert isinstance(screen, PlanScreen)
            from textual.widgets import DataTable

            assert screen.query_one("#steps", DataTable).row_count == len(app.plan.steps)
            since_launch = time.time() - launched
            print(f"steps={len(app.plan.steps)} paint={app.first_plan_paint:.3f} "
                  f"since_launch={since_launch:.3f} cpu={cpu:.3f}")
            app.exit()

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--launched", type=float, default=None, help=argparse.SUPPRESS)
    density_option(parser)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.launched if args.launched is not None else time.time())
        return
    compile_bytecode()
    details: list[str] = []
    with generated_cluster("yaml", density=density_of(args)) as folder:
        def plan(env: dict[str, str] | None) -> Timed:
            return run_process(planner_argv("plan", "-f", str(folder), "-R"), env)

        def tui(env: dict[str, str] | None) -> Timed:
            run = run_process([sys.executable, str(Path(__file__).resolve()), "--child",
                               str(folder), "--launched", repr(time.time())], env)
            details.append(run.stdout.strip().splitlines()[-1])
            # The first paint, from launch: what a user waits for (not the teardown), and the
            # CPU the process had used by then (its YAML helpers' not included).
            return Timed(float(details[-1].rsplit("since_launch=", 1)[1].split()[0]),
                         float(details[-1].rsplit("cpu=", 1)[1].split()[0]))

        times = alternate(args.runs, {
            "plan, serial": lambda: plan(SERIAL), "tui, serial": lambda: tui(SERIAL),
            "plan, parallel": lambda: plan(None), "tui, parallel": lambda: tui(None),
        })
    print(f"best of {args.runs}, sides taking turns ({details[-1]}):")
    for name, runs in times.items():
        what = "planner plan" if name.startswith("plan") else "TUI first plan paint"
        print(f"  {what + ',' + name.split(',')[1]:<32} {best(runs):6.2f} s  "
              f"(CPU {best(runs, 'cpu'):.2f} s)")
    for mode in ("serial", "parallel"):
        print(ratio_line(f"{mode}: TUI first plan paint / planner plan",
                         best(times[f"tui, {mode}"]), best(times[f"plan, {mode}"]),
                         "target <= 1.5x"))
    print(ratio_line("serial, CPU: TUI until its first plan paint / planner plan",
                     best(times["tui, serial"], "cpu"), best(times["plan, serial"], "cpu"),
                     "what the TUI adds in work"))


if __name__ == "__main__":
    main()
