"""Outcome checks against the test API server, with ``planner`` run as a subprocess: the
prerequisites read Istio live (istiod, the Istio APIs, the injector webhook, the root
namespace), objects meshplan wrote never make Istio "installed", and an enrollment is verified
only when every workload's current pods run a sidecar.

The server runs its controllers (:mod:`tests.kubeapi.cluster_sim`): restarts roll out new pods,
with istio-proxy when an injector webhook selects the namespace and its istiod is up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from planner.exit_codes import ExitCode
from tests.apply.clusters import run_planner
from tests.apply.journal_doc import journal_steps
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.cluster_sim import istio_control_plane
from tests.kubeapi.fixtures import ServerFactory

ROOT = Path(__file__).resolve().parents[2]


def _tiny() -> list[dict[str, Any]]:
    text = (ROOT / "sample_clusters/tiny/app.yaml").read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


def planner(api: KubeAPIServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``planner ARGS --dataplane sidecar`` in a subprocess against ``api``, journal in
    ``tmp_path`` (tiny's recommended data plane is ambient; these cases are about sidecars)."""
    return run_planner(api, tmp_path / "journal.json", *args, "--dataplane", "sidecar")


def _steps(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "journal.json"
    return journal_steps(path) if path.exists() else {}


def test_prerequisites_on_a_cluster_without_istio_are_refused_and_verify_says_why(
        kube_api_factory: ServerFactory, tmp_path: Path) -> None:
    api = kube_api_factory(istio=False)  # no Istio groups served, no istiod, no istio-system
    api.load(_tiny())
    applied = planner(api, tmp_path, "apply", "10-prereq", "--write", "--yes")
    assert applied.returncode == ExitCode.NOT_READY, applied.stderr
    error = applied.stderr.splitlines()[-1]
    assert error.startswith("planner: error: 10-prereq: Istio is not ready on cluster test")
    for missing in ("root namespace: istio-system not found",
                    "Istio APIs: not served: networking.istio.io, security.istio.io",
                    "istiod: no istiod Deployment (label app=istiod) found",
                    "sidecar injector: no sidecar injector webhook selects namespaces "
                    "labelled istio-injection=enabled"):
        assert missing in error
    assert "10-prereq" not in _steps(tmp_path)
    verified = planner(api, tmp_path, "verify", "10-prereq")
    assert verified.returncode == ExitCode.NOT_READY
    forced = planner(api, tmp_path, "apply", "10-prereq", "--write", "--yes", "--force")
    assert forced.returncode == 0, forced.stderr
    entry = _steps(tmp_path)["10-prereq"]
    assert entry["forced"][0].startswith("Istio is not ready on cluster test")
    verified = planner(api, tmp_path, "verify", "10-prereq")
    assert verified.returncode == ExitCode.NOT_READY, verified.stderr
    assert "planner: NOT REACHED: istiod: no istiod Deployment" in verified.stderr
    assert verified.stderr.splitlines()[-1] == (
        "planner: error: verification of 10-prereq failed: outcome not reached (state applied)")
    assert _steps(tmp_path)["10-prereq"]["state"] == "applied"


def test_prerequisites_are_read_live_each_time(kube_api: KubeAPIServer,
                                               tmp_path: Path) -> None:
    kube_api.load([*_tiny(), *istio_control_plane()])
    applied = planner(kube_api, tmp_path, "apply", "10-prereq", "--write", "--yes")
    assert applied.returncode == 0, applied.stderr
    verified = planner(kube_api, tmp_path, "verify", "10-prereq")
    assert verified.returncode == 0, verified.stderr
    assert "planner: ok: istiod: Deployment istio-system/istiod (1/1 available)" in \
        verified.stderr
    assert verified.stdout == "10-prereq: verified\n"
    # istiod goes down: the journal still says verified, the cluster does not
    down = istio_control_plane(istiod_available=False)
    kube_api.load([o for o in down if o["kind"] == "Deployment"])
    verified = planner(kube_api, tmp_path, "verify", "10-prereq")
    assert verified.returncode == ExitCode.NOT_READY
    assert "NOT REACHED: istiod: no available istiod for revision(s) default" in \
        verified.stderr
    # the CRDs are removed: discovery no longer serves the groups
    kube_api.load([o for o in istio_control_plane() if o["kind"] == "Deployment"])
    kube_api.cluster.serve_istio(False)
    verified = planner(kube_api, tmp_path, "verify", "10-prereq")
    assert verified.returncode == ExitCode.NOT_READY
    assert "NOT REACHED: Istio APIs: not served" in verified.stderr


def test_a_revisioned_istiod_is_what_a_revision_labelled_plan_needs(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    kube_api.load([*_tiny(), *istio_control_plane(revision="1-24")])
    applied = planner(kube_api, tmp_path, "apply", "10-prereq", "--write", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "ok: sidecar injector: istio-sidecar-injector-1-24 for istio.io/rev=1-24" in \
        applied.stderr


def test_policies_meshplan_wrote_never_make_istio_installed(kube_api: KubeAPIServer,
                                                          tmp_path: Path) -> None:
    """The CRDs are served (so step 20 can write its PeerAuthentication) but no istiod runs:
    the plan must not read that object as a sign of Istio."""
    kube_api.load([*_tiny(), {"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": "istio-system"}}])
    applied = planner(kube_api, tmp_path, "apply", "20-mesh-permissive", "--write", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert kube_api.get("peerauthentications.security.istio.io", "default", "istio-system")
    plan = subprocess.run([sys.executable, "-m", "planner", "plan", "-o", "json",
                           "--kubeconfig", kube_api.kubeconfig],
                          capture_output=True, text=True, timeout=180, check=False)
    assert plan.returncode == 0, plan.stderr
    document = json.loads(plan.stdout)
    assert document["istio"]["present"] is False and document["istio"]["istiod"] == []
    prereq = next(s for s in document["steps"] if s["id"] == "10-prereq")
    assert any("Istio is not installed" in p for p in prereq["preconditions"])
    verified = planner(kube_api, tmp_path, "verify", "10-prereq")
    assert verified.returncode == ExitCode.NOT_READY


def _restart_all(api: KubeAPIServer, stamp: str) -> None:
    """Someone runs ``kubectl rollout restart deploy -n tiny``."""
    for name in ("api", "postgres", "redis", "web"):
        status, _ = api.request(
            "PATCH", f"/apis/apps/v1/namespaces/tiny/deployments/{name}",
            {"spec": {"template": {"metadata": {"annotations": {"restarted-by": stamp}}}}},
            content_type="application/merge-patch+json")
        assert status == 200


def test_verify_counts_every_workload_and_names_the_stragglers(kube_api: KubeAPIServer,
                                                              tmp_path: Path) -> None:
    """An applied, verified enrollment; then the injector webhook is deleted and every
    workload restarted by hand: the pods come back without istio-proxy, and verify says so
    per workload instead of "objects live as applied"."""
    kube_api.load([*_tiny(), *istio_control_plane()])
    for step in ("20-mesh-permissive", "30-enroll-tiny"):
        done = planner(kube_api, tmp_path, "apply", step, "--write", "--yes")
        assert done.returncode == 0, done.stderr
    assert planner(kube_api, tmp_path, "verify", "30-enroll-tiny").returncode == 0
    status, _ = kube_api.request("DELETE", "/apis/admissionregistration.k8s.io/v1/"
                                 "mutatingwebhookconfigurations/istio-sidecar-injector")
    assert status == 200
    _restart_all(kube_api, "1")
    assert not kube_api.cluster.rolling()
    verified = planner(kube_api, tmp_path, "verify", "30-enroll-tiny")
    assert verified.returncode == ExitCode.NOT_READY, verified.stderr
    lines = verified.stderr.splitlines()
    assert "planner: NOT REACHED: sidecar injector: no sidecar injector webhook selects " \
           "namespace tiny (its labels or the MutatingWebhookConfiguration)" in lines
    workloads = next(line for line in lines if "workloads:" in line)
    assert workloads.startswith("planner: NOT REACHED: workloads: 0/4 workloads of tiny rolled "
                                "out with istio-proxy in every current pod; not yet: ")
    for name, pods in (("api", 2), ("postgres", 1), ("redis", 1), ("web", 2)):
        assert f"Deployment tiny/{name}: 0/{pods} pods with istio-proxy" in workloads
    assert "object(s) live as applied" not in verified.stderr
    assert journal_steps(tmp_path / "journal.json")["30-enroll-tiny"]["state"] == "applied"


def test_enrollment_is_verified_once_every_pod_runs_the_sidecar(kube_api: KubeAPIServer,
                                                               tmp_path: Path) -> None:
    kube_api.load([*_tiny(), *istio_control_plane()])
    for step in ("10-prereq", "20-mesh-permissive", "30-enroll-tiny"):
        done = planner(kube_api, tmp_path, "apply", step, "--write", "--yes")
        assert done.returncode == 0, done.stderr
    verified = planner(kube_api, tmp_path, "verify", "30-enroll-tiny")
    assert verified.returncode == 0, verified.stderr
    assert "planner: ok: workloads: 4/4 workloads of tiny rolled out with istio-proxy in " \
           "every current pod" in verified.stderr
    # someone deletes the injection label and restarts one workload: it is named
    kube_api.request("PATCH", "/api/v1/namespaces/tiny",
                     {"metadata": {"labels": {"istio-injection": None}}},
                     content_type="application/merge-patch+json")
    kube_api.request("PATCH", "/apis/apps/v1/namespaces/tiny/deployments/redis",
                     {"spec": {"template": {"metadata": {"annotations": {"x": "1"}}}}},
                     content_type="application/merge-patch+json")
    verified = planner(kube_api, tmp_path, "verify", "30-enroll-tiny")
    assert verified.returncode == ExitCode.NOT_READY
    assert "not yet: Deployment tiny/redis: 0/1 pods with istio-proxy" in verified.stderr
