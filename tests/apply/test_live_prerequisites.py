"""Before a STRICT step, what its required steps wrote is read back from the live cluster, not
trusted from the journal (issue 12, item 7): an exception PeerAuthentication deleted by hand,
an enrollment label removed, or a workload whose pods run without the data plane they were
enrolled to stops the step (exit NOT_READY) unless --force, which the journal records. The
shop sample on the test API server, its workloads running (pods made by the server's
controllers and injector); ``planner`` as a subprocess.

Sidecar enrollment throughout (``--dataplane sidecar``), so that every namespace's pods are
checked for the sidecar the test server's injector adds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from planner.apply.engine import ApplySession
from planner.apply.journal_file import load_journal
from planner.domain.outcomes import enrollment_mode
from planner.errors import OutcomeNotReached
from planner.exit_codes import ExitCode
from tests.apply.clusters import run_planner, seed_tiny, session, writes
from tests.apply.journal_doc import journal_steps
from tests.kubeapi import KubeAPIServer
from tests.tui.test_apply_journey import seed

EXCEPTION = "50-exception-payments-payments-webhook"
STRICT = "40-strict-payments"
POLICIES = "peerauthentications.security.istio.io"
SIDECAR = ("--dataplane", "sidecar")


@pytest.fixture
def ready_for_strict(kube_api: KubeAPIServer, tmp_path: Path) -> Path:
    """Shop with everything 40-strict-payments requires applied; returns the journal."""
    seed(kube_api)
    journal = tmp_path / "journal.json"
    with session(kube_api, journal, dataplane="sidecar") as s:
        for step in ("20-mesh-permissive", "30-enroll-orders", "30-enroll-payments",
                     EXCEPTION):
            s.apply(step, force=True)
        assert not s.live_prerequisites(s.plan.step(STRICT), load_journal(journal, s.target))
    kube_api.clear_log()
    return journal


def test_a_deleted_exception_policy_stops_strict(kube_api: KubeAPIServer,
                                                 ready_for_strict: Path) -> None:
    journal = ready_for_strict
    name = "meshplan-exception-payments-webhook"
    assert kube_api.get(POLICIES, name, "payments") is not None
    status, _ = kube_api.request(
        "DELETE", f"/apis/security.istio.io/v1/namespaces/payments/peerauthentications/{name}")
    assert status == 200
    kube_api.clear_log()
    # Was: exit 0, payments STRICT without its exception.
    done = run_planner(kube_api, journal, "apply", STRICT, "--write", "--yes", *SIDECAR)
    assert done.returncode == ExitCode.NOT_READY, done.stderr
    assert (f"PeerAuthentication payments/{name} of {EXCEPTION} was deleted since it was "
            "applied") in done.stderr
    assert "not ready: PeerAuthentication" in done.stderr  # the dry run said so first
    assert kube_api.get(POLICIES, "default", "payments") is None and not writes(kube_api)
    assert STRICT not in journal_steps(journal)
    done = run_planner(kube_api, journal, "apply", STRICT, "--write", "--yes", "--force",
                       "--no-gate", *SIDECAR)  # no traffic source in this test
    assert done.returncode == 0, done.stderr
    forced = journal_steps(journal)[STRICT]["forced"]
    assert any(f.startswith("live prerequisite: PeerAuthentication payments/") for f in forced)


def test_a_removed_enrollment_label_stops_strict(kube_api: KubeAPIServer,
                                                 ready_for_strict: Path) -> None:
    labels = (kube_api.get("namespaces", "payments") or {})["metadata"]["labels"]
    key = next(k for k in ("istio-injection", "istio.io/rev") if k in labels)
    status, _ = kube_api.request("PATCH", "/api/v1/namespaces/payments",
                                 {"metadata": {"labels": {key: None, "team": "pay"}}},
                                 content_type="application/merge-patch+json")
    assert status == 200
    lost = f"Namespace payments of 30-enroll-payments lost its labels: {key}=None"
    kube_api.clear_log()
    # Was: exit 0, payments STRICT although nothing injects its next pods any more.
    done = run_planner(kube_api, ready_for_strict, "apply", STRICT, "--write", "--yes",
                       "--no-gate", *SIDECAR)
    assert done.returncode == ExitCode.NOT_READY, done.stderr
    assert lost in done.stderr and not writes(kube_api)
    with session(kube_api, ready_for_strict, dataplane="sidecar") as s, \
            pytest.raises(OutcomeNotReached, match=lost):
        s.apply(STRICT)
    # Putting the label back is enough: another label ("team") changing is no lost prerequisite.
    status, _ = kube_api.request("PATCH", "/api/v1/namespaces/payments",
                                 {"metadata": {"labels": {key: labels[key]}}},
                                 content_type="application/merge-patch+json")
    assert status == 200
    with session(kube_api, ready_for_strict, dataplane="sidecar") as s:
        assert s.apply(STRICT, no_gate=True).state == "applied"  # no traffic source here


def _restart(api: KubeAPIServer, namespace: str, name: str, stamp: str) -> None:
    """``kubectl rollout restart deployment/NAME -n NAMESPACE``, then its rollout."""
    status, _ = api.request(
        "PATCH", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": stamp}}}}},
        content_type="application/merge-patch+json")
    assert status == 200
    for _ in range(200):
        if f"{namespace}/{name}" not in api.cluster.rolling():
            return
        time.sleep(0.05)
    raise AssertionError(f"{namespace}/{name} did not roll out")


def test_pods_without_their_sidecar_stop_strict_naming_them(kube_api: KubeAPIServer,
                                                            ready_for_strict: Path) -> None:
    journal = ready_for_strict
    injector = "istio-sidecar-injector-1-24"
    webhook = kube_api.get("mutatingwebhookconfigurations.admissionregistration.k8s.io",
                           injector)
    assert webhook is not None
    # Someone restarts a workload while injection is broken: its pods come back bare.
    status, _ = kube_api.request("DELETE", "/apis/admissionregistration.k8s.io/v1/"
                                 f"mutatingwebhookconfigurations/{injector}")
    assert status == 200
    _restart(kube_api, "payments", "fraud", "2026-01-01T00:00:00Z")
    kube_api.load([webhook])
    kube_api.clear_log()
    # Was: exit 0, and STRICT cut the bare pods off from every meshed caller.
    done = run_planner(kube_api, journal, "apply", STRICT, "--write", "--yes", "--no-gate",
                       *SIDECAR)
    assert done.returncode == ExitCode.NOT_READY, done.stderr
    error = done.stderr.splitlines()[-1]
    assert "pods of payments not all on the sidecar data plane: workloads: 3/4 workloads of " \
        "payments rolled out with istio-proxy in every current pod; not yet: Deployment " \
        "payments/fraud: 0/1 pods with istio-proxy" in error
    assert "restart the workloads named" in error
    assert "not ready: pods of payments" in done.stderr  # the dry run said so first
    assert kube_api.get(POLICIES, "default", "payments") is None and not writes(kube_api)
    # Restarted with the injector back, the pods have their sidecar and STRICT goes ahead.
    _restart(kube_api, "payments", "fraud", "2026-01-01T00:05:00Z")
    done = run_planner(kube_api, journal, "apply", STRICT, "--write", "--yes", "--no-gate",
                       *SIDECAR)
    assert done.returncode == 0, done.stderr
    assert journal_steps(journal)[STRICT]["state"] == "applied"


def test_an_ambient_namespace_needs_ztunnel_and_every_pod_redirected(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    seed_tiny(kube_api)  # tiny goes ambient, as assess recommends
    journal = tmp_path / "journal.json"
    with session(kube_api, journal) as s:
        for step in ("20-mesh-permissive", "30-enroll-tiny"):
            s.apply(step)
        assert oc_mode(s, "tiny") == "ambient"
        assert not s.live_prerequisites(s.plan.step("40-strict-tiny"),
                                        load_journal(journal, s.target))
    ztunnel = kube_api.get("daemonsets.apps", "ztunnel", "istio-system")
    assert ztunnel is not None
    kube_api.load([{**ztunnel, "status": {**ztunnel["status"], "numberReady": 0,
                                          "numberAvailable": 0}}])
    with session(kube_api, journal) as s:
        missing = s.live_prerequisites(s.plan.step("40-strict-tiny"),
                                       load_journal(journal, s.target))
        assert len(missing) == 1 and missing[0].startswith(
            "pods of tiny not all on the ambient data plane: ztunnel: DaemonSet "
            "istio-system/ztunnel: 0 of 1 updated pods available; workloads: 0/4 workloads of "
            "tiny rolled out with every current pod redirected to ztunnel; not yet: "
            "Deployment tiny/api: 0/2 pods with ambient redirection")
        with pytest.raises(OutcomeNotReached, match="pods of tiny not all on the ambient"):
            s.apply("40-strict-tiny", no_gate=True)


def oc_mode(s: ApplySession, namespace: str) -> str:
    """The data plane ``s``'s plan enrolls ``namespace`` to."""
    return enrollment_mode(s.plan, namespace)


def test_a_namespace_behind_an_ingress_passes_its_gate(kube_api: KubeAPIServer,
                                                       tmp_path: Path) -> None:
    """orders' only plaintext comes from the ingress controller (no sidecar) into
    orders:8080, which 50-exception-orders-orders keeps PERMISSIVE: STRICT lets it through,
    so the gate leaves it out (was: counted, so the namespace could never pass without
    --force)."""
    from dataclasses import replace

    from tests.traffic.shop_truth import SHOP_TRUTH, write_csv

    seed(kube_api)
    journal = tmp_path / "journal.json"
    with session(kube_api, journal, dataplane="sidecar") as s:
        for required in s.plan.step("40-strict-orders").requires:
            s.apply(required, force=True)
    # The shop's ground truth without orders/cart's plaintext into data/redis (not orders').
    clean = tuple(replace(e, mtls=e.total) if (e.source_workload, e.destination_service)
                  == ("cart", "redis") else e for e in SHOP_TRUTH)
    edges = write_csv(tmp_path / "edges.csv", clean)
    done = run_planner(kube_api, journal, "apply", "40-strict-orders", "--write", "--yes",
                       "--traffic", str(edges), "--trust-declared", *SIDECAR)
    assert done.returncode == 0, done.stderr
    entry = journal_steps(journal)["40-strict-orders"]
    assert entry["state"] == "applied" and not entry["forced"], entry
    assert kube_api.get(POLICIES, "default", "orders") is not None
