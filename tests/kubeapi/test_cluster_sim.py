"""The test API server behaves like a cluster after writes: rollouts progress over time, the
sidecar injector adds istio-proxy in labelled namespaces (or does not, when injection is
broken), istiod has a status, the Istio groups are served or not. Read through the official
``kubernetes`` client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.kubeapi import KubeAPIServer
from tests.kubeapi.cluster_sim import istio_control_plane


def _app(namespace: str, name: str, replicas: int = 2, **template_labels: str) -> list[Any]:
    labels = {"app": name}
    return [{"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": name, "namespace": namespace},
             "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                      "template": {"metadata": {"labels": {**labels, **template_labels}},
                                   "spec": {"containers": [{"name": name,
                                                            "image": "nginx"}]}}}}]


@pytest.fixture
def clients(kube_api: KubeAPIServer) -> Iterator[tuple[Any, Any, Any]]:
    """(CoreV1Api, AppsV1Api, ApisApi) of the official client over the server's kubeconfig."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=kube_api.kubeconfig,
                            client_configuration=configuration)
    api_client = client.ApiClient(configuration)
    with api_client:
        yield client.CoreV1Api(api_client), client.AppsV1Api(api_client), \
            client.ApisApi(api_client)


def _restart(apps: Any, namespace: str, name: str) -> None:
    """``kubectl rollout restart``'s patch."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    apps.patch_namespaced_deployment(name, namespace, {"spec": {"template": {"metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}})


def _containers(core: Any, namespace: str) -> list[list[str]]:
    pods = core.list_namespaced_pod(namespace).items
    return sorted(sorted(c.name for c in p.spec.containers) for p in pods)


def _wait(predicate: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_restart_in_an_injection_labelled_namespace_rolls_out_pods_with_istio_proxy(
        kube_api: KubeAPIServer, clients: tuple[Any, Any, Any]) -> None:
    core, apps, _ = clients
    kube_api.load([*istio_control_plane(),
                   {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
                   *_app("shop", "web", replicas=3)])
    kube_api.cluster.replica_delay = 0.15
    _restart(apps, "shop", "web")
    seen = []
    while True:  # what `kubectl rollout status` polls: the status moves one replica at a time
        status = apps.read_namespaced_deployment("web", "shop").status
        seen.append((status.observed_generation, status.updated_replicas or 0,
                     status.available_replicas or 0))
        if seen[-1] == (2, 3, 3) or len(seen) > 500:
            break
        time.sleep(0.02)
    assert seen[0][0] == 2 and seen[0][1] < 3
    assert any(0 < updated < 3 for _, updated, _ in seen)  # part-way, reported as such
    assert seen[-1] == (2, 3, 3) and status.replicas == 3
    assert not kube_api.cluster.rolling()
    assert _containers(core, "shop") == [["istio-proxy", "web"]] * 3
    pod = core.list_namespaced_pod("shop").items[0]
    owner = pod.metadata.owner_references[0]
    replica_set = apps.read_namespaced_replica_set(owner.name, "shop")
    assert owner.kind == "ReplicaSet" and \
        replica_set.metadata.owner_references[0].name == "web"


def test_without_an_injector_webhook_new_pods_come_without_a_sidecar(
        kube_api: KubeAPIServer, clients: tuple[Any, Any, Any]) -> None:
    core, apps, _ = clients
    kube_api.load([*istio_control_plane(injector=False),
                   {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
                   *_app("shop", "web")])
    _restart(apps, "shop", "web")
    _wait(lambda: not kube_api.cluster.rolling())
    assert _containers(core, "shop") == [["web"], ["web"]]


def test_opted_out_pods_and_unlabelled_namespaces_get_no_sidecar(
        kube_api: KubeAPIServer, clients: tuple[Any, Any, Any]) -> None:
    core, apps, _ = clients
    kube_api.load([*istio_control_plane(),
                   {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain"}},
                   {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
                   *_app("plain", "web"),
                   *_app("shop", "job", **{"sidecar.istio.io/inject": "false"})])
    _restart(apps, "plain", "web")
    _restart(apps, "shop", "job")
    _wait(lambda: not kube_api.cluster.rolling())
    assert _containers(core, "plain") == [["web"], ["web"]]
    assert _containers(core, "shop") == [["job"], ["job"]]


def test_injection_with_istiod_down_blocks_the_rollout(
        kube_api: KubeAPIServer, clients: tuple[Any, Any, Any]) -> None:
    """failurePolicy Fail: pod creation fails while the webhook's istiod is unavailable, so
    the rollout never completes (and no pod without a sidecar sneaks in)."""
    _, apps, _ = clients
    kube_api.load([*istio_control_plane(istiod_available=False),
                   {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
                   *_app("shop", "web")])
    _restart(apps, "shop", "web")
    time.sleep(0.05)
    status = apps.read_namespaced_deployment("web", "shop").status
    assert kube_api.cluster.rolling() == ["shop/web"]
    assert (status.updated_replicas or 0) < 2 or (status.replicas or 0) > 2


def test_a_broken_rollout_stays_incomplete_and_reports_its_deadline(
        kube_api: KubeAPIServer, clients: tuple[Any, Any, Any]) -> None:
    _, apps, _ = clients
    objects = _app("shop", "web")
    objects[0]["spec"]["progressDeadlineSeconds"] = 0
    kube_api.load([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
                   *objects])
    kube_api.cluster.break_rollout("shop", "web")
    _restart(apps, "shop", "web")
    time.sleep(0.05)
    status = apps.read_namespaced_deployment("web", "shop").status
    assert status.updated_replicas == 1 and status.available_replicas != status.replicas
    reasons = {c.reason for c in status.conditions or []}
    assert "ProgressDeadlineExceeded" in reasons


def test_istiod_has_a_status_and_the_injector_webhook_is_served(
        kube_api: KubeAPIServer, clients: tuple[Any, Any, Any]) -> None:
    from kubernetes import client

    _, apps, _ = clients
    kube_api.load(istio_control_plane(revision="1-24"))
    istiod = apps.read_namespaced_deployment("istiod-1-24", "istio-system")
    assert istiod.metadata.labels == {"app": "istiod", "istio.io/rev": "1-24"}
    assert istiod.status.available_replicas == 1
    admission = client.AdmissionregistrationV1Api(apps.api_client)
    hooks = admission.list_mutating_webhook_configuration().items
    assert [h.metadata.name for h in hooks] == ["istio-sidecar-injector-1-24"]
    assert hooks[0].webhooks[0].name == "rev.namespace.sidecar-injector.istio.io"


def test_istio_groups_are_served_or_not_in_discovery(
        kube_api: KubeAPIServer, clients: tuple[Any, Any, Any]) -> None:
    _, _, apis = clients

    def groups() -> set[str]:
        return {g.name for g in apis.get_api_versions().groups}

    assert {"security.istio.io", "networking.istio.io"} <= groups()
    kube_api.cluster.serve_istio(False)
    assert not {"security.istio.io", "networking.istio.io"} & groups()
    kube_api.cluster.serve_istio(True)
    assert "security.istio.io" in groups()


def test_ambient_namespaces_are_redirected_once_ztunnel_runs(
        kube_api: KubeAPIServer, clients: tuple[Any, Any, Any]) -> None:
    core, apps, _ = clients
    kube_api.load([*istio_control_plane(ambient=True),
                   {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
                   *_app("shop", "web")])
    _restart(apps, "shop", "web")  # pods the simulator created
    _wait(lambda: not kube_api.cluster.rolling())
    assert all(not (p.metadata.annotations or {}).get("ambient.istio.io/redirection")
               for p in core.list_namespaced_pod("shop").items)
    core.patch_namespace("shop", {"metadata": {"labels": {
        "istio.io/dataplane-mode": "ambient"}}})
    pods = core.list_namespaced_pod("shop").items
    assert [p.metadata.annotations.get("ambient.istio.io/redirection") for p in pods] == \
        ["enabled", "enabled"]


def test_deploy_brings_seeded_workloads_up_through_admission_as_it_stands(
        kube_api: KubeAPIServer, clients: tuple[Any, Any, Any]) -> None:
    core, apps, _ = clients
    kube_api.load([*istio_control_plane(),
                   {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
                   {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "batch"}},
                   *_app("shop", "web", replicas=2), *_app("batch", "job", replicas=1)])
    assert not core.list_namespaced_pod("shop").items  # load takes objects as they are
    kube_api.cluster.deploy()
    assert _containers(core, "shop") == [["istio-proxy", "web"]] * 2
    assert _containers(core, "batch") == [["job"]]
    status = apps.read_namespaced_deployment("web", "shop").status
    assert (status.updated_replicas, status.available_replicas) == (2, 2)
    kube_api.cluster.deploy()  # workloads with pods are left alone
    assert len(core.list_namespaced_pod("shop").items) == 2
