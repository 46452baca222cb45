"""The live scan source against the Kubernetes-API test server."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.domain.diagnostics import Severity, Source
from planner.errors import ClusterError
from planner.sources.kube import LIST_WORKERS, SCAN_KINDS, KubeTarget, ScanStats, scan_cluster
from planner.sources.manifests import LoadResult, RawDocument
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ServerFactory

ROOT = Path(__file__).resolve().parents[2]
ISTIO_KINDS = [s.qualified for s in SCAN_KINDS if s.group.endswith("istio.io")]


def _obj(api_version: str, kind: str, name: str, namespace: str | None = None,
         **fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}


SEED = [
    _obj("v1", "Namespace", "shop", metadata={"name": "shop",
                                              "labels": {"istio-injection": "enabled"}}),
    _obj("v1", "Namespace", "web"),
    _obj("v1", "Pod", "cart-0", "shop", spec={"containers": [{"name": "c", "image": "i"}]}),
    _obj("v1", "Pod", "cart-1", "shop"),
    _obj("v1", "Pod", "front-0", "shop"),
    _obj("v1", "Pod", "site-0", "web"),
    _obj("v1", "Service", "cart", "shop", spec={"selector": {"app": "cart"}}),
    _obj("v1", "Service", "site", "web"),
    _obj("v1", "Secret", "db", "shop", data={"password": "aHVudGVyMg=="}),
    _obj("v1", "ConfigMap", "settings", "shop"),
    _obj("apps/v1", "Deployment", "cart", "shop"),
    _obj("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "injector"),
    _obj("security.istio.io/v1beta1", "PeerAuthentication", "default", "shop",
         spec={"mtls": {"mode": "PERMISSIVE"}}),
    _obj("networking.istio.io/v1alpha3", "DestinationRule", "cart", "shop"),
]


@pytest.fixture
def cluster(kube_api_factory: ServerFactory) -> KubeAPIServer:
    # Without kube-system: the scan must return exactly the seeded objects.
    api = kube_api_factory(kube_system=False)
    api.load(SEED)
    api.clear_log()
    return api


def _scan(api: KubeAPIServer, **options: Any) -> tuple[LoadResult, ScanStats]:
    namespace = options.pop("namespace", None)
    return scan_cluster(KubeTarget(api.kubeconfig, namespace=namespace), **options)


def _names(result: LoadResult) -> list[tuple[str, str, str, str]]:
    return [(d.body["apiVersion"], d.body["kind"], d.body["metadata"].get("namespace", ""),
             d.body["metadata"]["name"]) for d in result.documents]


def _discovery_calls(api: KubeAPIServer) -> int:
    return len(api.calls(verb="discovery"))


def test_scan_returns_seeded_objects_with_api_version_and_kind(cluster: KubeAPIServer) -> None:
    result, stats = _scan(cluster)
    assert _names(result) == [
        ("v1", "Namespace", "", "shop"),
        ("v1", "Namespace", "", "web"),
        ("v1", "Pod", "shop", "cart-0"),
        ("v1", "Pod", "shop", "cart-1"),
        ("v1", "Pod", "shop", "front-0"),
        ("v1", "Pod", "web", "site-0"),
        ("v1", "Service", "shop", "cart"),
        ("v1", "Service", "web", "site"),
        ("v1", "ConfigMap", "shop", "settings"),
        ("apps/v1", "Deployment", "shop", "cart"),
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "", "injector"),
        # The server's preferred version, whatever version the object was written in.
        ("security.istio.io/v1", "PeerAuthentication", "shop", "default"),
        ("networking.istio.io/v1", "DestinationRule", "shop", "cart"),
    ]
    assert [d.source for d in result.documents] == [
        Source("cluster:test", n) for n in range(1, 14)]
    pod = result.documents[2].body
    assert pod["spec"] == {"containers": [{"name": "c", "image": "i"}]}
    assert result.documents[0].body["metadata"]["labels"] == {"istio-injection": "enabled"}
    assert result.diagnostics == [] and result.invalid == 0
    assert stats.kinds_listed == [s.qualified for s in SCAN_KINDS]
    assert stats.kinds_absent == [] and stats.kinds_forbidden == []


def test_one_list_per_kind_per_page_and_never_secrets(cluster: KubeAPIServer) -> None:
    _, stats = _scan(cluster, page_size=2)
    per_kind = Counter(r.resource for r in cluster.requests if r.verb == "list")
    assert per_kind["pods"] == 2  # 4 pods in pages of 2
    assert per_kind["namespaces"] == 1 and per_kind["services"] == 1
    assert set(per_kind.values()) <= {1, 2}
    assert set(per_kind) == {s.qualified for s in SCAN_KINDS}
    # /apis, then one resource list per API group of interest; nothing for the core group.
    # EnvoyFilter is served at v1alpha3 only: networking.istio.io is asked about twice.
    groups = {s.group for s in SCAN_KINDS if s.group}
    assert _discovery_calls(cluster) == 1 + len(groups) + 1
    expected_lists = len(SCAN_KINDS) + 1  # every kind has at most 2 objects, but pods
    assert stats.api_calls == len(cluster.requests) == 2 + len(groups) + expected_lists
    assert not cluster.calls(resource="secrets")
    assert {r.method for r in cluster.requests} == {"GET"}
    assert all("secrets" not in r.path for r in cluster.requests)


def test_kinds_are_listed_in_parallel_pages_of_one_kind_in_turn(
        cluster: KubeAPIServer) -> None:
    # Every list answers after 0.2 s: one after another, the 14 kinds would take 3 s.
    cluster.slow(0.2, verb="list")
    cluster.max_in_flight = 0
    threads: set[threading.Thread] = set()
    result, stats = _scan(cluster, page_size=2,
                          progress=lambda kind, n: threads.add(threading.current_thread()))
    assert cluster.max_in_flight == LIST_WORKERS
    # Progress is reported on the caller's thread (a TUI worker posts messages from it).
    assert threads == {threading.current_thread()}
    # The same documents, in the same order, as a scan one kind after another.
    assert [d.source for d in result.documents] == [
        Source("cluster:test", n) for n in range(1, len(result.documents) + 1)]
    assert [d.body["kind"] for d in result.documents][:2] == ["Namespace", "Namespace"]
    assert stats.kinds_listed == [s.qualified for s in SCAN_KINDS]
    # The pages of one kind follow each other: the second carries the first's token.
    pods = [r for r in cluster.requests if r.resource == "pods"]
    assert len(pods) == 2 and "continue" not in pods[0].query and pods[1].query["continue"]


def test_each_kinds_documents_are_handed_over_on_the_callers_thread_in_order(
        cluster: KubeAPIServer) -> None:
    # The service builds the inventory from them while the next kinds are being listed.
    cluster.slow(0.05, verb="list")
    handed: list[tuple[threading.Thread, list[RawDocument]]] = []
    result, _ = _scan(cluster, page_size=2, on_documents=lambda documents: handed.append(
        (threading.current_thread(), documents)))
    assert {thread for thread, _ in handed} == {threading.current_thread()}
    assert [doc for _, documents in handed for doc in documents] == result.documents
    assert all(len({doc.body["kind"] for doc in documents}) == 1 for _, documents in handed)
    assert len(handed) == len({doc.body["kind"] for doc in result.documents})


def test_progress_after_each_page(cluster: KubeAPIServer) -> None:
    seen: list[tuple[str, int]] = []
    _scan(cluster, page_size=3, progress=lambda kind, n: seen.append((kind, n)))
    assert [n for kind, n in seen if kind == "pods"] == [3, 4]
    assert ("peerauthentications.security.istio.io", 1) in seen


def test_forbidden_kind_gives_partial_scan_and_warning(cluster: KubeAPIServer) -> None:
    cluster.forbid("pods")
    cluster.forbid("peerauthentications.security.istio.io")
    result, stats = _scan(cluster)
    assert stats.kinds_forbidden == ["pods", "peerauthentications.security.istio.io"]
    assert "pods" not in stats.kinds_listed
    kinds = {d.body["kind"] for d in result.documents}
    assert "Pod" not in kinds and "PeerAuthentication" not in kinds and "Service" in kinds
    messages = [d.message for d in result.diagnostics if d.severity is Severity.WARNING]
    assert any("list pods" in m for m in messages)
    assert any("list peerauthentications.security.istio.io" in m for m in messages)


def test_expired_continue_token_restarts_the_list(cluster: KubeAPIServer) -> None:
    cluster.expire_continue("pods", times=1)
    result, _ = _scan(cluster, page_size=1)
    pods = [n for _, kind, _, n in _names(result) if kind == "Pod"]
    assert pods == ["cart-0", "cart-1", "front-0", "site-0"]  # no duplicates, none missing
    pod_lists = cluster.calls(resource="pods")
    assert [r.status for r in pod_lists].count(410) == 1
    assert sum(1 for r in pod_lists if "continue" not in r.query) == 2  # restarted once


def test_continue_that_keeps_expiring_falls_back_to_one_full_list(
        cluster: KubeAPIServer) -> None:
    cluster.expire_continue("pods", times=100)
    result, _ = _scan(cluster, page_size=1)
    assert [n for _, kind, _, n in _names(result) if kind == "Pod"] == [
        "cart-0", "cart-1", "front-0", "site-0"]
    assert "limit" not in cluster.calls(resource="pods")[-1].query


def test_throttling_is_retried_honouring_retry_after(cluster: KubeAPIServer) -> None:
    cluster.throttle("services", times=2, retry_after=0)
    cluster.throttle("pods", times=1, retry_after=1)
    start = time.monotonic()
    result, stats = _scan(cluster)
    assert time.monotonic() - start >= 1.0
    assert [r.status for r in cluster.calls(resource="services")] == [429, 429, 200]
    assert [r.status for r in cluster.calls(resource="pods")] == [429, 200]
    assert "Service" in {d.body["kind"] for d in result.documents}
    assert stats.api_calls == len(cluster.requests)


def test_server_errors_are_retried(cluster: KubeAPIServer) -> None:
    cluster.fail("services", times=2)
    cluster.fail(times=1, status=503)  # the very next request: discovery
    result, _ = _scan(cluster)
    assert [r.status for r in cluster.calls(resource="services")] == [500, 500, 200]
    assert cluster.requests[0].status == 503 and cluster.requests[1].path == "/apis"
    assert len(result.documents) == 13


def test_retries_stop_at_the_budget(cluster: KubeAPIServer) -> None:
    cluster.fail("services", times=None)
    with pytest.raises(ClusterError) as caught:
        _scan(cluster, max_retry_s=0.5)
    message = str(caught.value)
    assert cluster.url in message and "500" in message and "list services" in message


def test_endless_throttling_without_delay_stops(cluster: KubeAPIServer) -> None:
    cluster.throttle("pods", times=None, retry_after=0)
    with pytest.raises(ClusterError, match=r"429 .* to list pods 11 time\(s\); gave up"):
        _scan(cluster)
    assert len(cluster.calls(resource="pods")) == 11


def test_unreachable_server_is_a_cluster_error_naming_the_url(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    config = kube_api.write_kubeconfig(tmp_path / "dead", server=url)
    start = time.monotonic()
    with pytest.raises(ClusterError) as caught:
        scan_cluster(KubeTarget(config))
    assert time.monotonic() - start < 10
    assert str(caught.value) == f"cannot reach API server {url}: connection refused"
    assert caught.value.__suppress_context__  # no chained traceback


def test_unreachable_from_the_cli_prints_one_line(kube_api: KubeAPIServer,
                                                  tmp_path: Path) -> None:
    """The error reaches users as one line on stderr, without a traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = kube_api.write_kubeconfig(tmp_path / "dead", server=f"http://127.0.0.1:{port}")
    code = ("import sys\nfrom planner.errors import ClusterError\n"
            "from planner.sources.kube import KubeTarget, scan_cluster\n"
            "try:\n    scan_cluster(KubeTarget(sys.argv[1]))\n"
            "except ClusterError as err:\n    print(err, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, config], capture_output=True, text=True,
                          timeout=60, check=False, cwd=ROOT)
    assert done.stderr.strip().splitlines() == [
        f"cannot reach API server http://127.0.0.1:{port}: connection refused"]


def test_timeout_is_a_cluster_error(cluster: KubeAPIServer) -> None:
    cluster.slow(2.0, times=1)
    with pytest.raises(ClusterError, match=r"cannot reach API server .*no answer within 0.3s"):
        _scan(cluster, timeout_s=0.3)


def test_rejected_credentials(kube_api: KubeAPIServer, tmp_path: Path) -> None:
    config = kube_api.write_kubeconfig(tmp_path / "bad", token="not-the-token-s3cr3t")
    with pytest.raises(ClusterError) as caught:
        scan_cluster(KubeTarget(config))
    message = str(caught.value)
    assert "rejected the credentials" in message and kube_api.url in message
    assert "s3cr3t" not in message and kube_api.token not in message


def test_namespace_limited_scan(cluster: KubeAPIServer) -> None:
    result, stats = _scan(cluster, namespace="shop")
    names = _names(result)
    assert ("v1", "Namespace", "", "shop") in names
    assert all(ns in ("shop", "") for _, _, ns, _ in names)
    assert ("v1", "Pod", "web", "site-0") not in names
    assert {n for _, kind, _, n in names if kind == "Pod"} == {"cart-0", "cart-1", "front-0"}
    assert not cluster.calls(resource="namespaces", verb="list")
    [ns_get] = cluster.calls(resource="namespaces", verb="get")
    assert ns_get.path == "/api/v1/namespaces/shop"
    lists = cluster.calls(verb="list")
    namespaced = {s.qualified for s in SCAN_KINDS if s.namespaced}
    assert all(r.namespace == "shop" for r in lists if r.resource in namespaced)
    # Cluster-scoped kinds (webhooks, APIServices) are still read: they point into namespaces.
    assert ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "",
            "injector") in names
    assert stats.kinds_forbidden == []


def test_namespace_that_does_not_exist(cluster: KubeAPIServer) -> None:
    with pytest.raises(ClusterError, match='namespace "ghost" not found'):
        _scan(cluster, namespace="ghost")


def test_istio_crds_absent_are_noted_not_fatal(kube_api_factory: ServerFactory) -> None:
    api = kube_api_factory(istio=False)
    api.load([o for o in SEED if "istio.io" not in o["apiVersion"]])
    result, stats = _scan(api)
    assert stats.kinds_absent == ISTIO_KINDS
    assert len(ISTIO_KINDS) == 13
    assert not [r for r in api.requests if "istio.io" in r.path]
    assert "PeerAuthentication" not in {d.body["kind"] for d in result.documents}
    assert result.diagnostics == []


def test_malformed_items_are_skipped_with_errors_not_crashes(cluster: KubeAPIServer) -> None:
    cluster.inject_items("services", ["junk", {"metadata": {"namespace": "shop"}}, 7])
    result, _ = _scan(cluster)
    warnings = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    assert len(warnings) == 3 and result.invalid == 3
    assert "item 3 of the services list is not an object" in warnings[0].message
    assert "item 4 of the services list has no metadata.name" in warnings[1].message
    assert {d.body["metadata"]["name"] for d in result.documents
            if d.body["kind"] == "Service"} == {"cart", "site"}


def test_unknown_context_and_missing_kubeconfig(kube_api: KubeAPIServer,
                                                tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="cannot load the Kubernetes configuration"):
        scan_cluster(KubeTarget(kube_api.kubeconfig, context="nope"))
    with pytest.raises(ClusterError, match="does not exist"):
        scan_cluster(KubeTarget(str(tmp_path / "missing")))


def test_in_cluster_fallback_without_kubeconfig(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterError, match="no kubeconfig found"):
        scan_cluster(KubeTarget())
    # Inside a pod the service-account files are read; here they are absent.
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "1")
    with pytest.raises(ClusterError, match="cannot load the Kubernetes configuration"):
        scan_cluster(KubeTarget())


def test_kubeconfig_from_environment(cluster: KubeAPIServer,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    result, _ = scan_cluster(KubeTarget())
    assert len(result.documents) == 13


def test_module_does_not_import_kubernetes() -> None:
    code = "import sys, planner.sources.kube\nprint('kubernetes' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, cwd=ROOT)
    assert done.stdout.strip() == "False"


# --- RBAC ----------------------------------------------------------------------------------


def _rbac() -> dict[str, dict[str, Any]]:
    docs = list(yaml.safe_load_all((ROOT / "docs" / "rbac.yaml").read_text()))
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def _grants(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants.setdefault((group, resource), set()).update(rule["verbs"])
    return grants


def test_read_only_role_grants_exactly_the_scanned_kinds() -> None:
    grants = _grants(_rbac()["ClusterRole/meshplan-scan"])
    assert set(grants) == {(s.group, s.plural) for s in SCAN_KINDS}
    assert all(verbs == {"get", "list"} for verbs in grants.values())
    assert ("", "secrets") not in grants


def test_apply_role_and_bindings() -> None:
    rbac = _rbac()
    grants = _grants(rbac["ClusterRole/meshplan-apply"])
    assert grants == {
        ("security.istio.io", "peerauthentications"):
            {"create", "patch", "update", "delete", "get", "list"},
        ("", "namespaces"): {"get", "patch"},
        ("apps", "deployments"): {"patch"},
        ("apps", "statefulsets"): {"patch"},
        ("apps", "daemonsets"): {"patch"},
    }
    for role in ("meshplan-scan", "meshplan-apply"):
        binding = rbac[f"ClusterRoleBinding/{role}"]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                      "kind": "ClusterRole", "name": role}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "meshplan",
                                        "namespace": "meshplan"}]
    assert "ServiceAccount/meshplan" in rbac


def test_ambient_readiness_kinds_are_read(cluster: KubeAPIServer) -> None:
    # What MP216-MP218 judge must come from a live scan too, not only from manifests.
    cluster.load([
        _obj("networking.istio.io/v1alpha3", "EnvoyFilter", "lua", "shop", spec={}),
        _obj("networking.istio.io/v1", "WorkloadEntry", "vm-1", "shop",
             spec={"address": "10.0.0.5"}),
        _obj("security.istio.io/v1", "RequestAuthentication", "jwt", "shop", spec={}),
        _obj("telemetry.istio.io/v1", "Telemetry", "logs", "shop", spec={}),
        _obj("extensions.istio.io/v1alpha1", "WasmPlugin", "auth", "shop", spec={}),
    ])
    result, stats = _scan(cluster)
    kinds = {d.body["kind"] for d in result.documents}
    assert {"EnvoyFilter", "WorkloadEntry", "RequestAuthentication", "Telemetry",
            "WasmPlugin"} <= kinds
    assert stats.kinds_absent == [] and stats.kinds_forbidden == []
