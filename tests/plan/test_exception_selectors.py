"""Port-exception PeerAuthentications select what they mean: the workload's own selector
(``spec.selector.matchLabels``), never the version labels of its pod template, so the pods of
the next version (a v2 canary, a rollout) keep their exception."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from planner.domain import policy
from planner.domain.inventory import ObjectRef, Workload
from planner.domain.plan import Phase
from tests.plan.test_spec import BASE, _plan

#: app/web's template carries version labels its selector does not.
VERSIONED = BASE.replace(
    "template:\n    metadata: {labels: {app: web}}",
    "template:\n    metadata: {labels: {app: web, version: v1, "
    "app.kubernetes.io/version: 1.4.2}}")


def _exception_selector(text: str, tmp_path: Path) -> dict[str, str]:
    plan = _plan(tmp_path, text)
    step = plan.step("50-exception-app-web")
    assert step.phase is Phase.EXCEPTION
    return dict(step.apply[0].object["spec"]["selector"]["matchLabels"])


def test_the_exception_selects_on_the_deployments_selector_not_its_version(
        tmp_path: Path) -> None:
    assert _exception_selector(VERSIONED, tmp_path) == {"app": "web"}
    # the v2 canary of the same Deployment: the plan (and its policy) does not change
    canary = VERSIONED.replace("version: v1", "version: v2")
    assert _exception_selector(canary, tmp_path) == {"app": "web"}


def test_a_selector_with_its_own_version_is_kept() -> None:
    """reviews-v1 (bookinfo) selects on version itself: that is the workload's identity."""
    reviews = Workload(ObjectRef("Deployment", "shop", "reviews-v1"),
                       pod_labels={"app": "reviews", "version": "v1"},
                       selector={"app": "reviews", "version": "v1"})
    assert policy.selector_labels(reviews) == {"app": "reviews", "version": "v1"}


def test_without_a_selector_the_pod_labels_lose_their_version_ones() -> None:
    pod = Workload(ObjectRef("Pod", "shop", "debug"),
                   pod_labels={"app": "debug", "version": "v3", "pod-template-hash": "abc"})
    assert policy.selector_labels(pod) == {"app": "debug"}


def test_planner_plan_writes_the_selector_into_the_exception(tmp_path: Path) -> None:
    manifest = tmp_path / "cluster.yaml"
    manifest.write_text(VERSIONED, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "planner", "plan", "-f", str(manifest),
                           "--dataplane", "sidecar", "-o", "json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    steps = {s["id"]: s for s in json.loads(done.stdout)["steps"]}
    applied = steps["50-exception-app-web"]["apply"][0]["object"]
    assert applied["spec"]["selector"] == {"matchLabels": {"app": "web"}}
