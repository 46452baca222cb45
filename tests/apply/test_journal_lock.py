"""The journal's lock: an apply or rollback holds it from reading the journal to its last save,
so concurrent runs (CLI or TUI) never lose each other's entries nor record each other's
writes as before-states. Reproduces issue 12's observations with real processes through a
slow API server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from planner.apply.journal_file import journal_lock
from planner.errors import ApplyError
from planner.exit_codes import ExitCode
from tests.apply.clusters import planner_command, run_planner, seed_tiny, session, writes
from tests.apply.journal_doc import journal_steps
from tests.apply.test_apply_live import canonical
from tests.kubeapi import KubeAPIServer


@pytest.fixture
def cluster(kube_api: KubeAPIServer) -> KubeAPIServer:
    seed_tiny(kube_api)
    kube_api.clear_log()
    return kube_api


def _start(api: KubeAPIServer, journal: Path, step: str) -> subprocess.Popen[str]:
    return subprocess.Popen(planner_command(api, journal, "apply", step, "--write", "--yes",
                                            "--lock-wait", "120"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_applies_of_two_steps_keep_both_entries(cluster: KubeAPIServer,
                                                          tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"
    cluster.slow(0.4, verb="apply")
    cluster.slow(0.4, verb="patch")
    runs = [_start(cluster, journal, "20-mesh-permissive"),
            _start(cluster, journal, "30-enroll-tiny")]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    steps = journal_steps(journal)
    assert steps["20-mesh-permissive"]["state"] == "applied"
    assert steps["30-enroll-tiny"]["state"] == "applied"
    with session(cluster, journal) as s:
        assert s.rollback("30-enroll-tiny").state == "rolled back"
        assert s.rollback("20-mesh-permissive").state == "rolled back"
    assert cluster.get("peerauthentications.security.istio.io", "default",
                       "istio-system") is None


def test_the_same_step_twice_writes_once_and_rolls_back_to_the_original(
        cluster: KubeAPIServer, tmp_path: Path) -> None:
    original = canonical(cluster)
    journal = tmp_path / "journal.json"
    cluster.slow(0.3, verb="patch")
    first = _start(cluster, journal, "30-enroll-tiny")
    time.sleep(0.7)
    second = _start(cluster, journal, "30-enroll-tiny")
    outputs = [run.communicate(timeout=180) for run in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert sum("nothing to do" in err for _, err in outputs) == 1, outputs
    entry = journal_steps(journal)["30-enroll-tiny"]
    assert len(writes(cluster)) == len(entry["records"])  # each write once, not twice
    label = next(r for r in entry["records"] if r["kind"] == "label")
    assert not label["before"]["metadata"].get("labels")  # the namespace as it was
    cluster.clear_faults()
    done = run_planner(cluster, journal, "rollback", "30-enroll-tiny", "--write", "--yes")
    assert done.returncode == 0, done.stderr
    assert canonical(cluster) == original


def test_a_held_journal_is_refused_naming_the_holder(cluster: KubeAPIServer,
                                                     tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"
    before = cluster.snapshot()
    with journal_lock(journal, "planner apply 40-strict-x on cluster prod"):
        started = time.monotonic()
        done = run_planner(cluster, journal, "apply", "20-mesh-permissive", "--write",
                           "--yes", "--lock-wait", "0.5")
        assert done.returncode == ExitCode.APPLY_ERROR
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 2, lines  # the dry run's change line, then the refusal
        assert f"pid {os.getpid()} on {socket.gethostname()}" in lines[1]
        assert "(planner apply 40-strict-x on cluster prod, since 20" in lines[1]
        assert time.monotonic() - started < 60
        with session(cluster, journal, lock_wait_s=0.2) as s, \
                pytest.raises(ApplyError, match="is in use by pid"):
            s.rollback("20-mesh-permissive")
    assert cluster.snapshot() == before and not journal.exists()
    # Released: the same run now goes through, and so would one after a killed holder
    # (the kernel drops a dead process's lock; tests/apply/test_apply_live.py kills one).
    done = run_planner(cluster, journal, "apply", "20-mesh-permissive", "--write", "--yes")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "journal.json.lock").read_text() or "{}") == {}
