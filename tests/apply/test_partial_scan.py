"""A scan that could not read a kind (403) says so everywhere and never plans on what it could
not see (issue 12, item 7). Reproduced: PeerAuthentications forbidden on a cluster that has a
mesh-wide PERMISSIVE policy; the scan warned, exited 0, the report had no trace of the gap,
the plan said "no mesh-wide PeerAuthentication" and its rollback of 20-mesh-permissive deleted
the policy that exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.exit_codes import ExitCode
from planner.service import ClusterInput, analyse, build_plan
from planner.sinks.report_json import report_schema
from tests.apply.clusters import run_planner, seed_tiny, session, writes
from tests.kubeapi import KubeAPIServer
from tests.tui.conftest import SIZE, journey, plain, wait_for
from tui.app import MeshplanApp
from tui.options import TuiOptions

PA = "peerauthentications.security.istio.io"
MESH_POLICY: dict[str, Any] = {
    "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
    "metadata": {"name": "default", "namespace": "istio-system"},
    "spec": {"mtls": {"mode": "PERMISSIVE"}}}


@pytest.fixture
def cluster(kube_api: KubeAPIServer) -> KubeAPIServer:
    seed_tiny(kube_api, MESH_POLICY)
    kube_api.forbid(PA)  # list: the scan's read
    kube_api.clear_log()
    return kube_api


def _deletes(doc: dict[str, Any]) -> list[str]:
    return [f"{s['id']}: {c['object']['kind']}" for s in doc["steps"] for c in s["rollback"]
            if c["action"] == "delete"]


def test_the_plan_states_nothing_it_could_not_read(cluster: KubeAPIServer,
                                                   tmp_path: Path) -> None:
    analysis = analyse(ClusterInput(cluster.kubeconfig))
    assert analysis.scan.unread == ("PeerAuthentication",)
    plan = build_plan(analysis)
    assert plan.unread == ("PeerAuthentication",)
    prereq = "\n".join(plan.step("10-prereq").preconditions)
    assert "no mesh-wide PeerAuthentication" not in prereq
    assert "mesh-wide PeerAuthentication: unknown" in prereq
    permissive = plan.step("20-mesh-permissive")
    assert not [c for c in permissive.rollback if c.object.get("kind") == "PeerAuthentication"]
    assert any("rollback unknown for PeerAuthentication istio-system/default" in p
               for p in permissive.preconditions)
    done = run_planner(cluster, None, "plan", "-o", "json")
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    doc = json.loads(done.stdout)
    assert not [d for d in _deletes(doc) if d.endswith("PeerAuthentication")]
    assert any("could not read PeerAuthentication" in n for n in doc["notes"])
    assert done.stderr.strip().splitlines()[-1].startswith(
        "planner: partial result: could not read PeerAuthentication")
    # The same cluster fully readable: the plan's rollback does delete what it creates.
    cluster.clear_faults()
    done = run_planner(cluster, None, "plan", "-o", "json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["steps"][1]["rollback"][0]["action"] == "apply"  # exists


def test_the_scan_names_the_kinds_missing(cluster: KubeAPIServer) -> None:
    done = run_planner(cluster, None, "scan", "-o", "json")
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    assert json.loads(done.stdout)["unreadKinds"] == ["PeerAuthentication"]
    assert "forbidden: missing permission list peerauthentications" in done.stderr
    cluster.clear_faults()
    done = run_planner(cluster, None, "scan", "-o", "json")
    assert done.returncode == 0 and "unreadKinds" not in json.loads(done.stdout)


def test_the_report_names_the_kinds_missing(cluster: KubeAPIServer, tmp_path: Path) -> None:
    done = run_planner(cluster, None, "report", "--json")
    assert done.returncode == ExitCode.PARTIAL, done.stderr
    doc = json.loads(done.stdout)
    assert doc["inventory"]["unreadKinds"] == ["PeerAuthentication"]
    import jsonschema

    jsonschema.validate(doc, report_schema())


def test_apply_refuses_steps_written_on_an_unread_kind(cluster: KubeAPIServer,
                                                        tmp_path: Path) -> None:
    before = cluster.snapshot()
    done = run_planner(cluster, tmp_path / "j.json", "apply", "20-mesh-permissive", "--write",
                       "--yes")
    assert done.returncode == ExitCode.APPLY_ERROR, done.stderr
    assert "step writes PeerAuthentication objects, which the scan could not read" in \
        done.stderr
    assert cluster.snapshot() == before and not writes(cluster)
    # A step that writes only what was read is not held back by the gap.
    with session(cluster, tmp_path / "j.json") as s:
        assert s.apply("30-enroll-tiny", force=False).state == "applied"


@journey
async def test_the_tui_header_says_partial(cluster: KubeAPIServer, tmp_path: Path) -> None:
    app = MeshplanApp(TuiOptions(ClusterInput(kubeconfig=cluster.kubeconfig),
                                 journal_path=str(tmp_path / "j.json"), start="plan"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.plan is not None, what="the scan")
        await pilot.pause()
        header = plain(app.screen.query_one("#header"))
        assert "PARTIAL: unread PeerAuthentication" in header


def test_a_kind_whose_list_times_out_is_a_gap_not_a_failure(kube_api: KubeAPIServer) -> None:
    from planner.sources.kube import KubeTarget, scan_cluster

    seed_tiny(kube_api, MESH_POLICY)
    kube_api.slow(4.0, PA, verb="list")
    loaded, stats = scan_cluster(KubeTarget(kube_api.kubeconfig), timeout_s=0.5,
                                 max_retry_s=1.0)
    assert stats.kinds_timed_out == [PA] and not stats.kinds_forbidden
    assert "deployments.apps" in stats.kinds_listed
    assert any(str(d).count("timed out: list " + PA) for d in loaded.diagnostics)
    assert not [d for d in loaded.documents if d.body["kind"] == "PeerAuthentication"]
