"""Apply, roll back, verify and status against the Kubernetes-API test server, over HTTP with
the real ``kubernetes`` client; nothing inside the planner is mocked.

"Byte-for-byte as before" compares :func:`canonical` snapshots: the server's canonical JSON of
every stored object with exactly these server-managed metadata fields removed, because any
write changes them even when it restores the content: ``resourceVersion``, ``managedFields``,
``uid``, ``creationTimestamp``, ``generation``. The server runs controllers
(:mod:`tests.kubeapi.cluster_sim`): a restart rolls out new ReplicaSets and Pods and updates
the workloads' ``status``, as on a real cluster, so those are left out too. Everything else
(spec, labels, annotations, the set of the other objects) must be identical.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.apply.engine import CRASH_ENV, ApplySession
from planner.cli import cli
from planner.domain.journal import PLAN_HASH_ANNOTATION, RESTARTED_AT, STEP_ANNOTATION
from planner.errors import ApplyError, ReadOnlyError
from planner.exit_codes import ExitCode
from planner.service import (
    ClusterInput,
    TrafficSource,
    analyse,
    build_plan,
    open_apply_session,
)
from tests.apply.clusters import seed_tiny
from tests.apply.journal_doc import journal_steps
from tests.kubeapi import KubeAPIServer

VOLATILE = ("resourceVersion", "managedFields", "uid", "creationTimestamp", "generation")
#: What controllers own: they replace these on every rollout.
CONTROLLED = ("Pod", "ReplicaSet")


def canonical(api: KubeAPIServer) -> str:
    """The store as canonical JSON without the server-managed metadata listed above, the
    workloads' status and the objects controllers create."""
    objects = [o for o in json.loads(api.snapshot()) if o["kind"] not in CONTROLLED]
    for obj in objects:
        for key in VOLATILE:
            obj["metadata"].pop(key, None)
        obj.pop("status", None)
    return json.dumps(objects, sort_keys=True, separators=(",", ":"))


@pytest.fixture
def cluster(kube_api: KubeAPIServer) -> KubeAPIServer:
    seed_tiny(kube_api)
    kube_api.clear_log()
    return kube_api


def _session(api: KubeAPIServer, tmp_path: Path, *, write: bool = True,
             prometheus: str | None = None) -> ApplySession:
    spec = ClusterInput(api.kubeconfig)
    analysis = analyse(spec)
    plan = build_plan(analysis, dataplane="sidecar")  # these cases check sidecar labels
    return open_apply_session(analysis, plan, write=write,
                              journal_path=str(tmp_path / "journal.json"), kube=spec,
                              traffic=TrafficSource(prometheus=prometheus) if prometheus else None)


def _run(api: KubeAPIServer, tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--kubeconfig", api.kubeconfig,
                                    "--journal", str(tmp_path / "journal.json")])


def test_apply_then_rollback_restores_the_server_exactly(cluster: KubeAPIServer,
                                                          tmp_path: Path) -> None:
    before = canonical(cluster)
    with _session(cluster, tmp_path) as session:
        for step in ("10-prereq", "20-mesh-permissive", "30-enroll-tiny"):
            assert session.apply(step).state == "applied"
        assert canonical(cluster) != before
        ns = cluster.get("namespaces", "tiny")
        assert ns is not None and ns["metadata"]["labels"]["istio-injection"] == "enabled"
        deployment = cluster.get("deployments.apps", "web", "tiny") or {}
        assert RESTARTED_AT in deployment["spec"]["template"]["metadata"]["annotations"]
        for step in ("30-enroll-tiny", "20-mesh-permissive", "10-prereq"):
            assert session.rollback(step).state == "rolled back"
        assert session.status()["30-enroll-tiny"] == "rolled back"
    assert canonical(cluster) == before


def test_writes_use_server_side_apply_and_merge_patches(cluster: KubeAPIServer,
                                                        tmp_path: Path) -> None:
    with _session(cluster, tmp_path) as session:
        session.apply("20-mesh-permissive")
        session.apply("30-enroll-tiny")
    applies = cluster.calls(verb="apply")
    assert applies and all(c.query.get("fieldManager") == "meshplan" for c in applies)
    assert all(c.content_type == "application/apply-patch+yaml" for c in applies)
    # every write was dry-run first
    assert [c.query.get("dryRun") for c in applies] == ["All", None]
    patches = [c for c in cluster.calls(verb="patch") if "dryRun" not in c.query]
    assert {c.resource for c in patches} == {"namespaces", "deployments.apps"}
    assert all(c.content_type == "application/merge-patch+json" for c in patches)


def test_applied_objects_carry_step_and_plan_hash(cluster: KubeAPIServer,
                                                  tmp_path: Path) -> None:
    with _session(cluster, tmp_path) as session:
        session.apply("20-mesh-permissive")
        expected = session.plan_hash
    policy = cluster.get("peerauthentications.security.istio.io", "default", "istio-system")
    assert policy is not None
    annotations = policy["metadata"]["annotations"]
    assert annotations[STEP_ANNOTATION] == "20-mesh-permissive"
    assert annotations[PLAN_HASH_ANNOTATION] == expected and len(expected) == 12
    int(expected, 16)


def test_dry_run_stores_nothing_and_needs_no_write(cluster: KubeAPIServer,
                                                   tmp_path: Path) -> None:
    before = cluster.snapshot()
    result = _run(cluster, tmp_path, "apply", "30-enroll-tiny", "--dry-run",
                  "--dataplane", "sidecar")
    assert result.exit_code == 0, result.output
    assert "+    istio-injection: enabled" in result.stdout
    assert cluster.snapshot() == before
    assert not (tmp_path / "journal.json").exists()
    writes = [c for c in cluster.requests if c.method in ("PATCH", "PUT", "POST", "DELETE")]
    assert writes and all(c.query.get("dryRun") == "All" for c in writes)


def test_read_only_refusal(cluster: KubeAPIServer, tmp_path: Path) -> None:
    before = cluster.snapshot()
    result = _run(cluster, tmp_path, "apply", "20-mesh-permissive", "--yes")
    assert result.exit_code == ExitCode.READ_ONLY
    assert "read-only: add --write to change the cluster" in result.stderr
    assert _run(cluster, tmp_path, "rollback", "20-mesh-permissive").exit_code == \
        ExitCode.READ_ONLY
    with _session(cluster, tmp_path, write=False) as session, pytest.raises(ReadOnlyError):
        session.apply("20-mesh-permissive")
    assert cluster.snapshot() == before


def test_no_tty_without_yes_is_refused(cluster: KubeAPIServer, tmp_path: Path) -> None:
    result = _run(cluster, tmp_path, "apply", "20-mesh-permissive", "--write")
    assert result.exit_code == ExitCode.APPLY_ERROR
    assert "pass --yes" in result.stderr
    assert not cluster.calls(verb="apply", method="PATCH") or all(
        c.query.get("dryRun") == "All" for c in cluster.calls(verb="apply"))


def test_cli_apply_status_verify_rollback(cluster: KubeAPIServer, tmp_path: Path) -> None:
    before = canonical(cluster)
    assert _run(cluster, tmp_path, "apply", "10-prereq", "--write", "--yes").exit_code == 0
    result = _run(cluster, tmp_path, "apply", "20-mesh-permissive", "--write", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("20-mesh-permissive: applied\n")
    result = _run(cluster, tmp_path, "verify", "20-mesh-permissive")
    assert result.exit_code == 0, result.output
    result = _run(cluster, tmp_path, "verify", "30-enroll-tiny")
    assert result.exit_code == ExitCode.NOT_READY  # not applied: no outcome to speak of
    status = json.loads(_run(cluster, tmp_path, "status", "-o", "json").stdout)
    states = {s["id"]: s["state"] for s in status["steps"]}
    assert states["20-mesh-permissive"] == "verified"
    assert states["30-enroll-tiny"] == "pending"
    for step in ("20-mesh-permissive", "10-prereq"):
        assert _run(cluster, tmp_path, "rollback", step, "--write", "--yes").exit_code == 0
    assert canonical(cluster) == before


def test_strict_step_requires_its_prerequisites_unless_forced(cluster: KubeAPIServer,
                                                             tmp_path: Path) -> None:
    with _session(cluster, tmp_path) as session:
        with pytest.raises(ApplyError, match="requires 30-enroll-tiny"):
            session.apply("40-strict-tiny")
        outcome = session.apply("40-strict-tiny", force=True, no_gate=True)
        assert outcome.state == "applied"
        assert any(m.startswith("forced: ") for m in outcome.messages)
    assert journal_steps(tmp_path / "journal.json")["40-strict-tiny"]["forced"]


def test_conflicting_field_manager_is_reported_not_overwritten(cluster: KubeAPIServer,
                                                               tmp_path: Path) -> None:
    cluster.load([{
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "tiny", "managedFields": [{
            "manager": "argocd-controller", "operation": "Apply",
            "apiVersion": "security.istio.io/v1", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:mtls": {}}}}]},
        "spec": {"mtls": {"mode": "PERMISSIVE"}}}])
    before = cluster.snapshot()
    with _session(cluster, tmp_path) as session:
        with pytest.raises(ApplyError, match="argocd-controller") as err:
            session.apply("40-strict-tiny", force=True, no_gate=True)
        assert "--force-conflicts" in str(err.value)
        assert cluster.snapshot() == before
        assert session.status()["40-strict-tiny"] == "pending"
        session.apply("40-strict-tiny", force=True, force_conflicts=True, no_gate=True)
    policy = cluster.get("peerauthentications.security.istio.io", "default", "tiny") or {}
    assert policy["spec"]["mtls"]["mode"] == "STRICT"


def test_drift_is_detected(cluster: KubeAPIServer, tmp_path: Path) -> None:
    with _session(cluster, tmp_path) as session:
        session.apply("20-mesh-permissive")
        assert session.status()["20-mesh-permissive"] == "applied"
        status, _ = cluster.request(
            "PATCH", "/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications/"
            "default", {"spec": {"mtls": {"mode": "DISABLE"}}},
            content_type="application/merge-patch+json")
        assert status == 200
        assert session.status()["20-mesh-permissive"] == "drifted"
        assert session.verify("20-mesh-permissive").state == "drifted"


def test_status_reads_step_annotations_when_the_journal_is_lost(cluster: KubeAPIServer,
                                                                tmp_path: Path) -> None:
    with _session(cluster, tmp_path) as session:
        session.apply("20-mesh-permissive")
    (tmp_path / "journal.json").unlink()
    with _session(cluster, tmp_path) as session:
        assert session.status()["20-mesh-permissive"] == "applied"
        assert session.status()["30-enroll-tiny"] == "pending"


def _crashing_apply(api: KubeAPIServer, tmp_path: Path, step: str) -> int:
    env = {**os.environ, CRASH_ENV: "1"}
    process = subprocess.run(
        [sys.executable, "-m", "planner", "apply", step, "--write", "--yes",
         "--dataplane", "sidecar", "--kubeconfig", api.kubeconfig,
         "--journal", str(tmp_path / "journal.json")],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    return process.returncode


@pytest.mark.parametrize("recovery", ["resume", "rollback"])
def test_process_killed_between_writes_is_recoverable(cluster: KubeAPIServer, tmp_path: Path,
                                                      recovery: str) -> None:
    before = canonical(cluster)
    with _session(cluster, tmp_path) as session:
        session.apply("20-mesh-permissive")
    after_permissive = canonical(cluster)
    assert _crashing_apply(cluster, tmp_path, "30-enroll-tiny") == -signal.SIGKILL
    entry = journal_steps(tmp_path / "journal.json")["30-enroll-tiny"]
    assert entry["state"] == "applying"
    assert [r["phase"] for r in entry["records"]] == ["intent"]  # written, not yet journaled
    ns = cluster.get("namespaces", "tiny") or {}
    assert ns["metadata"]["labels"]["istio-injection"] == "enabled"
    with _session(cluster, tmp_path) as session:
        assert session.status()["30-enroll-tiny"] == "failed"
        with pytest.raises(ApplyError, match="--resume"):
            session.apply("30-enroll-tiny")
        if recovery == "resume":
            assert session.apply("30-enroll-tiny", resume=True).state == "applied"
            restarts = [c for c in cluster.calls(resource="deployments.apps", verb="patch")
                        if "dryRun" not in c.query]
            assert len(restarts) == 4  # one per Deployment: the resume did not double any
            assert session.status()["30-enroll-tiny"] == "applied"
            session.rollback("30-enroll-tiny")
        else:
            assert session.rollback("30-enroll-tiny").state == "rolled back"
        assert canonical(cluster) == after_permissive
        session.rollback("20-mesh-permissive")
    assert canonical(cluster) == before


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_prometheus_gate_refuses_strict_unless_forced(cluster: KubeAPIServer,
                                                      tmp_path: Path) -> None:
    prometheus = f"http://127.0.0.1:{_closed_port()}"
    result = _run(cluster, tmp_path, "apply", "40-strict-tiny", "--write", "--yes",
                  "--prometheus", prometheus)
    assert result.exit_code == ExitCode.APPLY_ERROR  # unmet requires are checked first
    with _session(cluster, tmp_path, prometheus=prometheus) as session:
        for step in ("20-mesh-permissive", "30-enroll-tiny"):
            session.apply(step)
    before = cluster.snapshot()
    result = _run(cluster, tmp_path, "apply", "40-strict-tiny", "--write", "--yes",
                  "--prometheus", prometheus)
    assert result.exit_code == ExitCode.GATE_FAILED, result.output
    assert "Prometheus gate unknown" in result.stderr
    assert cluster.snapshot() == before
    with _session(cluster, tmp_path, prometheus=prometheus) as session:
        outcome = session.apply("40-strict-tiny", force=True)
        assert outcome.state == "applied"
        assert session.verify("40-strict-tiny").state == "applied"  # gate still unknown
    forced = journal_steps(tmp_path / "journal.json")["40-strict-tiny"]["forced"]
    assert "Prometheus gate unknown" in forced[0]
