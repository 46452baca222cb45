"""Rollback that knows the plan (issue 12, item 6): a step is not rolled back from under the
applied steps that need it (``--cascade`` takes them first), ``rollback --dry-run`` prints the
diff built from the journal's before-states, and ``status`` tells a step superseded by a later
one of the plan from one drifted by someone else. Through the ``kubernetes`` client and
``planner`` as a subprocess, against the test API server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.errors import ApplyError
from planner.exit_codes import ExitCode
from tests.apply.clusters import run_planner, seed_tiny, session, writes
from tests.apply.test_apply_live import canonical
from tests.kubeapi import KubeAPIServer

POLICY = "/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications/default"


@pytest.fixture
def cluster(kube_api: KubeAPIServer) -> KubeAPIServer:
    seed_tiny(kube_api)
    kube_api.clear_log()
    return kube_api


def _states(api: KubeAPIServer, journal: Path) -> dict[str, tuple[str, str]]:
    done = run_planner(api, journal, "status", "-o", "json")
    assert done.returncode == 0, done.stderr
    return {s["id"]: (s["state"], s["note"]) for s in json.loads(done.stdout)["steps"]}


def test_rollback_of_enrollment_under_strict_is_refused_then_cascades(
        cluster: KubeAPIServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"
    with session(cluster, journal) as s:
        s.apply("20-mesh-permissive")
        after_permissive = canonical(cluster)
        s.apply("30-enroll-tiny")
        s.apply("40-strict-tiny", no_gate=True)  # no traffic source in this test
    strict = canonical(cluster)
    cluster.clear_log()
    # Was: rolled back without a word, STRICT left on a namespace without a data plane.
    done = run_planner(cluster, journal, "rollback", "30-enroll-tiny", "--write", "--yes")
    assert done.returncode == ExitCode.APPLY_ERROR
    assert "cannot roll back 30-enroll-tiny: 40-strict-tiny (applied) depend(s) on it" in \
        done.stderr and "--cascade" in done.stderr
    assert canonical(cluster) == strict and not writes(cluster)
    assert _states(cluster, journal)["40-strict-tiny"][0] == "applied"
    with session(cluster, journal) as s, pytest.raises(ApplyError, match="40-strict-tiny"):
        s.rollback("20-mesh-permissive")
    done = run_planner(cluster, journal, "rollback", "30-enroll-tiny", "--write", "--yes",
                       "--cascade")
    assert done.returncode == 0, done.stderr
    order = [line for line in done.stderr.splitlines() if "restored" in line]
    assert "PeerAuthentication tiny/default" in order[0]  # STRICT's policy goes first
    assert "rolled back 40-strict-tiny first: it depends on 30-enroll-tiny" in done.stderr
    assert canonical(cluster) == after_permissive
    states = _states(cluster, journal)
    assert states["40-strict-tiny"][0] == states["30-enroll-tiny"][0] == "rolled back"
    assert states["20-mesh-permissive"][0] == "applied"


def test_rollback_dry_run_prints_the_journal_diff_and_changes_nothing(
        cluster: KubeAPIServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"
    with session(cluster, journal) as s:
        s.apply("20-mesh-permissive")
        s.apply("30-enroll-tiny")
        enrolled = cluster.get("namespaces", "tiny") or {}
    label, value = next((k, v) for k, v in enrolled["metadata"]["labels"].items()
                        if k in ("istio-injection", "istio.io/dataplane-mode"))
    before, journal_text = cluster.snapshot(), journal.read_text()
    cluster.clear_log()
    done = run_planner(cluster, journal, "rollback", "30-enroll-tiny", "--dry-run")
    assert done.returncode == 0, done.stderr  # no --write needed
    assert "--- live: Namespace tiny" in done.stdout
    assert "+++ after rollback: Namespace tiny" in done.stdout
    assert f"-    {label}: {value}" in done.stdout
    assert "-    meshplan.io/step: 30-enroll-tiny" in done.stdout
    assert "30-enroll-tiny: would restore Namespace tiny" in done.stderr
    assert cluster.snapshot() == before and journal.read_text() == journal_text
    assert not writes(cluster)
    # A created object's rollback is its deletion, shown as such.
    done = run_planner(cluster, journal, "rollback", "20-mesh-permissive", "--dry-run",
                       "--cascade")
    assert done.returncode == 0, done.stderr
    assert "20-mesh-permissive: would delete PeerAuthentication istio-system/default" in done.stderr
    assert "-    mode: PERMISSIVE" in done.stdout
    assert done.stderr.index("30-enroll-tiny: would restore") < done.stderr.index(
        "20-mesh-permissive: would delete")
    # Without --cascade, the dry run says what the rollback would refuse.
    done = run_planner(cluster, journal, "rollback", "20-mesh-permissive", "--dry-run")
    assert done.returncode == ExitCode.APPLY_ERROR and "30-enroll-tiny (applied)" in done.stderr


def test_status_tells_superseded_from_drifted(cluster: KubeAPIServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"
    with session(cluster, journal) as s:
        for step in ("20-mesh-permissive", "30-enroll-tiny", "40-strict-tiny",
                     "60-mesh-strict"):
            s.apply(step, no_gate="strict" in step)  # no traffic source in this test
    state, note = _states(cluster, journal)["20-mesh-permissive"]
    assert state == "superseded", note  # was: drifted
    assert note == ("superseded by 60-mesh-strict: PeerAuthentication istio-system/default "
                    "rewritten by it")
    assert _states(cluster, journal)["60-mesh-strict"][0] == "applied"
    done = run_planner(cluster, journal, "verify", "20-mesh-permissive")
    assert done.returncode == ExitCode.NOT_READY and "superseded by 60-mesh-strict" in \
        done.stderr
    # Someone else changes the policy: now both are drifted, and say so.
    status, _ = cluster.request("PATCH", POLICY, {"spec": {"mtls": {"mode": "DISABLE"}}},
                                content_type="application/merge-patch+json")
    assert status == 200
    states = _states(cluster, journal)
    assert states["20-mesh-permissive"][0] == states["60-mesh-strict"][0] == "drifted"
    assert "by someone else: PeerAuthentication istio-system/default" in \
        states["60-mesh-strict"][1]
