"""Benchmark: fetch_traffic against a real Prometheus holding a 10,000-service mesh.

Generates Istio metrics for ``--services`` services (default 10,000 in 100 namespaces, about
31,000 series: destination-reported series per response code and security policy plus the
client-side duplicates Istio also exports), loads them into a throw-away Prometheus the same
way the tests do (``tests/traffic/promserver.py``: OpenMetrics -> promtool blocks ->
prometheus on 127.0.0.1), then times one ``fetch_traffic`` and reports how many HTTP
requests it made. Needs promtool and prometheus (``.ci/install-prometheus.sh``).

    python bench/traffic.py [--services 10000] [--step 300]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from planner.domain.traffic import ObservedEdge, namespace_mtls_status
from planner.sources.prometheus import PrometheusClient
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--span", type=int, default=7200, help="seconds of history")
    parser.add_argument("--step", type=int, default=300,
                        help="seconds between samples (fewer samples: faster setup)")
    args = parser.parse_args()

    edges = mesh(args.services)
    started = time.perf_counter()
    with PromServer(list(edges), span_s=args.span, step_s=args.step,
                    ready_timeout_s=300) as server:
        setup_s = time.perf_counter() - started
        client = PrometheusClient(server.url, timeout_s=120)
        t0 = time.perf_counter()
        snap = client.fetch_traffic()
        fetch_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        status = namespace_mtls_status(snap)
        status_s = time.perf_counter() - t1
        print(f"services:       {args.services}")
        print(f"series:         {server.series} "
              f"({args.span // args.step + 1} samples each)")
        print(f"setup:          {setup_s:.1f}s (generate, promtool blocks, prometheus ready)")
        print(f"http requests:  {client.request_count}")
        print(f"fetch_traffic:  {fetch_s:.2f}s -> {len(snap.edges)} edges, "
              f"has_data={snap.has_data}")
        print(f"namespace stat: {status_s * 1000:.1f}ms for {len(status)} namespaces")
        ok = client.request_count == 2 and len(snap.edges) == len(edges)
    if not ok:
        print("MISMATCH: expected 2 requests and one edge per service", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
