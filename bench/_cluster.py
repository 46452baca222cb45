"""Shared set-up for the benchmarks: a generated 10,000-service cluster, cached per run, and
timing of whole processes taking turns."""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sample_clusters"))

import generate  # noqa: E402  (sample_clusters/generate.py)

NAMESPACES = 100
SERVICES_PER_NAMESPACE = 100
#: Call edges per service of the benchmark clusters: real shapes have about 3.5 (a comparable
#: real cluster of 10,000 services has about 35,000 calls; the generator's sparse default, 1).
DENSITY = 3.5
#: The environment of a serial run: the manifest reader's helper processes off.
SERIAL = {"PLANNER_JOBS": "1"}


@contextmanager
def generated_cluster(fmt: str = "yaml", namespaces: int = NAMESPACES,
                      services: int = SERVICES_PER_NAMESPACE,
                      density: float | None = DENSITY) -> Iterator[Path]:
    """A temporary generated cluster (seed 7); yields its manifests folder. ``density``: call
    edges per service (None: the generator's sparse default)."""
    with tempfile.TemporaryDirectory(prefix="meshplan-bench-") as tmp:
        generate.generate(namespaces, services, seed=7, out=Path(tmp), fmt=fmt,
                          density=density)
        yield Path(tmp) / "manifests"


def density_option(parser: argparse.ArgumentParser) -> None:
    """``--density``: call edges per service of the generated cluster (0: sparse default)."""
    parser.add_argument("--density", type=float, default=DENSITY,
                        help=f"call edges per service (default {DENSITY}, as real shapes; "
                             "0: the generator's sparse default, about 1)")


def density_of(args: argparse.Namespace) -> float | None:
    """The ``--density`` given, None for the sparse default."""
    return args.density or None


def compile_bytecode() -> None:
    """Compile the project's bytecode, as pip does on install: with PYTHONDONTWRITEBYTECODE a
    checkout would compile every module in every measured process (~30 ms)."""
    for package in ("planner", "tui"):
        compileall.compile_dir(ROOT / package, quiet=1)


class Timed(NamedTuple):
    """One measured process: its wall time from launch to exit, the CPU time (user + system)
    it and the processes it waited for used, and its stdout. On a busy machine the CPU time
    moves far less than the wall clock, but it cannot show what parallel work saves."""

    wall: float
    cpu: float
    stdout: str = ""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_process(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Timed:
    """Run a whole process (interpreter start and imports included) from the project root and
    time it. Exit codes 0-3 (a verdict or blockers) count as success; anything else stops the
    benchmark with the process's stderr."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(list(argv), capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1, 2, 3):
        raise SystemExit(f"{' '.join(argv[:4])} failed ({done.returncode}): "
                         f"{done.stderr[-800:]}")
    return Timed(elapsed, _children_cpu() - cpu, done.stdout)


def planner_argv(*args: str) -> list[str]:
    """The ``planner`` console script's argv (this interpreter)."""
    return [sys.executable, "-c", "from planner.cli import main\nmain()", *args]


def alternate(runs: int, sides: Mapping[str, Callable[[], Timed]]) -> dict[str, list[Timed]]:
    """Each side's timings over ``runs`` rounds, the sides taking turns within a round (and the
    order of the turns reversed every other round): a load that comes and goes weighs on every
    side alike."""
    times: dict[str, list[Timed]] = {name: [] for name in sides}
    names = list(sides)
    for round_ in range(runs):
        for name in names if round_ % 2 == 0 else reversed(names):
            times[name].append(sides[name]())
    return times


def best(times: Sequence[Timed], clock: str = "wall") -> float:
    """The fastest timing by ``clock`` (``wall`` or ``cpu``): the least disturbed."""
    return min(getattr(t, clock) for t in times)




def best_of(runs: int, func: Callable[[], Any]) -> float:
    """The fastest of ``runs`` timings in seconds: the least disturbed by a noisy machine."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def stage_times(folder: Path, env: Mapping[str, str] | None = None) -> dict[str, float]:
    """Where a ``planner report --json`` run's time goes, stage by stage, measured in a fresh
    process (bench/_stages.py): imports, scan, graph, assess, plan, report (``<stage>_cpu``:
    CPU time); plus the process's wall time from launch to exit as ``process``."""
    run = run_process([sys.executable, str(ROOT / "bench" / "_stages.py"), str(folder)], env)
    figures: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return {**figures, "process": run.wall, "process_cpu": run.cpu}


def ratio_line(label: str, part: float, whole: float, target: str) -> str:
    """``label: part / whole = ratio (target)``, one line of a benchmark's result."""
    return f"{label}: {part:.2f} s / {whole:.2f} s = {part / whole:.2f}x ({target})"


def _burn(rounds: int) -> None:
    total = 0
    for i in range(rounds):
        total += i


def parallel_throughput(rounds: int = 5_000_000) -> float:
    """How much more work two processes do at once here than one alone (2.0: two free cores).
    Every parallel figure depends on it, and on a shared virtual machine it moves from one
    minute to the next (measured 0.96 and 1.81 within a minute on the 2 vCPUs of issue 18)."""
    import multiprocessing

    start = time.perf_counter()
    _burn(rounds)
    alone = time.perf_counter() - start
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_burn, args=(rounds,)) for _ in range(2)]
    start = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return 2 * alone / (time.perf_counter() - start)

