"""The plan's authorization phases applied, verified and rolled back by the apply engine on the
Kubernetes-API test server (``security.istio.io/v1`` AuthorizationPolicy served), and their
gate read from a real Prometheus holding Istio's request metrics and Envoy's shadow RBAC
counters.

Two namespaces with the same shape (``web`` calls ``api``): in ``shop`` the dry-run policy
would have denied requests (a shadow counter moved) and a caller it does not name reached
``api``; in ``blog`` every observed caller is named and no shadow counter moved."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from planner.cli import cli
from planner.domain.traffic import ObservedEdge
from planner.errors import ApplyError, GateRefused
from planner.exit_codes import ExitCode
from planner.service import ClusterInput, analyse, build_plan, open_apply_session
from tests.apply.journal_doc import journal_steps
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.cluster_sim import istio_control_plane
from tests.traffic.promserver import PromServer, RawSeries, require_prometheus

POLICIES = "authorizationpolicies.security.istio.io"
DRY_RUN_ANNOTATION = "istio.io/dry-run"
BEFORE_AUTHZ = ("10-prereq", "20-mesh-permissive", "30-enroll-blog", "30-enroll-shop",
                "40-strict-blog", "40-strict-shop", "60-mesh-strict")


def _app(ns: str, name: str, calls: str = "") -> list[dict[str, Any]]:
    labels = {"app": name}
    container: dict[str, Any] = {"name": name, "image": f"example/{name}:1",
                                 "ports": [{"name": "http", "containerPort": 8080}]}
    if calls:
        container["env"] = [{"name": "UPSTREAM", "value": calls}]
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": ns, "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"serviceAccountName": name,
                                        "containers": [container]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80,
                                                 "targetPort": 8080}]}},
    ]


def _seed() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [*istio_control_plane()]
    for ns in ("shop", "blog"):
        docs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": ns, "labels": {"istio-injection": "enabled"}}})
        docs += _app(ns, "api") + _app(ns, "web", calls="http://api:80")
    return docs


def _plan_session(api: KubeAPIServer, journal: Path, **options: Any) -> Any:
    spec = ClusterInput(api.kubeconfig)
    analysis = analyse(spec)
    plan = build_plan(analysis, dataplane="sidecar", authz=True)
    return open_apply_session(analysis, plan, write=True, journal_path=str(journal),
                              kube=spec, **options)


@pytest.fixture
def strict_cluster(kube_api: KubeAPIServer, tmp_path: Path) -> KubeAPIServer:
    """The seeded cluster with every step up to mesh-wide STRICT applied (journal in
    ``tmp_path``): what the authorization phases start from."""
    kube_api.load(_seed())
    with _plan_session(kube_api, tmp_path / "journal.json") as session:
        for step in BEFORE_AUTHZ:
            assert session.apply(step, no_gate="strict" in step).state == "applied", step
    return kube_api


def _policy(api: KubeAPIServer, ns: str) -> dict[str, Any] | None:
    found = api.get(POLICIES, "api-allow", ns)
    return None if found is None else dict(found)


def test_dry_run_then_enforce_then_roll_back_through_the_engine(
        strict_cluster: KubeAPIServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"
    with _plan_session(strict_cluster, journal) as session:
        with pytest.raises(ApplyError, match="requires 70-authz-dry-run-shop"):
            session.apply("80-authz-enforce-shop", no_gate=True)
        assert session.apply("70-authz-dry-run-shop").state == "applied"
        dry = _policy(strict_cluster, "shop")
        assert dry is not None
        assert dry["metadata"]["annotations"][DRY_RUN_ANNOTATION] == "true"
        assert dry["spec"]["rules"][0]["from"][0]["source"]["principals"] == [
            "cluster.local/ns/shop/sa/web"]
        assert dry["spec"]["selector"] == {"matchLabels": {"app": "api"}}
        verified = session.verify("70-authz-dry-run-shop")
        assert verified.state == "verified", verified.messages

        with pytest.raises(GateRefused, match="enforces authorization and no traffic source"):
            session.apply("80-authz-enforce-shop")
        assert _policy(strict_cluster, "shop") == dry
        enforced = session.apply("80-authz-enforce-shop", no_gate=True)
        assert enforced.state == "applied"
        live = _policy(strict_cluster, "shop")
        assert live is not None and DRY_RUN_ANNOTATION not in (
            live["metadata"].get("annotations") or {})
        assert live["spec"] == dry["spec"]
        assert session.verify("80-authz-enforce-shop").state == "verified"
        # The dry-run policies are the enforce step's now: not drift, and only the
        # annotation changed (drift detection reads it: it decides whether anything is denied).
        status = {sid: (state, note) for sid, state, note in session.status_details()}
        assert status["70-authz-dry-run-shop"] == (
            "superseded", "superseded by 80-authz-enforce-shop: AuthorizationPolicy "
            "shop/api-allow rewritten by it")
        assert status["80-authz-enforce-shop"][0] == "verified"
        assert journal_steps(journal)["80-authz-enforce-shop"]["gate"] == "none"

        # Someone puts the policy back in dry run: nothing is enforced any more, and verify
        # reads that back from the cluster.
        status_code, _ = strict_cluster.request(
            "PATCH", "/apis/security.istio.io/v1/namespaces/shop/authorizationpolicies/"
            "api-allow", {"metadata": {"annotations": {DRY_RUN_ANNOTATION: "true"}}},
            content_type="application/merge-patch+json")
        assert status_code == 200
        undone = session.verify("80-authz-enforce-shop")
        assert undone.failed == "outcome" and undone.state == "drifted", undone.messages

        # The dry run cannot go while the enforcing step that rests on it is applied.
        with pytest.raises(ApplyError, match="80-authz-enforce-shop"):
            session.rollback("70-authz-dry-run-shop")
        assert session.rollback("80-authz-enforce-shop").state == "rolled back"
        back = _policy(strict_cluster, "shop")
        assert back is not None
        assert back["metadata"]["annotations"][DRY_RUN_ANNOTATION] == "true"
        assert session.rollback("70-authz-dry-run-shop").state == "rolled back"
        assert _policy(strict_cluster, "shop") is None
        # The other namespace's phases were never touched.
        assert _policy(strict_cluster, "blog") is None


def test_an_existing_policy_of_the_same_name_comes_back_on_rollback(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    mine = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "api-allow", "namespace": "shop",
                         "labels": {"owner": "team-a"}},
            "spec": {"selector": {"matchLabels": {"app": "api"}}, "action": "ALLOW",
                     "rules": [{"from": [{"source": {"namespaces": ["shop"]}}]}]}}
    kube_api.load([*_seed(), mine])
    with _plan_session(kube_api, tmp_path / "journal.json") as session:
        for step in BEFORE_AUTHZ:
            session.apply(step, no_gate="strict" in step)
        session.apply("70-authz-dry-run-shop")
        changed = _policy(kube_api, "shop")
        assert changed is not None and changed["spec"] != mine["spec"]
        session.rollback("70-authz-dry-run-shop")
    restored = _policy(kube_api, "shop")
    assert restored is not None
    assert restored["spec"] == mine["spec"]
    assert restored["metadata"]["labels"] == mine["metadata"]["labels"]
    assert DRY_RUN_ANNOTATION not in (restored["metadata"].get("annotations") or {})


# --- the gate, from a real Prometheus ---------------------------------------------------------


def _edge(src: str, dst: str, total: float) -> ObservedEdge:
    src_ns, src_wl = src.split("/")
    dst_ns, dst_wl = dst.split("/")
    return ObservedEdge(src_ns, src_wl, dst_ns, dst_wl, dst_wl, "http", total, total)


#: Observed callers: in shop a workload outside the scanned cluster calls api too (over mTLS:
#: the STRICT gates are not what this is about), in blog only web.
EDGES = (
    _edge("shop/web", "shop/api", 600),
    _edge("partner/crawler", "shop/api", 40),
    _edge("blog/web", "blog/api", 300),
)


def _shadow(ns: str, pod: str, denied: float, now: float) -> RawSeries:
    """Envoy's shadow RBAC counter of ``pod`` as Istio's bootstrap tags it, rising to
    ``denied`` over the last two hours (a constant 3 when ``denied`` is 0)."""
    labels = {"authz_dry_run_action": "allow", "authz_dry_run_result": "denied",
              "namespace": ns, "pod": pod, "app": "api"}
    times = [now - 7200 + 60 * i for i in range(121)]
    values = [denied * i / 120 if denied else 3.0 for i in range(121)]
    return ("envoy_http_inbound_0_0_0_0_8080_rbac", labels, list(zip(times, values,
                                                                     strict=True)))


@pytest.fixture(scope="module")
def authz_prom() -> Iterator[str]:
    """A real Prometheus with the observed callers and the shadow counters of both api pods."""
    require_prometheus()
    now = time.time()
    with PromServer(list(EDGES), raw=[_shadow("shop", "api-5d8f-abcde", 25, now),
                                      _shadow("blog", "api-7c4b-fghij", 0, now)]) as server:
        yield server.url


def _run(api: KubeAPIServer, tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--kubeconfig", api.kubeconfig, "--authz",
                                    "--dataplane", "sidecar",
                                    "--journal", str(tmp_path / "journal.json")])


def test_gate_reads_shadow_denials_and_callers_outside_the_policy(
        strict_cluster: KubeAPIServer, tmp_path: Path, authz_prom: str) -> None:
    for ns in ("shop", "blog"):
        done = _run(strict_cluster, tmp_path, "apply", f"70-authz-dry-run-{ns}", "--write",
                    "--yes")
        assert done.exit_code == 0, done.output
    before = _policy(strict_cluster, "shop")

    refused = _run(strict_cluster, tmp_path, "apply", "80-authz-enforce-shop", "--write",
                   "--yes", "--prometheus", authz_prom)
    assert refused.exit_code == ExitCode.GATE_FAILED, refused.output
    assert "Prometheus gate fail" in refused.stderr
    assert "partner/crawler -> shop/api" in refused.stderr
    assert "would have denied" in refused.stderr and "shop/api-5d8f-abcde" in refused.stderr
    assert _policy(strict_cluster, "shop") == before

    passed = _run(strict_cluster, tmp_path, "apply", "80-authz-enforce-blog", "--write",
                  "--yes", "--prometheus", authz_prom, "--settle", "1s", "--auto-rollback")
    assert passed.exit_code == 0, passed.output
    assert "no post-apply check for an authorization step" in passed.output
    blog = _policy(strict_cluster, "blog")
    assert blog is not None and DRY_RUN_ANNOTATION not in (
        blog["metadata"].get("annotations") or {})
    assert journal_steps(tmp_path / "journal.json")["80-authz-enforce-blog"]["gate"] == "passed"

    plan = CliRunner().invoke(cli, ["plan", "--kubeconfig", strict_cluster.kubeconfig,
                                    "--authz", "--dataplane", "sidecar", "--prometheus",
                                    authz_prom, "-o", "json"])
    steps = {s["id"]: s for s in json.loads(plan.stdout)["steps"]}
    assert steps["80-authz-enforce-shop"]["gate"]["status"] == "fail"
    assert steps["80-authz-enforce-blog"]["gate"]["status"] == "pass"
    assert "no shadow denials in blog" in steps["80-authz-enforce-blog"]["gate"]["reason"]
    # The failing gate blocks the step, as MP301 blocks a STRICT step: one finding per caller
    # the policies do not name, one for the shadow denials.
    denials = [b for b in steps["80-authz-enforce-shop"]["blockers"] if b["code"] == "MP304"]
    assert sorted(b["subject"] for b in denials) == ["namespace/shop", "partner/crawler"]
    assert not [b for b in steps["80-authz-enforce-blog"]["blockers"] if b["code"] == "MP304"]

    forced = _run(strict_cluster, tmp_path, "apply", "80-authz-enforce-shop", "--write",
                  "--yes", "--force", "--prometheus", authz_prom)
    assert forced.exit_code == 0, forced.output
    [reason] = journal_steps(tmp_path / "journal.json")["80-authz-enforce-shop"]["forced"]
    assert "partner/crawler" in reason


# --- a plan built without --authz still sees the applied authorization steps ------------------


def _run_without_authz(api: KubeAPIServer, tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--kubeconfig", api.kubeconfig,
                                    "--dataplane", "sidecar",
                                    "--journal", str(tmp_path / "journal.json")])


def test_status_and_rollback_without_authz_see_the_journaled_authz_steps(
        strict_cluster: KubeAPIServer, tmp_path: Path) -> None:
    applied = _run(strict_cluster, tmp_path, "apply", "70-authz-dry-run-shop", "--write",
                   "--yes")
    assert applied.exit_code == 0, applied.output
    assert journal_steps(tmp_path / "journal.json")["70-authz-dry-run-shop"]["requires"] == [
        "60-mesh-strict"]

    status = _run_without_authz(strict_cluster, tmp_path, "status", "-o", "json")
    assert status.exit_code == 0, status.output
    rows = {s["id"]: s for s in json.loads(status.stdout)["steps"]}
    assert rows["70-authz-dry-run-shop"]["state"] == "applied"
    assert "built with --authz" in rows["70-authz-dry-run-shop"]["note"]

    # Mesh-wide STRICT is what the authorization policy rests on: a plan without --authz
    # must not let it go from under it.
    refused = _run_without_authz(strict_cluster, tmp_path, "rollback", "60-mesh-strict",
                                 "--dry-run")
    assert refused.exit_code == ExitCode.APPLY_ERROR, refused.output
    assert "70-authz-dry-run-shop (applied) depend(s) on it" in refused.stderr

    verify = _run_without_authz(strict_cluster, tmp_path, "verify", "70-authz-dry-run-shop")
    assert verify.exit_code == ExitCode.APPLY_ERROR, verify.output
    assert "add --authz" in verify.stderr and "Traceback" not in verify.output

    cascade = _run_without_authz(strict_cluster, tmp_path, "rollback", "60-mesh-strict",
                                 "--write", "--yes", "--cascade")
    assert cascade.exit_code == 0, cascade.output
    assert "rolled back 70-authz-dry-run-shop first" in cascade.stderr
    assert _policy(strict_cluster, "shop") is None
    steps = journal_steps(tmp_path / "journal.json")
    assert steps["70-authz-dry-run-shop"]["state"] == "rolled back"
    assert steps["60-mesh-strict"]["state"] == "rolled back"


def test_rollback_without_authz_of_a_journaled_authz_step(
        strict_cluster: KubeAPIServer, tmp_path: Path) -> None:
    applied = _run(strict_cluster, tmp_path, "apply", "70-authz-dry-run-shop", "--write",
                   "--yes")
    assert applied.exit_code == 0, applied.output
    assert _policy(strict_cluster, "shop") is not None
    back = _run_without_authz(strict_cluster, tmp_path, "rollback", "70-authz-dry-run-shop",
                              "--write", "--yes")
    assert back.exit_code == 0, back.output
    assert back.stdout.strip().endswith("70-authz-dry-run-shop: rolled back")
    assert _policy(strict_cluster, "shop") is None
    # A step id neither planned nor journaled is still refused, listing the plan's steps.
    unknown = _run_without_authz(strict_cluster, tmp_path, "rollback",
                                 "80-authz-enforce-shop", "--dry-run")
    assert unknown.exit_code == ExitCode.APPLY_ERROR, unknown.output
    assert "no step '80-authz-enforce-shop' in the plan" in unknown.stderr
    assert "planned with --authz" in unknown.stderr
