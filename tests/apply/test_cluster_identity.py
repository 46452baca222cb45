"""The journal is bound to the cluster its steps were applied to (docs/apply.md, "Journal").

Two test API servers with different kube-system UIDs are two clusters; one journal file
serves both, and each sees only its own steps. The observation of issue 12 reproduced first:
a journal used against a second, empty cluster said "already applied" and wrote nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.errors import ApplyError
from planner.exit_codes import ExitCode
from tests.apply.clusters import run_planner, seed_tiny, session, writes
from tests.apply.journal_doc import journal_steps
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ServerFactory

STEPS = ("20-mesh-permissive", "30-enroll-tiny", "40-strict-tiny")


@pytest.fixture
def two_clusters(kube_api_factory: ServerFactory) -> tuple[KubeAPIServer, KubeAPIServer]:
    first = kube_api_factory(cluster_uid="11111111-aaaa-4aaa-8aaa-000000000001")
    second = kube_api_factory(cluster_uid="22222222-bbbb-4bbb-8bbb-000000000002")
    for api in (first, second):
        seed_tiny(api)
        api.clear_log()
    return first, second


def _status(api: KubeAPIServer, journal: Path) -> tuple[dict[str, str], str]:
    done = run_planner(api, journal, "status", "-o", "json")
    assert done.returncode == 0, done.stderr
    return {s["id"]: s["state"] for s in json.loads(done.stdout)["steps"]}, done.stderr


def test_a_second_cluster_does_not_inherit_the_first_ones_steps(
        two_clusters: tuple[KubeAPIServer, KubeAPIServer], tmp_path: Path) -> None:
    first, second = two_clusters
    journal = tmp_path / "journal.json"
    with session(first, journal) as s:
        for step in STEPS:
            s.apply(step, no_gate=step.startswith("40-strict"))
    states, note = _status(second, journal)
    assert {states[step] for step in STEPS} == {"pending"}
    assert "also holds steps of other targets" in note and first.url in note
    before = second.snapshot()
    second.clear_log()
    # Was: "already applied", exit 0, nothing written. Now the STRICT step's prerequisites
    # are unmet on this cluster, and it says so.
    done = run_planner(second, journal, "apply", "40-strict-tiny", "--write", "--yes")
    assert done.returncode == ExitCode.APPLY_ERROR, done.stderr
    assert "already" not in done.stdout + done.stderr
    assert "requires 30-enroll-tiny to be applied first" in done.stderr
    assert "was applied to cluster test" in done.stderr  # the dry run's warning names it
    assert second.snapshot() == before and not writes(second)
    # Rolling back there is one clear line, not "never applied" without a word of why.
    done = run_planner(second, journal, "rollback", "30-enroll-tiny", "--write", "--yes")
    assert done.returncode == ExitCode.APPLY_ERROR
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and first.url in lines[0] and second.url in lines[0], lines
    assert "nothing to roll back here" in lines[0]
    done = run_planner(second, journal, "verify", "20-mesh-permissive")
    assert done.returncode == ExitCode.NOT_READY and first.url in done.stderr


def test_one_journal_holds_both_clusters_apart(
        two_clusters: tuple[KubeAPIServer, KubeAPIServer], tmp_path: Path) -> None:
    first, second = two_clusters
    journal = tmp_path / "journal.json"
    with session(first, journal) as s:
        s.apply("20-mesh-permissive")
        s.apply("30-enroll-tiny")
    with session(second, journal) as s:
        assert s.apply("20-mesh-permissive").state == "applied"  # not "already applied"
        assert second.get("peerauthentications.security.istio.io", "default",
                          "istio-system") is not None
        assert s.status()["30-enroll-tiny"] == "pending"
        with pytest.raises(ApplyError, match="was applied to cluster"):
            s.rollback("30-enroll-tiny")
        assert s.rollback("20-mesh-permissive").state == "rolled back"
    first_states, _ = _status(first, journal)
    assert first_states["20-mesh-permissive"] == "applied"
    assert first_states["30-enroll-tiny"] == "applied"
    doc = json.loads(journal.read_text())
    assert doc["schemaVersion"] == 2
    assert sorted(doc["targets"]) == [f"cluster:{first.cluster_uid}",
                                      f"cluster:{second.cluster_uid}"]
    assert doc["targets"][f"cluster:{first.cluster_uid}"]["target"] == {
        "uid": first.cluster_uid, "server": first.url, "context": "test"}
    assert journal_steps(journal, f"cluster:{second.cluster_uid}")[
        "20-mesh-permissive"]["state"] == "rolled back"


def test_status_json_names_the_cluster(two_clusters: tuple[KubeAPIServer, KubeAPIServer],
                                       tmp_path: Path) -> None:
    first, _ = two_clusters
    done = run_planner(first, tmp_path / "journal.json", "status", "-o", "json")
    assert json.loads(done.stdout)["target"] == {"server": first.url,
                                                 "uid": first.cluster_uid, "context": "test"}


def test_a_cluster_without_identity_is_refused(kube_api_factory: ServerFactory,
                                               tmp_path: Path) -> None:
    api = kube_api_factory(kube_system=False)
    seed_tiny(api)
    done = run_planner(api, tmp_path / "journal.json", "apply", "20-mesh-permissive",
                       "--write", "--yes")
    assert done.returncode == ExitCode.APPLY_ERROR
    assert "kube-system" in done.stderr and not writes(api)


def test_format_1_journal_is_refused_then_migrated(
        two_clusters: tuple[KubeAPIServer, KubeAPIServer], tmp_path: Path) -> None:
    first, _ = two_clusters
    journal = tmp_path / "journal.json"
    with session(first, journal) as s:
        s.apply("20-mesh-permissive")
    current = json.loads(journal.read_text())
    old = {"kind": "MeshplanJournal", "schemaVersion": 1,
           "steps": journal_steps(journal)}
    journal.write_text(json.dumps(old))
    done = run_planner(first, journal, "status")
    assert done.returncode == ExitCode.APPLY_ERROR
    assert "format 1" in done.stderr and "--migrate-journal" in done.stderr
    done = run_planner(first, journal, "status", "--migrate-journal", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert "1 step(s) bound to cluster test" in done.stderr
    assert {s["id"]: s["state"] for s in json.loads(done.stdout)["steps"]}[
        "20-mesh-permissive"] == "applied"
    assert json.loads(journal.read_text()) == current
    assert json.loads((tmp_path / "journal.json.v1").read_text()) == old


def test_a_cluster_that_forbids_reading_kube_system_is_refused(
        two_clusters: tuple[KubeAPIServer, KubeAPIServer], tmp_path: Path) -> None:
    first, _ = two_clusters
    first.forbid("namespaces", verb="get", namespace=None)
    done = run_planner(first, tmp_path / "journal.json", "status")
    assert done.returncode == ExitCode.APPLY_ERROR
    assert "identify the cluster (get namespace kube-system)" in done.stderr
    assert "meshplan-scan role" in done.stderr and not (tmp_path / "journal.json").exists()
