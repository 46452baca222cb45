"""Plan speed: what assessing, planning and the report add to a scan, as whole processes, in
one run.

On the generated cluster (100 namespaces x 100 services, seed 7, 3.5 call edges per service
unless --density says otherwise), fresh processes take turns: ``planner scan -o json`` and
``planner report --json`` (scan, graph, assess, plan, report), each serial (PLANNER_JOBS=1) and
parallel (the default: a YAML reader per core), and a stage-timing process (bench/_stages.py)
that times each stage inside one serial run. Prints the best of each side and:
- whole processes: (report - scan) / scan, serial and parallel;
- in process: plan + report JSON / scan, and each stage.
Target: plan + report JSON at most 0.5x the scan. (How plan time grows with the cluster:
bench/scaling.py.)
Usage: python bench/plan.py [--runs N] [--density D]
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

STAGES = ("imports", "scan", "graph", "assess", "plan", "report")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    density_option(parser)
    args = parser.parse_args()
    compile_bytecode()
    stages: list[dict[str, float]] = []
    with generated_cluster("yaml", density=density_of(args)) as folder:
        def command(env: dict[str, str] | None, *argv: str) -> Timed:
            return run_process(planner_argv(*argv, "-f", str(folder), "-R"), env)

        def staged() -> Timed:
            stages.append(stage_times(folder, SERIAL))
            return Timed(stages[-1]["process"], stages[-1]["process_cpu"])

        times = alternate(args.runs, {
            "scan -o json, serial": lambda: command(SERIAL, "scan", "-o", "json"),
            "report --json, serial": lambda: command(SERIAL, "report", "--json"),
            "scan -o json, parallel": lambda: command(None, "scan", "-o", "json"),
            "report --json, parallel": lambda: command(None, "report", "--json"),
            "stages": staged,
        })
    print(f"services {stages[0]['services']:.0f}, call edges {stages[0]['edges']:.0f}, steps "
          f"{stages[0]['steps']:.0f}, report {stages[0]['report_bytes'] / 2**20:.1f} MiB; "
          f"best of {args.runs}, sides taking turns (wall clock; CPU time of the process and "
          "its helpers)")
    for name, runs in times.items():
        if name != "stages":
            print(f"  planner {name:<25} {best(runs):6.2f} s  (CPU {best(runs, 'cpu'):.2f} s)")
    for mode, clock in (("serial", "wall"), ("serial", "cpu"), ("parallel", "wall")):
        scan = best(times[f"scan -o json, {mode}"], clock)
        report = best(times[f"report --json, {mode}"], clock)
        print(ratio_line(f"{mode}, {clock}: report process - scan process", report - scan,
                         scan, "everything after the scan"))
    for clock in ("", "_cpu"):
        fastest = {stage: min(s[stage + clock] for s in stages) for stage in STAGES}
        what = "CPU" if clock else "wall"
        print(f"in process (serial, {what}), best of each stage: "
              + ", ".join(f"{stage} {fastest[stage]:.2f} s" for stage in STAGES))
        print(ratio_line(f"in process ({what}): plan + report JSON / scan",
                         fastest["plan"] + fastest["report"], fastest["scan"],
                         "target <= 0.5x"))


if __name__ == "__main__":
    main()
