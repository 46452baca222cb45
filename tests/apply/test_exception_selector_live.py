"""A port exception applied to a cluster keeps selecting its workload's pods after a new
version rolls out (the template's ``version`` label changes, the Deployment's selector does
not): read back through the ``kubernetes`` client from the test API server."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.apply.clusters import run_planner
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.cluster_sim import istio_control_plane
from tests.plan.test_exception_selectors import VERSIONED


def test_a_canary_rollout_keeps_its_port_exception(kube_api: KubeAPIServer,
                                                   tmp_path: Path) -> None:
    kube_api.load([*(d for d in yaml.safe_load_all(VERSIONED) if d), *istio_control_plane()])
    journal = tmp_path / "journal.json"
    for step in ("20-mesh-permissive", "30-enroll-app", "50-exception-app-web"):
        done = run_planner(kube_api, journal, "apply", step, "--write", "--yes",
                           "--dataplane", "sidecar")
        assert done.returncode == 0, (step, done.stderr)
    policy = kube_api.get("peerauthentications.security.istio.io",
                          "meshplan-exception-web", "app")
    assert policy is not None
    selector = policy["spec"]["selector"]["matchLabels"]
    assert selector == {"app": "web"}
    # v2 rolls out: same Deployment, new template labels
    status, _ = kube_api.request(
        "PATCH", "/apis/apps/v1/namespaces/app/deployments/web",
        {"spec": {"template": {"metadata": {"labels": {"version": "v2"}}}}},
        content_type="application/merge-patch+json")
    assert status == 200
    assert not kube_api.cluster.rolling()
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=kube_api.kubeconfig, client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        core = client.CoreV1Api(api_client)
        pods = core.list_namespaced_pod("app").items
        assert pods and {p.metadata.labels["version"] for p in pods} == {"v2"}
        chosen = core.list_namespaced_pod(
            "app", label_selector=",".join(f"{k}={v}" for k, v in selector.items())).items
        assert sorted(p.metadata.name for p in chosen) == sorted(p.metadata.name for p in pods)
    verified = run_planner(kube_api, journal, "verify", "50-exception-app-web",
                           "--dataplane", "sidecar")
    assert verified.returncode == 0, verified.stderr
