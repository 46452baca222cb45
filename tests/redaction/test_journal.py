"""The apply journal keeps no credential of the objects it touches, and a rollback still
restores the cluster exactly (against the Kubernetes-API test server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.apply.engine import ApplySession
from planner.domain.journal import RESTARTED_AT, WriteKind, kept
from planner.service import ClusterInput, analyse, build_plan, open_apply_session
from tests.apply.clusters import tiny_seed
from tests.apply.test_apply_live import canonical
from tests.kubeapi import KubeAPIServer

SECRET = "pg-Pa55-in-env"


def _seed() -> list[dict[str, Any]]:
    docs = tiny_seed()
    for doc in docs:
        if doc.get("kind") == "Deployment":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container.setdefault("env", []).extend([
                {"name": "DB_PASSWORD", "value": SECRET},
                {"name": "DSN", "value": f"postgres://app:{SECRET}@db:5432/app"}])
            doc["spec"]["template"].setdefault("metadata", {}).setdefault(
                "annotations", {})["team/secret-token"] = SECRET
    return docs


def _session(api: KubeAPIServer, journal: Path) -> ApplySession:
    spec = ClusterInput(api.kubeconfig)
    analysis = analyse(spec)
    plan = build_plan(analysis, dataplane="sidecar")  # sidecars: the enroll step restarts
    return open_apply_session(analysis, plan, write=True, journal_path=str(journal), kube=spec)


def test_restart_journal_holds_no_env_and_rollback_is_exact(kube_api: KubeAPIServer,
                                                            tmp_path: Path) -> None:
    kube_api.load(_seed())
    before = canonical(kube_api)
    journal = tmp_path / "journal.json"
    with _session(kube_api, journal) as s:
        preview = s.preview("30-enroll-tiny")
        assert RESTARTED_AT in preview.diff and SECRET not in preview.diff
        for step in ("20-mesh-permissive", "30-enroll-tiny"):
            assert s.apply(step).state == "applied"
        text = journal.read_text(encoding="utf-8")
        assert "restart" in text and "DB_PASSWORD" not in text and SECRET not in text
        deployment = kube_api.get("deployments.apps", "web", "tiny") or {}
        assert SECRET in str(deployment), "the cluster itself is untouched by redaction"
        assert s.status()["30-enroll-tiny"] == "applied", "drift compares the kept parts"
        for step in ("30-enroll-tiny", "20-mesh-permissive"):
            assert s.rollback(step).state == "rolled back"
    assert canonical(kube_api) == before


def test_kept_parts_by_kind() -> None:
    workload = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "w", "namespace": "n", "labels": {"a": "b"}},
                "spec": {"replicas": 2, "template": {
                    "metadata": {"annotations": {RESTARTED_AT: "t", "x/api-key": "k"}},
                    "spec": {"containers": [{"env": [{"name": "P", "value": SECRET}]}]}}}}
    assert kept(WriteKind.RESTART, workload) == {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "namespace": "n"},
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: "t",
                                                          "x/api-key": "REDACTED"}}}}}
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "n", "labels": {"l": "v"}, "uid": "u",
                              "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                              SECRET}},
                 "spec": {"finalizers": ["kubernetes"]}}
    assert kept(WriteKind.LABEL, namespace) == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "n", "labels": {"l": "v"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                     "REDACTED"}},
        "spec": {"finalizers": ["kubernetes"]}}
    policy = {"kind": "PeerAuthentication", "spec": {"mtls": {"mode": "STRICT"}}}
    assert kept(WriteKind.APPLY, policy) is policy, "restored by PUT: kept whole"
    assert kept(WriteKind.RESTART, None) is None
