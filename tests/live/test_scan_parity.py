"""A live scan and a manifest scan of the same objects give the same inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.service import ClusterInput, ManifestInput, scan
from planner.sinks.inventory_json import inventory_document
from planner.sources.manifests import load_manifests
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ServerFactory

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "sample_clusters" / "shop"
#: Sections both scans must agree on. Secrets are never listed live (by design), and "other"
#: counts kinds the live scan does not list (IngressClass, ...).
SECTIONS = ("namespaces", "workloads", "services", "configMaps", "routes", "networkPolicies",
            "apiServerCallees", "istio", "nodes")
#: Set by the API server, absent from hand-written manifests.
SERVER_FIELDS = {"source", "created"}


def _comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in SERVER_FIELDS}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def test_live_scan_equals_manifest_scan(kube_api_factory: ServerFactory) -> None:
    kube_api = kube_api_factory(kube_system=False)  # only the manifests' objects
    offline = scan(ManifestInput((str(SHOP),), recursive=True))
    loaded = load_manifests([str(SHOP)], recursive=True)
    served = {(rt.group, rt.kind) for rt in kube_api.types}
    kube_api.load([doc.body for doc in loaded.documents
                   if (doc.body["apiVersion"].rpartition("/")[0], doc.body["kind"]) in served])

    live = scan(ClusterInput(kubeconfig=kube_api.kubeconfig))

    offline_doc = inventory_document(offline.inventory)
    live_doc = inventory_document(live.inventory)
    for section in SECTIONS:
        assert _comparable(live_doc[section]) == _comparable(offline_doc[section]), section
    assert live.inventory.secrets == ()
    assert offline.inventory.secrets
    assert live.api_calls is not None and live.api_calls > 0
    assert not kube_api.calls(resource="secrets")


def test_verbose_live_scan_reports_api_calls(kube_api: KubeAPIServer) -> None:
    import subprocess
    import sys

    kube_api.load([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}])
    result = subprocess.run(
        [sys.executable, "-m", "planner", "scan", "--kubeconfig", kube_api.kubeconfig, "-v",
         "-o", "json"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    calls = len(kube_api.requests)
    assert f"{calls} API calls" in result.stderr
    quiet = subprocess.run(
        [sys.executable, "-m", "planner", "scan", "--kubeconfig", kube_api.kubeconfig,
         "-o", "json"], capture_output=True, text=True, cwd=ROOT)
    assert quiet.returncode == 0 and "API calls" not in quiet.stderr
