"""Ground-truth observed traffic for the shop sample (``sample_clusters/shop``), and writers
that turn it into the export files a user would hand to ``--traffic``.

What it holds, by destination namespace (the tests assert on each):

* storefront, catalog: mutual TLS only (their STRICT gates pass); catalog also receives
  ``orders/shipping -> catalog``, a call no manifest predicts;
* orders: one sidecar-less caller (``unknown``) sending plaintext to ``orders`` (the opted-out
  nightly-report CronJob in the manifests), so the gate fails;
* data: TCP, ``orders/cart -> redis`` partly plaintext, so the gate fails with a named caller;
  ``catalog -> postgres`` partly plaintext too, on the port the plan's exception for the
  opted-out nightly-report CronJob keeps PERMISSIVE: STRICT lets it through (PeerAuthentication
  cannot tell callers apart), so the gate leaves it out;
* payments: no series at all, so its gate is unknown, never pass.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from planner.domain.traffic import UNKNOWN, ObservedEdge


def _e(src: str, dst: str, protocol: str, total: float, mtls: float) -> ObservedEdge:
    src_ns, src_wl = src.split("/")
    dst_ns, dst_svc = dst.split("/")
    return ObservedEdge(src_ns, src_wl, dst_ns, dst_svc, dst_svc, protocol, total, mtls)


SHOP_TRUTH: tuple[ObservedEdge, ...] = (
    _e("storefront/web", "storefront/bff", "http", 1000, 1000),
    _e("storefront/bff", "orders/checkout", "http", 500, 500),
    _e("orders/checkout", "orders/cart", "http", 300, 300),
    _e(f"{UNKNOWN}/{UNKNOWN}", "orders/orders", "http", 50, 0),
    _e("storefront/bff", "catalog/catalog", "http", 800, 800),
    _e("orders/cart", "catalog/catalog", "http", 200, 200),
    _e("orders/shipping", "catalog/catalog", "http", 30, 30),
    _e("orders/cart", "data/redis", "tcp", 60, 45),
    _e("catalog/catalog", "data/postgres", "tcp", 40, 30),
)

#: Kiali rates are per second over the graph's duration.
KIALI_DURATION_S = 100


def write_kiali(path: Path, edges: tuple[ObservedEdge, ...] = SHOP_TRUTH) -> Path:
    """A Kiali workload graph (securityPolicy appender on) holding ``edges``."""
    nodes: dict[tuple[str, str, str], str] = {}

    def node(kind: str, namespace: str, name: str) -> str:
        return nodes.setdefault((kind, namespace, name), f"n{len(nodes)}")

    kiali_edges = []
    for e in edges:
        src = node("unknown" if e.unknown_caller else "workload", e.source_namespace,
                   e.source_workload)
        dst = node("service", e.destination_namespace, e.destination_service)
        data: dict[str, object] = {
            "source": src, "target": dst,
            "traffic": {"protocol": e.protocol,
                        "rates": {e.protocol: f"{e.total / KIALI_DURATION_S:.4f}"}}}
        if e.mtls:  # Kiali leaves isMTLS out when it is 0
            data["isMTLS"] = f"{100 * e.mtls / e.total:g}"
            data["sourcePrincipal"] = (f"spiffe://cluster.local/ns/{e.source_namespace}/sa/"
                                       f"{e.source_workload}")
        kiali_edges.append({"data": data})
    kiali_nodes = []
    for (kind, namespace, name), node_id in nodes.items():
        data = {"id": node_id, "nodeType": kind, "namespace": namespace}
        data["service" if kind == "service" else "workload"] = name
        kiali_nodes.append({"data": data})
    path.write_text(json.dumps({"duration": KIALI_DURATION_S, "graphType": "workload",
                                "elements": {"nodes": kiali_nodes, "edges": kiali_edges}}),
                    encoding="utf-8")
    return path


def write_csv(path: Path, edges: tuple[ObservedEdge, ...] = SHOP_TRUTH) -> Path:
    """The CSV export format: empty source columns for the sidecar-less caller."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["source_namespace", "source_workload", "destination_namespace",
                         "destination_service", "requests", "mtls_share"])
        for e in edges:
            src_ns, src_wl = ("", "") if e.unknown_caller else (e.source_namespace,
                                                                 e.source_workload)
            writer.writerow([src_ns, src_wl, e.destination_namespace, e.destination_service,
                             f"{e.total:g}", f"{e.mtls / e.total:g}"])
    return path
