"""How each stage grows with the cluster: scan, graph, assess, plan and report at 1k, 5k, 10k
and 20k services, in one run.

Generated clusters of 10, 50, 100 and 200 namespaces x 100 services (seed 7, 3.5 call edges
per service unless --density says otherwise). Each measurement is a fresh process
(bench/_stages.py: the stages of ``planner report --json`` timed inside one serial run,
PLANNER_JOBS=1, so the scan's helper processes do not blur the curve); the sizes take turns
within a round, in reverse order every other round. The 20k cluster runs once (it is long;
--runs applies to the others). Prints each stage's seconds per size (the process's CPU time,
which a busy machine disturbs far less, and the wall clock), its growth from one size to the
next, and the target: plan time from 10k to 20k at most 2.3x.
Usage: python bench/scaling.py [--runs N] [--density D] [--sizes 1000,5000,10000,20000]
"""

from __future__ import annotations

import argparse
import itertools
from contextlib import ExitStack
from pathlib import Path

from _cluster import (
    SERIAL,
    SERVICES_PER_NAMESPACE,
    compile_bytecode,
    density_of,
    density_option,
    generated_cluster,
    stage_times,
)

STAGES = ("scan", "graph", "assess", "plan", "report")
#: Sizes measured once whatever --runs says (each run takes the CPU for half a minute or more).
ONCE_FROM = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--sizes", default="1000,5000,10000,20000",
                        help="services, comma-separated (multiples of 100)")
    density_option(parser)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    compile_bytecode()
    figures: dict[int, list[dict[str, float]]] = {size: [] for size in sizes}
    with ExitStack() as stack:
        folders: dict[int, Path] = {
            size: stack.enter_context(generated_cluster(
                "yaml", namespaces=size // SERVICES_PER_NAMESPACE, density=density_of(args)))
            for size in sizes}
        for round_ in range(args.runs):
            for size in sizes if round_ % 2 == 0 else reversed(sizes):
                if size >= ONCE_FROM and figures[size]:
                    continue
                figures[size].append(stage_times(folders[size], SERIAL))
    for clock, suffix in (("CPU time", "_cpu"), ("wall clock", "")):
        best = {size: {stage: min(run[stage + suffix] for run in runs) for stage in STAGES}
                for size, runs in figures.items()}
        print(f"{clock}, serial, in process, best of {args.runs} ({ONCE_FROM // 1000}k and "
              "more: 1 run), seconds:")
        print(f"{'services':>9} {'edges':>7} " + " ".join(f"{s:>7}" for s in STAGES))
        for size in sizes:
            print(f"{size:>9} {figures[size][0]['edges']:>7.0f} "
                  + " ".join(f"{best[size][s]:>7.2f}" for s in STAGES))
        for small, large in itertools.pairwise(sizes):
            growth = ", ".join(f"{s} {best[large][s] / best[small][s]:.2f}x" for s in STAGES)
            print(f"  {small // 1000}k -> {large // 1000}k ({large / small:.0f}x the services): "
                  f"{growth}")
        if 10_000 in best and 20_000 in best:
            growth = best[20_000]["plan"] / best[10_000]["plan"]
            print(f"  plan 10k -> 20k ({clock}): {growth:.2f}x (target <= 2.3x: "
                  f"{'met' if growth <= 2.3 else 'NOT met'})")


if __name__ == "__main__":
    main()
