"""Outcome checks judged on raw objects (planner.domain.outcomes): rollouts as ``kubectl
rollout status`` sees them, the control plane, enrollment per workload."""

from __future__ import annotations

from typing import Any

import pytest

from planner.domain import outcomes as oc
from tests.kubeapi.cluster_sim import istio_control_plane, revision_tag


def _deployment(**status: Any) -> dict[str, Any]:
    """Deployment shop/web, 2 replicas wanted, at generation 2, with this status."""
    return {"kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "generation": 2},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}}},
            "status": status}


@pytest.mark.parametrize(("status", "done", "says"), [
    ({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
     False, "waiting for the controller to observe generation 2"),
    ({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2},
     False, "1 of 2 updated replicas"),
    ({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2},
     False, "1 old replicas pending termination"),
    ({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1},
     False, "1 of 2 updated replicas available"),
    ({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
     True, "rolled out"),
])
def test_deployment_rollout_reads_like_kubectl_rollout_status(
        status: dict[str, Any], done: bool, says: str) -> None:
    rollout = oc.rollout_status(_deployment(**status))
    assert rollout.done is done
    assert rollout.message == f"Deployment shop/web: {says}"


def test_progress_deadline_exceeded_is_a_failed_rollout() -> None:
    rollout = oc.rollout_status(_deployment(
        observedGeneration=2, replicas=3, updatedReplicas=1, availableReplicas=2,
        conditions=[{"type": "Progressing", "status": "False",
                     "reason": "ProgressDeadlineExceeded", "message": "timed out"}]))
    assert not rollout.done and rollout.failed == "timed out"


def test_statefulset_and_daemonset_rollouts() -> None:
    sts = {"kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop",
                                               "generation": 3},
           "spec": {"replicas": 2},
           "status": {"observedGeneration": 3, "readyReplicas": 2, "updatedReplicas": 1,
                      "currentRevision": "a", "updateRevision": "b"}}
    assert "1 of 2 pods at revision b" in oc.rollout_status(sts).message
    sts["status"]["currentRevision"] = "b"
    assert oc.rollout_status(sts).done
    ds = {"kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "shop",
                                             "generation": 1},
          "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert "2 of 3 updated pods available" in oc.rollout_status(ds).message
    assert oc.daemonset_ready(ds)[0] is False


def _facts(objects: list[dict[str, Any]], groups: tuple[str, ...] = oc.ISTIO_API_GROUPS,
           root: bool = True) -> oc.ControlPlaneFacts:
    return oc.ControlPlaneFacts(
        "istio-system", root, frozenset(groups),
        frozenset({oc.PEER_AUTHENTICATIONS}) if "security.istio.io" in groups else frozenset(),
        tuple(o for o in objects if o["kind"] == "Deployment"),
        tuple(o for o in objects if o["kind"] == "MutatingWebhookConfiguration"),
        tuple(o for o in objects if o["metadata"]["name"] == "ztunnel"),
        tuple(o for o in objects if o["metadata"]["name"] == "istio-cni-node"))


SIDECAR = oc.DataplaneNeeds((("istio-injection", "enabled"),))


def test_an_installed_control_plane_reaches_the_prerequisites() -> None:
    outcome = oc.control_plane(_facts(istio_control_plane()), SIDECAR)
    assert outcome.reached, outcome.summary()
    assert [c.name for c in outcome.checks] == ["root namespace", "Istio APIs", "istiod",
                                                "sidecar injector"]


def test_nothing_installed_names_every_missing_piece() -> None:
    outcome = oc.control_plane(_facts([], groups=(), root=False), SIDECAR)
    assert not outcome.reached
    assert outcome.summary() == (
        "root namespace: istio-system not found; Istio APIs: not served: networking.istio.io, "
        "security.istio.io (Istio CRDs not installed); istiod: no istiod Deployment (label "
        "app=istiod) found; sidecar injector: no sidecar injector webhook selects namespaces "
        "labelled istio-injection=enabled (MutatingWebhookConfiguration missing)")


def test_istiod_must_be_available_and_of_the_revision_the_labels_name() -> None:
    down = oc.control_plane(_facts(istio_control_plane(istiod_available=False)), SIDECAR)
    assert [c.name for c in down.failures] == ["istiod"]
    assert down.summary() == ("istiod: no available istiod for revision(s) default; "
                              "Deployment istio-system/istiod: 0 of 1 updated replicas "
                              "available")
    revisioned = _facts(istio_control_plane(revision="1-24"))
    # istio-injection=enabled needs a default revision; only 1-24 runs
    wrong = oc.control_plane(revisioned, SIDECAR)
    assert {c.name for c in wrong.failures} == {"istiod", "sidecar injector"}
    assert "revision(s) default" in wrong.summary()
    right = oc.control_plane(revisioned, oc.DataplaneNeeds((("istio.io/rev", "1-24"),)))
    assert right.reached, right.summary()


def test_a_default_revision_tag_points_at_a_revisioned_istiod() -> None:
    objects = istio_control_plane(revision="1-24")
    assert not oc.control_plane(_facts(objects), SIDECAR).reached
    assert oc.control_plane(_facts([*objects, revision_tag("1-24")]), SIDECAR).reached


def test_ambient_needs_ztunnel_and_cni_not_the_injector() -> None:
    ambient = oc.DataplaneNeeds(ambient=True)
    assert not oc.control_plane(_facts(istio_control_plane()), ambient).reached
    outcome = oc.control_plane(_facts(istio_control_plane(ambient=True, injector=False)),
                               ambient)
    assert outcome.reached, outcome.summary()
    assert [c.name for c in outcome.checks][-2:] == ["ztunnel", "istio-cni"]


def _pod(name: str, *containers: str, **annotations: str) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "shop",
                                        "labels": {"app": "web"}, "annotations": annotations},
            "spec": {"containers": [{"name": c} for c in containers]},
            "status": {"phase": "Running"}}


DONE = {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}


def test_a_workload_is_enrolled_when_rolled_out_with_istio_proxy_in_every_pod() -> None:
    pods = [_pod("web-1", "web", "istio-proxy"), _pod("web-2", "web")]
    half = oc.workload_outcome(_deployment(**DONE), pods, "sidecar")
    assert (half.pods, half.enrolled, half.ok) == (2, 1, False)
    assert half.straggler("sidecar") == "Deployment shop/web: 1/2 pods with istio-proxy"
    pods[1] = _pod("web-2", "web", "istio-proxy")
    assert oc.workload_outcome(_deployment(**DONE), pods, "sidecar").ok
    rolling = oc.workload_outcome(_deployment(**{**DONE, "updatedReplicas": 1}), pods,
                                  "sidecar")
    assert not rolling.ok and "1 of 2 updated replicas" in rolling.straggler("sidecar")
    terminating = _pod("web-0", "web")
    terminating["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    assert oc.workload_outcome(_deployment(**DONE), [*pods, terminating], "sidecar").ok


def test_enrollment_counts_workloads_names_stragglers_and_skips_opt_outs() -> None:
    opted = _deployment(**DONE)
    opted["metadata"]["name"] = "batch"
    opted["spec"]["template"]["metadata"]["annotations"] = {"sidecar.istio.io/inject": "false"}
    outcomes = [oc.workload_outcome(_deployment(**DONE), [_pod("w", "web")], "sidecar"),
                oc.workload_outcome(opted, [], "sidecar")]
    outcome = oc.enrollment("shop", "sidecar", outcomes)
    assert not outcome.reached
    assert outcome.summary() == (
        "workloads: 0/1 workloads of shop rolled out with istio-proxy in every current pod; "
        "not yet: Deployment shop/web: 0/1 pods with istio-proxy; outside by design: "
        "Deployment shop/batch (opted out with sidecar.istio.io/inject=false)")


def test_ambient_enrollment_counts_redirected_pods() -> None:
    redirected = _pod("w", "web", **{"ambient.istio.io/redirection": "enabled"})
    assert oc.workload_outcome(_deployment(**DONE), [redirected, redirected], "ambient").ok
    assert not oc.workload_outcome(_deployment(**DONE), [_pod("w", "web")], "ambient").ok
