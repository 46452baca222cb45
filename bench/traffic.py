"""Benchmark: fetch_traffic against a real Prometheus holding a 10,000-service mesh, against
curl sending the same queries.

Generates Istio metrics for ``--services`` services (default 10,000 in 100 namespaces, about
31,000 series: destination-reported series per response code and security policy plus the
client-side duplicates Istio also exports), loads them into a throw-away Prometheus the same
way the tests do (``tests/traffic/promserver.py``: OpenMetrics -> promtool blocks ->
prometheus on 127.0.0.1). Then whole processes take turns: a fresh Python process that
imports the planner's Prometheus client, runs ``fetch_traffic`` and judges every namespace
(as ``planner traffic`` does, without the scan), and one ``curl`` process POSTing the same two
PromQL queries and discarding the answers. Prints how many HTTP requests the planner made,
each side's best time and the ratio. Needs promtool and prometheus
(``.ci/install-prometheus.sh``) and curl.

    python bench/traffic.py [--services 10000] [--step 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _cluster import ROOT, Timed, alternate, best, compile_bytecode, ratio_line, run_process

sys.path.insert(0, str(ROOT))  # run from anywhere

from planner.domain.traffic import ObservedEdge
from tests.traffic.promserver import PromServer


def mesh(services: int, per_namespace: int = 100) -> list[ObservedEdge]:
    """One caller per service: 80 % HTTP all-mTLS, 10 % HTTP mixed, 10 % TCP all-mTLS."""
    edges = []
    for i in range(services):
        ns, svc = f"ns-{i // per_namespace:03d}", f"svc-{i:05d}"
        caller = f"svc-{(i + 1) % services:05d}"
        caller_ns = f"ns-{((i + 1) % services) // per_namespace:03d}"
        kind = i % 10
        protocol = "tcp" if kind == 9 else "http"
        total = 100.0 + i % 37
        mtls = total / 2 if kind == 8 else total
        edges.append(ObservedEdge(caller_ns, caller, ns, svc, svc, protocol, total, mtls))
    return edges


#: The planner side: a fresh process that fetches the traffic and judges every namespace, as
#: ``planner traffic`` does; prints the edges, the requests and the seconds of each part.
CHILD = """\
import json, sys, time
started = time.perf_counter()
from planner.domain.traffic import namespace_mtls_status
from planner.sources.prometheus import PrometheusClient
imported = time.perf_counter()
client = PrometheusClient(sys.argv[1], timeout_s=120)
snap = client.fetch_traffic()
fetched = time.perf_counter()
status = namespace_mtls_status(snap)
print(json.dumps({"edges": len(snap.edges), "requests": client.request_count,
                  "namespaces": len(status), "imports": imported - started,
                  "fetch": fetched - imported, "status": time.perf_counter() - fetched}))
"""


def _curl_config(url: str, out: Path) -> Path:
    """A curl config POSTing the planner's two traffic queries, as it sends them."""
    from planner.domain.traffic import (
        DEFAULT_WINDOW,
        REQUESTS_METRIC,
        TCP_METRIC,
        promql_traffic_query,
    )

    groups = ["\n".join(("silent", "fail", f'url = "{url}/api/v1/query"', 'output = "/dev/null"',
                          "data-urlencode = "
                          + json.dumps("query=" + promql_traffic_query(metric, DEFAULT_WINDOW,
                                                                        None)),
                          'data-urlencode = "timeout=120s"'))
              for metric in (REQUESTS_METRIC, TCP_METRIC)]
    out.write_text("\nnext\n".join(groups) + "\n", encoding="utf-8")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--span", type=int, default=7200, help="seconds of history")
    parser.add_argument("--step", type=int, default=300,
                        help="seconds between samples (fewer samples: faster setup)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("bench/traffic.py needs curl on PATH")
    compile_bytecode()
    edges = mesh(args.services)
    started = time.perf_counter()
    figures: list[dict[str, float]] = []
    with PromServer(list(edges), span_s=args.span, step_s=args.step,
                    ready_timeout_s=300) as server, tempfile.TemporaryDirectory() as tmp:
        setup_s = time.perf_counter() - started
        config = _curl_config(server.url, Path(tmp) / "curl.conf")

        def planner() -> Timed:
            run = run_process([sys.executable, "-c", CHILD, server.url])
            figures.append(json.loads(run.stdout.strip().splitlines()[-1]))
            return run

        times = alternate(args.runs, {
            "planner (fetch_traffic)": planner,
            "curl, same 2 queries": lambda: run_process([curl, "--config", str(config)]),
        })
        series = server.series
    last = figures[-1]
    print(f"services:       {args.services}")
    print(f"series:         {series} ({args.span // args.step + 1} samples each)")
    print(f"setup:          {setup_s:.1f}s (generate, promtool blocks, prometheus ready)")
    print(f"http requests:  {last['requests']:.0f} -> {last['edges']:.0f} edges, "
          f"{last['namespaces']:.0f} namespaces")
    print(f"best of {args.runs}, whole processes taking turns (the two queries are sent one "
          "after the other on both sides):")
    for name, runs in times.items():
        print(f"  {name:<24} {best(runs):6.2f} s  (CPU {best(runs, 'cpu'):.2f} s)")
    fastest = {k: min(f[k] for f in figures) for k in ("imports", "fetch", "status")}
    print(f"  planner, in process:     imports {fastest['imports']:.2f} s, fetch_traffic "
          f"{fastest['fetch']:.2f} s, namespace status {fastest['status'] * 1000:.0f} ms")
    print(ratio_line("planner / curl", best(times["planner (fetch_traffic)"]),
                     best(times["curl, same 2 queries"]), "whole processes"))
    ok = last["requests"] == 2 and last["edges"] == len(edges)
    if not ok:
        print("MISMATCH: expected 2 requests and one edge per service", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
