"""Staged restarts that wait: an enrollment restarts its workloads in batches, waits for each
batch to roll out with istio-proxy in its new pods (``kubectl rollout status``, then the pods),
stops at the first batch that does not, with the journal saying where, and ``--resume`` goes on
from there. ``planner`` runs as a subprocess against the test API server, whose controllers
(:mod:`tests.kubeapi.cluster_sim`) roll Deployments out one replica at a time."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from planner.commands.apply import rollout_bars
from planner.domain.journal import RESTARTED_AT
from planner.exit_codes import ExitCode
from tests.apply.clusters import run_planner, writes
from tests.apply.journal_doc import journal_steps
from tests.apply.test_outcomes_live import _tiny
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.cluster_sim import istio_control_plane

ORDER = ("api", "postgres", "redis", "web")  # the plan restarts them by name


def planner(api: KubeAPIServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_planner(api, tmp_path / "journal.json", *args, "--dataplane", "sidecar")


def _enroll(api: KubeAPIServer, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    done = planner(api, tmp_path, "apply", "20-mesh-permissive", "--write", "--yes")
    assert done.returncode == 0, done.stderr
    api.clear_log()
    return planner(api, tmp_path, "apply", "30-enroll-tiny", "--write", "--yes", *flags)


def _restarted(api: KubeAPIServer) -> list[str]:
    """The Deployments the planner patched (restarts), in order."""
    return [str(c.name) for c in writes(api) if c.resource == "deployments.apps"]


def _times(api: KubeAPIServer, event: str) -> dict[str, float]:
    return {name.split("/")[1]: at for what, name, at in api.cluster.history if what == event}


@pytest.fixture
def cluster(kube_api: KubeAPIServer) -> KubeAPIServer:
    kube_api.load([*_tiny(), *istio_control_plane()])
    kube_api.cluster.replica_delay = 0.1
    return kube_api


def test_each_batch_waits_for_the_previous_one_to_roll_out(cluster: KubeAPIServer,
                                                            tmp_path: Path) -> None:
    done = _enroll(cluster, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("\n30-enroll-tiny: applied\n")  # after the diff
    assert _restarted(cluster) == list(ORDER)  # 25% of 4: one at a time
    started, finished = _times(cluster, "started"), _times(cluster, "finished")
    for before, after in itertools.pairwise(ORDER):
        assert started[after] >= finished[before], (before, after)
    assert not cluster.cluster.rolling()  # the apply returned after the last rollout
    assert "planner: rolled out Deployment tiny/api (2 replica(s), istio-proxy in every pod; " \
           "batch 1 of 4)" in done.stderr.splitlines()
    assert "batch 4 of 4" in done.stderr
    pods = [p for p in cluster.objects() if p["kind"] == "Pod"]
    assert len(pods) == 6 and all(
        "istio-proxy" in [c["name"] for c in p["spec"]["containers"]] for p in pods)


def test_batch_sets_how_many_restart_together(cluster: KubeAPIServer, tmp_path: Path) -> None:
    done = _enroll(cluster, tmp_path, "--batch", "50%")
    assert done.returncode == 0, done.stderr
    started, finished = _times(cluster, "started"), _times(cluster, "finished")
    assert started["postgres"] < finished["api"]  # same batch
    assert started["redis"] >= max(finished["api"], finished["postgres"])
    assert "batch 2 of 2" in done.stderr and "batch 3" not in done.stderr


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--batch", "0", "invalid batch '0'"),
    ("--batch", "150%", "at most 100%"),
    ("--rollout-timeout", "soon", "invalid duration 'soon'"),
])
def test_bad_batch_or_timeout_is_a_usage_error(cluster: KubeAPIServer, tmp_path: Path,
                                               flag: str, value: str, says: str) -> None:
    done = planner(cluster, tmp_path, "apply", "30-enroll-tiny", "--write", "--yes", flag, value)
    assert done.returncode == ExitCode.USAGE and says in done.stderr
    assert not writes(cluster)


def test_a_rollout_that_never_finishes_stops_the_step_and_resume_goes_on(
        cluster: KubeAPIServer, tmp_path: Path) -> None:
    cluster.cluster.break_rollout("tiny", "postgres")
    done = _enroll(cluster, tmp_path, "--rollout-timeout", "1s")
    assert done.returncode == ExitCode.NOT_READY, done.stderr
    error = done.stderr.splitlines()[-1]
    assert error.startswith("planner: error: 30-enroll-tiny stopped at restart batch 2 of 4 "
                            "(Deployment tiny/postgres): not rolled out within 1s "
                            "(--rollout-timeout): Deployment tiny/postgres: ")
    assert "the later batches were not restarted" in error and "--resume" in error
    assert _restarted(cluster) == ["api", "postgres"]
    for name in ("redis", "web"):
        template = (cluster.get("deployments.apps", name, "tiny") or {})["spec"]["template"]
        assert RESTARTED_AT not in ((template.get("metadata") or {}).get("annotations") or {})
    entry = journal_steps(tmp_path / "journal.json")["30-enroll-tiny"]
    assert entry["state"] == "failed"
    assert entry["events"][-1]["message"].startswith("stopped at restart batch 2 of 4")
    status = planner(cluster, tmp_path, "status")
    assert "failed" in status.stdout
    # Where it stopped and how to go on, from status alone (was: "failed after 2 write(s)").
    status = planner(cluster, tmp_path, "status", "-o", "json")
    row = next(r for r in json.loads(status.stdout)["steps"] if r["id"] == "30-enroll-tiny")
    assert row["state"] == "failed"
    assert row["note"].startswith("stopped at restart batch 2 of 4 (Deployment tiny/postgres): "
                                  "not rolled out within 1s (--rollout-timeout): ")
    assert row["note"].endswith(
        "; the later batches were not restarted: fix that, then `planner apply 30-enroll-tiny "
        "--resume --write` waits for that batch again and goes on, or `planner rollback "
        "30-enroll-tiny --write`")
    # the image is fixed; --resume waits for batch 2 again and goes on
    cluster.cluster.repair("tiny", "postgres")
    cluster.clear_log()
    resumed = planner(cluster, tmp_path, "apply", "30-enroll-tiny", "--write", "--yes",
                      "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert _restarted(cluster) == ["redis", "web"]  # nothing restarted twice
    verified = planner(cluster, tmp_path, "verify", "30-enroll-tiny")
    assert verified.returncode == 0, verified.stderr


def test_pods_back_without_a_sidecar_stop_the_first_batch(kube_api: KubeAPIServer,
                                                          tmp_path: Path) -> None:
    """Injection is broken (no webhook): the first workload comes back without istio-proxy,
    so the step stops there instead of restarting the whole namespace; once the webhook is
    back, --resume restarts that batch again (the journal keeps its first before-state, so a
    rollback still restores the original)."""
    kube_api.load([*_tiny(), *istio_control_plane(injector=False)])
    original = kube_api.get("deployments.apps", "api", "tiny")
    done = _enroll(kube_api, tmp_path)
    assert done.returncode == ExitCode.NOT_READY, done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        "planner: error: 30-enroll-tiny stopped at restart batch 1 of 4 (Deployment tiny/api): "
        "Deployment tiny/api: 0/2 pods with istio-proxy after rolling out; no sidecar injector "
        "webhook selects namespace tiny")
    assert _restarted(kube_api) == ["api"]
    kube_api.load([o for o in istio_control_plane()
                   if o["kind"] == "MutatingWebhookConfiguration"])
    kube_api.clear_log()
    resumed = planner(kube_api, tmp_path, "apply", "30-enroll-tiny", "--write", "--yes",
                      "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert _restarted(kube_api) == list(ORDER)  # api once more, then the rest
    assert planner(kube_api, tmp_path, "verify", "30-enroll-tiny").returncode == 0
    rolled_back = planner(kube_api, tmp_path, "rollback", "30-enroll-tiny", "--write", "--yes")
    assert rolled_back.returncode == 0, rolled_back.stderr
    api = kube_api.get("deployments.apps", "api", "tiny") or {}
    assert original is not None and api["spec"]["template"] == original["spec"]["template"]


def test_rollout_bars_draw_one_bar_per_workload_with_names_as_text() -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    with rollout_bars(console) as watch:
        assert watch is not None
        for ready in (0, 1, 2):
            watch(SimpleNamespace(batch=1, batches=2, workload="Deployment tiny/[bold]x",
                                  ready=ready, desired=2, done=ready == 2))
    text = out.getvalue()
    assert "batch 1/2 Deployment tiny/[bold]x" in text and "2/2" in text
    with rollout_bars() as watch:  # stderr is not a terminal under pytest
        assert watch is None
