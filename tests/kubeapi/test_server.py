"""The test API server behaves like a real one where the planner and kubectl look."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ServerFactory

PA = "/apis/security.istio.io/v1/namespaces/shop/peerauthentications"
APPLY = "application/apply-patch+yaml"


def _ns(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _pod(name: str, namespace: str = "shop", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]}}


def _pa(mode: str, name: str = "default", namespace: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"mtls": {"mode": mode}}}


@pytest.fixture
def shop(kube_api: KubeAPIServer) -> KubeAPIServer:
    kube_api.load([
        _ns("shop"), _ns("web"),
        _pod("cart-0", app="cart", tier="backend"),
        _pod("cart-1", app="cart", tier="backend"),
        _pod("front-0", app="front", tier="frontend"),
        _pod("legacy-0", app="legacy"),
        _pod("site-0", "web", app="site"),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
         "data": {"password": "aHVudGVyMg=="}},
        _pa("PERMISSIVE"),
    ])
    return kube_api


# --- kubectl against the server ------------------------------------------------------------

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not found")


def _kubectl(api: KubeAPIServer, tmp_path: Path, *args: str,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not api.tls:
        pytest.skip("kubectl sends tokens only over HTTPS; no openssl to make a certificate")
    return subprocess.run(
        ["kubectl", "--kubeconfig", api.kubeconfig, "--cache-dir", str(tmp_path / "cache"),
         *args],
        capture_output=True, text=True, input=stdin, timeout=60, check=False,
    )


@needs_kubectl
def test_kubectl_get_pods_all_namespaces(shop: KubeAPIServer, tmp_path: Path) -> None:
    done = _kubectl(shop, tmp_path, "get", "pods", "-A")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "AGE"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["shop", "cart-0"], ["shop", "cart-1"], ["shop", "front-0"], ["shop", "legacy-0"],
        ["web", "site-0"]]


@needs_kubectl
def test_kubectl_get_namespaces(shop: KubeAPIServer, tmp_path: Path) -> None:
    done = _kubectl(shop, tmp_path, "get", "ns")
    assert done.returncode == 0, done.stderr
    # Every cluster has kube-system (its UID identifies the cluster).
    assert [line.split()[0] for line in done.stdout.splitlines()[1:]] == [
        "kube-system", "shop", "web"]


@needs_kubectl
def test_kubectl_get_peerauthentications_json(shop: KubeAPIServer, tmp_path: Path) -> None:
    done = _kubectl(shop, tmp_path, "get", "peerauthentications.security.istio.io", "-A",
                    "-o", "json")
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)["items"]
    assert [(i["apiVersion"], i["kind"], i["metadata"]["name"], i["spec"]["mtls"]["mode"])
            for i in items] == [("security.istio.io/v1", "PeerAuthentication", "default",
                                 "PERMISSIVE")]


@needs_kubectl
def test_kubectl_label_and_server_side_apply(shop: KubeAPIServer, tmp_path: Path) -> None:
    done = _kubectl(shop, tmp_path, "label", "ns", "shop", "istio-injection=enabled")
    assert done.returncode == 0, done.stderr
    ns = shop.get("namespaces", "shop")
    assert ns is not None and ns["metadata"]["labels"]["istio-injection"] == "enabled"
    done = _kubectl(shop, tmp_path, "apply", "--server-side", "--validate=false",
                    "--field-manager=meshplan", "--force-conflicts", "-f", "-",
                    stdin=json.dumps(_pa("STRICT")))
    assert done.returncode == 0, done.stderr
    pa = shop.get("peerauthentications.security.istio.io", "default", "shop")
    assert pa is not None and pa["spec"]["mtls"]["mode"] == "STRICT"


# --- authentication and discovery -----------------------------------------------------------


def test_missing_or_wrong_token_is_401(kube_api: KubeAPIServer) -> None:
    for token in ("", "wrong"):
        status, body = kube_api.request("GET", "/api/v1/pods", token=token)
        assert status == 401
        assert body["kind"] == "Status" and body["reason"] == "Unauthorized"


def test_kubeconfig_has_server_token_and_context_test(kube_api: KubeAPIServer) -> None:
    config = json.loads(Path(kube_api.kubeconfig).read_text())
    assert config["current-context"] == "test"
    assert config["clusters"][0]["cluster"]["server"] == kube_api.url
    assert config["users"][0]["user"]["token"] == kube_api.token
    assert kube_api.url.startswith("http") and "127.0.0.1" in kube_api.url


def test_discovery_documents(kube_api: KubeAPIServer) -> None:
    assert kube_api.request("GET", "/version")[1]["major"] == "1"
    assert kube_api.request("GET", "/api")[1]["versions"] == ["v1"]
    groups = {g["name"]: g for g in kube_api.request("GET", "/apis")[1]["groups"]}
    assert [v["version"] for v in groups["networking.istio.io"]["versions"]] == [
        "v1", "v1beta1", "v1alpha3"]
    assert groups["security.istio.io"]["preferredVersion"]["version"] == "v1"
    core = {r["name"]: r for r in kube_api.request("GET", "/api/v1")[1]["resources"]}
    assert core["namespaces"]["namespaced"] is False and core["pods"]["namespaced"] is True
    assert {"secrets", "configmaps", "nodes", "endpoints", "serviceaccounts"} <= set(core)
    status, sec = kube_api.request("GET", "/apis/security.istio.io/v1beta1")
    assert status == 200 and sec["kind"] == "APIResourceList"
    pa = next(r for r in sec["resources"] if r["name"] == "peerauthentications")
    assert pa["kind"] == "PeerAuthentication" and "list" in pa["verbs"] and pa["namespaced"]


def test_istio_can_be_switched_off(kube_api_factory: ServerFactory) -> None:
    api = kube_api_factory(istio=False)
    names = {g["name"] for g in api.request("GET", "/apis")[1]["groups"]}
    assert "security.istio.io" not in names and "networking.istio.io" not in names
    assert "gateway.networking.k8s.io" in names
    assert api.request("GET", "/apis/security.istio.io/v1/peerauthentications")[0] == 404


# --- reading -------------------------------------------------------------------------------


def test_list_sets_kind_and_api_version_on_items(shop: KubeAPIServer) -> None:
    status, body = shop.request("GET", "/apis/security.istio.io/v1beta1/peerauthentications")
    assert status == 200
    assert body["kind"] == "PeerAuthenticationList"
    assert body["apiVersion"] == "security.istio.io/v1beta1"
    assert body["metadata"]["resourceVersion"] == str(shop.resource_version)
    assert [(i["apiVersion"], i["kind"]) for i in body["items"]] == [
        ("security.istio.io/v1beta1", "PeerAuthentication")]


def test_pagination_with_limit_and_continue(shop: KubeAPIServer) -> None:
    names: list[str] = []
    path = "/api/v1/pods?limit=2"
    pages = 0
    while True:
        status, body = shop.request("GET", path)
        assert status == 200
        pages += 1
        names += [i["metadata"]["name"] for i in body["items"]]
        token = body["metadata"].get("continue")
        if not token:
            break
        assert body["metadata"]["remainingItemCount"] == 5 - len(names)
        path = f"/api/v1/pods?limit=2&continue={token}"
    assert pages == 3
    assert names == ["cart-0", "cart-1", "front-0", "legacy-0", "site-0"]


def test_namespaced_list_and_get(shop: KubeAPIServer) -> None:
    body = shop.request("GET", "/api/v1/namespaces/web/pods")[1]
    assert [i["metadata"]["name"] for i in body["items"]] == ["site-0"]
    status, pod = shop.request("GET", "/api/v1/namespaces/shop/pods/cart-0")
    assert status == 200 and pod["kind"] == "Pod" and pod["metadata"]["uid"]
    status, missing = shop.request("GET", "/api/v1/namespaces/shop/pods/nope")
    assert status == 404 and missing["reason"] == "NotFound"
    assert missing["message"] == 'pods "nope" not found'


@pytest.mark.parametrize(("selector", "expected"), [
    ("app=cart", ["cart-0", "cart-1"]),
    ("app==cart,tier=backend", ["cart-0", "cart-1"]),
    ("app!=cart", ["front-0", "legacy-0", "site-0"]),
    ("app in (front,site)", ["front-0", "site-0"]),
    ("app notin (front,site),tier", ["cart-0", "cart-1"]),
    ("tier", ["cart-0", "cart-1", "front-0"]),
    ("!tier", ["legacy-0", "site-0"]),
])
def test_label_selectors(shop: KubeAPIServer, selector: str, expected: list[str]) -> None:
    from urllib.parse import quote

    status, body = shop.request("GET", f"/api/v1/pods?labelSelector={quote(selector)}")
    assert status == 200
    assert [i["metadata"]["name"] for i in body["items"]] == expected


def test_bad_selector_is_400(shop: KubeAPIServer) -> None:
    status, body = shop.request("GET", "/api/v1/pods?labelSelector=%3D%3Dx")
    assert status == 400 and body["reason"] == "BadRequest"


def test_secrets_can_be_listed_and_the_log_shows_it(shop: KubeAPIServer) -> None:
    shop.clear_log()
    assert not shop.calls(resource="secrets")
    status, body = shop.request("GET", "/api/v1/secrets")
    assert status == 200 and body["items"][0]["metadata"]["name"] == "db"
    [record] = shop.calls(resource="secrets")
    assert (record.method, record.verb, record.path, record.status) == (
        "GET", "list", "/api/v1/secrets", 200)


# --- writing -------------------------------------------------------------------------------


def test_create_sets_uid_timestamp_and_conflicts_on_second_create(shop: KubeAPIServer) -> None:
    before = shop.resource_version
    status, created = shop.request("POST", PA, _pa("STRICT", name="strict"))
    assert status == 201
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"] and int(meta["resourceVersion"]) > before
    status, again = shop.request("POST", PA, _pa("STRICT", name="strict"))
    assert status == 409
    assert again["reason"] == "AlreadyExists" and again["kind"] == "Status"
    assert again["status"] == "Failure" and again["code"] == 409
    assert again["message"] == 'peerauthentications.security.istio.io "strict" already exists'


def test_create_is_validated(shop: KubeAPIServer) -> None:
    status, body = shop.request("POST", PA, _pa("SOMETIMES", name="bad"))
    assert status == 422 and body["reason"] == "Invalid" and "SOMETIMES" in body["message"]
    status, body = shop.request(
        "POST", "/apis/security.istio.io/v1/namespaces/ghost/peerauthentications",
        _pa("STRICT", namespace="ghost"))
    assert status == 404 and body["message"] == 'namespaces "ghost" not found'


def test_merge_and_strategic_patch_of_labels(shop: KubeAPIServer) -> None:
    rv = shop.get("namespaces", "shop")["metadata"]["resourceVersion"]  # type: ignore[index]
    for ctype, value in (("application/merge-patch+json", "enabled"),
                         ("application/strategic-merge-patch+json", "disabled")):
        status, ns = shop.request("PATCH", "/api/v1/namespaces/shop",
                                  {"metadata": {"labels": {"istio-injection": value}}},
                                  content_type=ctype)
        assert status == 200, ns
        assert ns["metadata"]["labels"]["istio-injection"] == value
        assert int(ns["metadata"]["resourceVersion"]) > int(rv)
        rv = ns["metadata"]["resourceVersion"]
    status, ns = shop.request("PATCH", "/api/v1/namespaces/shop",
                              {"metadata": {"labels": {"istio-injection": None}}},
                              content_type="application/merge-patch+json")
    assert "istio-injection" not in ns["metadata"].get("labels", {})


def test_delete(shop: KubeAPIServer) -> None:
    status, body = shop.request("DELETE", f"{PA}/default")
    assert status == 200 and body["status"] == "Success"
    assert shop.get("peerauthentications.security.istio.io", "default", "shop") is None
    assert shop.request("DELETE", f"{PA}/default")[0] == 404


def test_server_side_apply_conflict_and_force(shop: KubeAPIServer) -> None:
    status, _ = shop.request("PATCH", f"{PA}/strict?fieldManager=gitops",
                             json.dumps(_pa("PERMISSIVE", name="strict")), content_type=APPLY)
    assert status == 201
    # Same value from another manager: shared ownership, no conflict.
    status, _ = shop.request("PATCH", f"{PA}/strict?fieldManager=meshplan",
                             json.dumps(_pa("PERMISSIVE", name="strict")), content_type=APPLY)
    assert status == 200
    status, body = shop.request("PATCH", f"{PA}/strict?fieldManager=meshplan",
                                json.dumps(_pa("STRICT", name="strict")), content_type=APPLY)
    assert status == 409 and body["reason"] == "Conflict"
    assert '"gitops"' in body["message"] and ".spec.mtls" in body["message"]
    status, body = shop.request("PATCH", f"{PA}/strict?fieldManager=meshplan&force=true",
                                json.dumps(_pa("STRICT", name="strict")), content_type=APPLY)
    assert status == 200 and body["spec"]["mtls"]["mode"] == "STRICT"
    owners = {m["manager"]: m["fieldsV1"] for m in body["metadata"]["managedFields"]}
    assert owners == {"meshplan": {"f:spec": {"f:mtls": {}}}}


def test_server_side_apply_needs_field_manager_and_drops_unapplied_fields(
        shop: KubeAPIServer) -> None:
    status, body = shop.request("PATCH", f"{PA}/default", json.dumps(_pa("STRICT")),
                                content_type=APPLY)
    assert status == 400 and "fieldManager" in body["message"]
    with_selector = _pa("STRICT", name="sel")
    with_selector["spec"]["selector"] = {"matchLabels": {"app": "cart"}}
    shop.request("PATCH", f"{PA}/sel?fieldManager=m", json.dumps(with_selector),
                 content_type=APPLY)
    status, body = shop.request("PATCH", f"{PA}/sel?fieldManager=m",
                                json.dumps(_pa("STRICT", name="sel")), content_type=APPLY)
    assert status == 200 and "selector" not in body["spec"]


def test_dry_run_stores_nothing(shop: KubeAPIServer) -> None:
    before, rv = shop.snapshot(), shop.resource_version
    status, body = shop.request("POST", f"{PA}?dryRun=All", _pa("STRICT", name="new"))
    assert status == 201 and body["metadata"]["name"] == "new"
    status, body = shop.request("PATCH", f"{PA}/default?dryRun=All&fieldManager=meshplan",
                                json.dumps(_pa("STRICT")), content_type=APPLY)
    assert status == 200 and body["spec"]["mtls"]["mode"] == "STRICT"
    status, body = shop.request("PATCH", "/api/v1/namespaces/shop?dryRun=All",
                                {"metadata": {"labels": {"x": "y"}}},
                                content_type="application/merge-patch+json")
    assert status == 200 and body["metadata"]["labels"]["x"] == "y"
    assert shop.request("DELETE", f"{PA}/default?dryRun=All")[0] == 200
    status, body = shop.request("POST", f"{PA}?dryRun=All", _pa("NEVER", name="bad"))
    assert status == 422  # dry run still validates
    assert shop.snapshot() == before and shop.resource_version == rv


# --- faults --------------------------------------------------------------------------------


def test_forbidden_names_verb_resource_and_group(shop: KubeAPIServer) -> None:
    shop.forbid("peerauthentications.security.istio.io")
    status, body = shop.request("GET", "/apis/security.istio.io/v1/peerauthentications")
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'peerauthentications.security.istio.io is forbidden: User '
        '"system:serviceaccount:meshplan:meshplan" cannot list resource "peerauthentications" '
        'in API group "security.istio.io" at the cluster scope')
    assert shop.request("GET", f"{PA}/default")[0] == 200  # only "list" was forbidden


def test_gone_on_continue_once(shop: KubeAPIServer) -> None:
    shop.expire_continue("pods")
    first = shop.request("GET", "/api/v1/pods?limit=2")[1]
    assert shop.request("GET", "/api/v1/pods?limit=2")[0] == 200  # no token: not affected
    token = first["metadata"]["continue"]
    status, body = shop.request("GET", f"/api/v1/pods?limit=2&continue={token}")
    assert status == 410 and body["reason"] == "Expired"
    assert shop.request("GET", f"/api/v1/pods?limit=2&continue={token}")[0] == 200


def test_throttle_with_retry_after_n_times(shop: KubeAPIServer) -> None:
    shop.throttle("pods", times=2, retry_after=7)
    answers = [shop.request_raw("GET", "/api/v1/pods") for _ in range(3)]
    assert [status for status, _, _ in answers] == [429, 429, 200]
    assert answers[0][1]["Retry-After"] == "7"
    assert answers[0][2]["reason"] == "TooManyRequests"
    throttled = [r for r in shop.calls(resource="pods") if r.status == 429]
    assert len(throttled) == 2


def test_internal_errors_n_times(shop: KubeAPIServer) -> None:
    shop.fail("services", times=2)
    assert [shop.request("GET", "/api/v1/services")[0] for _ in range(3)] == [500, 500, 200]
    shop.fail(times=1, status=503)  # any request, discovery included
    status, body = shop.request("GET", "/apis")
    assert status == 503 and body["reason"] == "ServiceUnavailable"


def test_slow_responses(shop: KubeAPIServer) -> None:
    shop.slow(0.3, "pods", times=1)
    start = time.monotonic()
    assert shop.request("GET", "/api/v1/pods")[0] == 200
    assert time.monotonic() - start >= 0.3


def test_request_log_records_method_path_query(shop: KubeAPIServer) -> None:
    shop.clear_log()
    shop.request("GET", "/api/v1/namespaces/shop/pods?limit=1&labelSelector=app%3Dcart")
    [record] = shop.requests
    assert record.method == "GET" and record.verb == "list"
    assert record.path == "/api/v1/namespaces/shop/pods"
    assert record.query == {"limit": "1", "labelSelector": "app=cart"}
    assert (record.resource, record.namespace, record.status) == ("pods", "shop", 200)


def test_snapshot_is_canonical_and_objects_are_copies(shop: KubeAPIServer) -> None:
    snap = shop.snapshot()
    assert json.loads(snap) == shop.objects()
    shop.objects()[0]["metadata"]["name"] = "mutated"
    assert shop.snapshot() == snap
