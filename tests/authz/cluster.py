"""A generated cluster whose callers are known: which are meshed, which are not, which share
a service account. The tests compare the proposal with this truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def _deployment(ns: str, name: str, *, account: str | None = None, calls: str = "",
                host_network: bool = False, kind: str = "Deployment",
                extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{
        "name": name, "image": f"example/{name}:1",
        "ports": [{"name": "http", "containerPort": 8080}],
        **({"env": [{"name": "UPSTREAM", "value": calls}]} if calls else {})}]}
    if account:
        pod["serviceAccountName"] = account
    if host_network:
        pod["hostNetwork"] = True
    labels = {"app": name, **(extra_labels or {})}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels}, "spec": pod}}}


def _service(ns: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def _namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, **({"labels": labels} if labels else {})}}


API = "http://api.shop.svc.cluster.local:80"

#: The truth: who calls shop/api and with which principal, or why none.
MESHED_CALLERS = {
    "Deployment/web/frontend": "cluster.local/ns/web/sa/frontend",
    "Deployment/web/worker-a": "cluster.local/ns/web/sa/default",
    "Deployment/web/worker-b": "cluster.local/ns/web/sa/default",
    "Deployment/shop/cart": "cluster.local/ns/shop/sa/cart",
}
UNMESHED_CALLERS = {
    "Deployment/legacy/old-client",  # its namespace opted out of injection
    "DaemonSet/web/node-agent",  # hostNetwork
}
#: web/default is shared by the two workers (callers) and an idle batch worker.
SHARED = ("web", "default", ("Deployment/web/idle", "Deployment/web/worker-a",
                             "Deployment/web/worker-b"))


def write_cluster(folder: Path, *, ambient_shop: bool = False) -> Path:
    """Write the cluster's manifests into ``folder`` and return the file."""
    docs = [
        _namespace("shop", {"istio.io/dataplane-mode": "ambient"} if ambient_shop
                   else {"istio-injection": "enabled"}),
        _namespace("web", {"istio-injection": "enabled"}),
        _namespace("legacy", {"istio-injection": "disabled"}),
        _deployment("shop", "api", account="api"), _service("shop", "api"),
        _deployment("shop", "cart", account="cart", calls=API), _service("shop", "cart"),
        _deployment("web", "frontend", account="frontend", calls=API),
        _deployment("web", "worker-a", calls=API),
        _deployment("web", "worker-b", calls=API),
        _deployment("web", "idle"),
        _deployment("web", "node-agent", kind="DaemonSet", calls=API, host_network=True,
                    account="node-agent"),
        _deployment("legacy", "old-client", calls=API, account="old"),
    ]
    path = folder / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=True), encoding="utf-8")
    return path
