"""The WRITE journey against the Kubernetes-API test server: scan the live cluster, dry-run,
confirm and apply two steps, roll one back, and check the server's objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from planner.service import ClusterInput
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.cluster_sim import istio_control_plane, revision_tag, running
from tests.tui.conftest import SHOP, SIZE, journey, wait_for
from tui.app import MeshplanApp
from tui.options import TuiOptions
from tui.screens.modals import ConfirmModal
from tui.screens.plan import PlanScreen


def seed(api: KubeAPIServer) -> int:
    """The shop manifests' objects the server serves (Namespaces, workloads, Istio policy),
    running: every workload with its pods."""
    loaded = 0
    for path in sorted(SHOP.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or "kind" not in doc:
                continue
            docs = doc.get("items", []) if doc["kind"].endswith("List") else [doc]
            for obj in docs:
                try:
                    api.load([obj])
                    loaded += 1
                except (KeyError, ValueError, LookupError):
                    continue  # a kind the test server does not serve
    # Istio as a cluster runs it: istiod-1-24 up, its sidecar injector webhook and the
    # default revision tag that istio-injection=enabled namespaces rely on (the manifests
    # hold only the Deployment), so enrolled pods come back with istio-proxy; ztunnel and
    # istio-cni for the namespaces the plan puts on ambient.
    istiod = api.get("deployments.apps", "istiod-1-24", "istio-system")
    assert istiod is not None
    api.load([running(istiod), revision_tag("1-24"),
              *(o for o in istio_control_plane(revision="1-24", ambient=True)
                if o["kind"] in ("MutatingWebhookConfiguration", "DaemonSet"))])
    # Every workload running, pods injected where admission injects them today.
    api.cluster.deploy()
    return loaded


async def apply_step(pilot: Any, app: MeshplanApp, step_id: str) -> None:
    screen = app.screen
    assert isinstance(screen, PlanScreen)
    screen.select_step(step_id)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirm dialog")
    assert "Apply step" in app.screen.title_str
    await pilot.press("y")
    await wait_for(pilot, lambda: app.states.get(step_id) in ("verified", "applied", "failed")
                   and not app.busy_label, what=f"{step_id} applied")


@journey
async def test_apply_two_steps_and_roll_one_back(kube_api: KubeAPIServer,
                                                 tmp_path: Path) -> None:
    assert seed(kube_api) > 10
    journal = tmp_path / "journal.json"
    spec = ClusterInput(kubeconfig=kube_api.kubeconfig)
    app = MeshplanApp(TuiOptions(spec, write=True, journal_path=str(journal), start="plan"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.plan is not None and bool(app.states),
                       what="the live scan and the journal status")
        assert app.write and "WRITE" in str(app.screen.query_one("#header").content)
        first, second = "20-mesh-permissive", "30-enroll-storefront"
        await apply_step(pilot, app, first)
        assert app.states[first] in ("applied", "verified"), app.outcomes
        policy = kube_api.get("peerauthentications.security.istio.io", "default",
                              "istio-system")
        assert policy is not None and policy["spec"]["mtls"]["mode"] == "PERMISSIVE"
        await apply_step(pilot, app, second)
        assert app.states[second] in ("applied", "verified"), app.outcomes
        ns = kube_api.get("namespaces", "storefront")
        assert ns is not None
        assert app.progress_label.startswith("step 3 of")
        # Roll the second step back: confirm dialog with the rollback objects, then progress.
        app.screen.select_step(second)
        before = kube_api.resource_version
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.states.get(second) == "rolled back"
                       and not app.busy_label, what="the rollback")
        assert kube_api.resource_version > before
        assert app.states[first] in ("applied", "verified")
        assert journal.exists()
        assert not [f for f in app.failures if not f.expected], app.failures
