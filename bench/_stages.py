"""Child process of the benchmarks: where a ``planner report --json`` run's time goes, stage by
stage, in a fresh process. Prints one JSON line of seconds: ``imports`` (the service layer, the
domain and the sinks), ``scan`` (read + inventory), ``graph`` (call graph), ``assess`` (fit
verdict and data planes), ``plan`` (blocker rules, ordering and each step's what-if), ``report``
(the report document as JSON), each also as ``<stage>_cpu``: the process's CPU time, which a
busy machine disturbs far less than the wall clock; ``scan_workers_cpu``, the CPU time of the
scan's helper processes; plus ``services``, ``edges``, ``steps`` and ``report_bytes``.

The stages run as ``planner report`` runs them (collector paused for the scan and the graph,
``service.run_pipeline``'s order); PLANNER_JOBS applies to the scan as it does to the CLI.
Usage: python bench/_stages.py MANIFESTS_DIR
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time


def main(folder: str) -> None:
    """Time each stage on ``folder`` and print the figures."""
    # As the console script runs commands: without the cyclic collector (commands/process.py).
    gc.disable()
    times: dict[str, float] = {}
    start, start_cpu = time.perf_counter(), time.process_time()
    from planner import service
    from planner.domain.findings import RuleContext
    from planner.domain.graph_builder import build_graph
    from planner.sinks.report_json import report_document
    from planner.sinks.wire import dump_json
    from planner.sources.profile import load_profile

    times["imports"] = time.perf_counter() - start
    times["imports_cpu"] = time.process_time() - start_cpu
    cpu = [time.process_time()]

    def stage(name: str, started: float) -> float:
        now = time.perf_counter()
        times[name] = now - started
        times[f"{name}_cpu"] = time.process_time() - cpu[0]
        cpu[0] = time.process_time()
        return now

    now = time.perf_counter()
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    with service.paused_gc():
        scanned = service.scan(service.ManifestInput((folder,), recursive=True))
        now = stage("scan", now)
        # The helpers have exited when the scan returns, so their CPU time is counted.
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times["scan_workers_cpu"] = (after.ru_utime + after.ru_stime
                                     - workers.ru_utime - workers.ru_stime)
        graph = build_graph(scanned.inventory)
        profile = load_profile(None, {})
        now = stage("graph", now)
    context = RuleContext(scanned.inventory, graph, profile, "istio-system")
    analysis = service.Analysis(scanned, graph, profile, context)
    assessment = service.assess(analysis)
    now = stage("assess", now)
    plan = service.build_plan(analysis, assessment=assessment)
    now = stage("plan", now)
    text = dump_json(report_document(analysis, plan, assessment=assessment))
    stage("report", now)
    print(json.dumps({**times, "services": len(scanned.inventory.services),
                      "edges": len(graph.edges), "steps": len(plan.steps),
                      "report_bytes": len(text)}))
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
