"""Graph speed: what building the call graph adds to a scan, as whole processes, in one run.

On the generated cluster (100 namespaces x 100 services, seed 7, 3.5 call edges per service
unless --density says otherwise), fresh processes take turns: ``planner scan -o json`` and
``planner graph -o json`` (both writing their JSON to a pipe), each serial (PLANNER_JOBS=1:
one process reads the YAML) and parallel (the default: a YAML reader per core), and a stage-timing
process (bench/_stages.py) that times the scan and ``build_graph`` inside one run. Prints the
best of each side and:
- whole processes: (graph - scan) / scan, serial and parallel;
- in process: build_graph / scan (serial).
Target: the graph costs at most 0.5x the scan.
Usage: python bench/graph.py [--runs N] [--density D]
"""

from __future__ import annotations

import argparse

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
    stage_times,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    density_option(parser)
    args = parser.parse_args()
    compile_bytecode()
    stages: list[dict[str, float]] = []
    with generated_cluster("yaml", density=density_of(args)) as folder:
        def command(name: str, env: dict[str, str] | None) -> Timed:
            return run_process(planner_argv(name, "-f", str(folder), "-R", "-o", "json"), env)

        def staged() -> Timed:
            stages.append(stage_times(folder, SERIAL))
            return Timed(stages[-1]["process"], stages[-1]["process_cpu"])

        times = alternate(args.runs, {
            "scan serial": lambda: command("scan", SERIAL),
            "graph serial": lambda: command("graph", SERIAL),
            "scan parallel": lambda: command("scan", None),
            "graph parallel": lambda: command("graph", None),
            "stages": staged,
        })
    print(f"services {stages[0]['services']:.0f}, call edges {stages[0]['edges']:.0f}; best "
          f"of {args.runs}, sides taking turns (wall clock; CPU time of the process and its "
          "helpers)")
    for name, runs in times.items():
        if name != "stages":
            print(f"  planner {name:<15} {best(runs):6.2f} s  (CPU {best(runs, 'cpu'):.2f} s)")
    for mode, clock in (("serial", "wall"), ("serial", "cpu"), ("parallel", "wall")):
        scan, graph = best(times[f"scan {mode}"], clock), best(times[f"graph {mode}"], clock)
        print(ratio_line(f"{mode}, {clock}: graph process - scan process", graph - scan, scan,
                         "target <= 0.5x"))
    for clock in ("", "_cpu"):
        scan, graph = (min(s[f"scan{clock}"] for s in stages),
                       min(s[f"graph{clock}"] for s in stages))
        print(ratio_line(f"in process (serial, {'CPU' if clock else 'wall'}): build_graph / "
                         "scan", graph, scan, "target <= 0.5x"))


if __name__ == "__main__":
    main()
