"""Plan speed: blockers + plan + report JSON for the generated 10,000-service cluster, as a
ratio to the scan of the same files (target <= 0.5x).

Everything runs in one process on the same input: the scan (read + inventory) is timed, then
the call graph (reported, not in the ratio: `planner graph` owns it), then ``build_plan`` (all
MP2xx rules and the ordering) plus rendering the report document to JSON.
Usage: python bench/plan.py [--runs N]
"""

from __future__ import annotations

import argparse

from _cluster import best_of, generated_cluster

from planner.service import Analysis, ManifestInput, analyse, build_plan, scan
from planner.sinks.report_json import report_document
from planner.sinks.wire import dump_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with generated_cluster("yaml") as folder:
        spec = ManifestInput((str(folder),))
        scan_time = best_of(runs, lambda: scan(spec))
        holder: list[Analysis] = []
        analyse_time = best_of(1, lambda: holder.append(analyse(spec)))
        analysis = holder[0]
        sizes: list[int] = []

        def plan_and_report() -> None:
            plan = build_plan(analysis)
            sizes[:] = [len(plan.steps), len(dump_json(report_document(analysis, plan)))]

        plan_time = best_of(runs, plan_and_report)
        print(f"services {len(analysis.scan.inventory.services)}, edges "
              f"{len(analysis.graph.edges)}, steps {sizes[0]}, report {sizes[1] // 1024} KiB")
        print(f"scan {scan_time:.2f}s; scan+graph {analyse_time:.2f}s; plan+report JSON "
              f"{plan_time:.2f}s; ratio to scan {plan_time / scan_time:.2f}x (target <= 0.5x)")


if __name__ == "__main__":
    main()
