"""The TUI's apply and rollback dialogs (issue 12, items 6 and 8), with Textual's pilot:

* a STRICT step whose gate fails or cannot be proven opens the gate dialog first, with no
  plain Apply; "Apply anyway" exists only in a --write session and is journaled as forced;
  the fail and unknown dialogs list callers;
* the rollback dialog previews the rollback's own diff, from the journal, the same text as
  ``planner rollback --dry-run``, and names the applied steps that depend on the step;
* the header's step counter and the plan's states are this cluster's, whatever else the
  journal holds.

Traffic comes from a CSV export of the shop ground truth (tests/traffic/shop_truth.py), so no
Prometheus is needed; the cluster is the Kubernetes-API test server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.syntax import Syntax
from textual.widgets import Button, Static

from planner.apply.journal_file import journal_lock
from planner.service import ClusterInput, TrafficSource, open_apply_session
from tests.apply.clusters import run_planner, seed_tiny, session
from tests.apply.journal_doc import journal_steps
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.fixtures import ServerFactory
from tests.traffic.shop_truth import write_csv
from tests.tui.conftest import SIZE, journey, plain, ready, shop_app, wait_for
from tui.app import MeshplanApp
from tui.options import TuiOptions
from tui.screens.modals import ConfirmModal, GateModal
from tui.screens.plan import PlanScreen


def _strict(app: MeshplanApp, namespace: str) -> Any:
    return next(s for s in app.plan.steps
                if s.phase.value == "strict" and s.target.namespace == namespace)


async def _open_gate(pilot: Any, app: MeshplanApp, step_id: str) -> GateModal:
    screen = app.screen
    assert isinstance(screen, PlanScreen)
    screen.select_step(step_id)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, GateModal), what="the gate dialog")
    modal = app.screen
    assert isinstance(modal, GateModal)
    return modal


@journey
async def test_failing_gate_comes_first_and_only_apply_anyway_overrides_it(
        tmp_path: Path) -> None:
    out, journal = tmp_path / "out", tmp_path / "journal.json"
    traffic = TrafficSource(traffic_file=str(write_csv(tmp_path / "edges.csv")))
    app = shop_app(traffic=traffic, write=True, out_dir=str(out), journal_path=str(journal),
                   start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        step = _strict(app, "data")  # orders/cart sends plaintext to redis
        assert app.gates[step.id].status == "fail"
        with open_apply_session(app.analysis, app.apply_plan, write=True,
                                journal_path=str(journal), out_dir=str(out)) as s:
            for required in step.requires:
                s.apply(required, force=True)
        modal = await _open_gate(pilot, app, step.id)
        # Was: a confirm dialog with Apply, then "use --force", a flag the TUI has not.
        assert modal.title_str == f"Gate fail: step {step.id} is refused"
        verdict = plain(modal.query_one("#gate-verdict", Static))
        assert verdict.startswith("Plaintext callers would be cut off")
        assert "orders/cart -> data/redis" in plain(modal.query_one("#gate-detail", Static))
        assert [b.id for b in modal.query(Button)] == ["force", "cancel"]
        assert "--force" not in "".join(plain(s) for s in modal.query(Static))
        await pilot.press("y")  # no plain confirm key either
        assert app.screen is modal
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, GateModal), what="close")
        assert app.states.get(step.id, "pending") == "pending"
        assert not (out / step.id).exists()
        modal = await _open_gate(pilot, app, step.id)
        await pilot.press("shift+tab")  # from Cancel, where the focus starts, to the override
        assert app.focused is modal.query_one("#force", Button)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.states.get(step.id) in ("written", "applied",
                                                                  "verified", "failed")
                       and not app.busy_label, what="the forced apply")
        assert app.states[step.id] == "written", app.outcomes  # a folder: never "verified"
        entry = journal_steps(journal)[step.id]
        assert entry["forced"] and "gate fail" in entry["forced"][0]
        assert (out / step.id).is_dir()


@journey
async def test_unknown_gate_lists_the_callers_it_could_not_clear(tmp_path: Path) -> None:
    traffic = TrafficSource(traffic_file=str(write_csv(tmp_path / "edges.csv")))
    app = shop_app(traffic=traffic, write=True, out_dir=str(tmp_path / "out"),
                   journal_path=str(tmp_path / "journal.json"), start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        step = _strict(app, "payments")
        assert app.gates[step.id].status == "unknown"  # no series for payments
        modal = await _open_gate(pilot, app, step.id)
        assert modal.title_str.startswith("Gate unknown")
        assert "No proof either way" in plain(modal.query_one("#gate-verdict", Static))
        callers = plain(modal.query_one("#gate-callers", Static))
        assert "Deployment/orders/checkout -> Service/payments/payments:8080" in callers
        await pilot.press("escape")
    # A read-only session has no override: the same dialog offers Close only.
    app = shop_app(start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.push_screen(GateModal("40-strict-payments", None, "", ["a -> b:80"], False))
        await pilot.pause()
        assert [str(b.label) for b in app.screen.query(Button)] == ["Close"]


@journey
async def test_rollback_dialog_previews_the_journal_diff_and_cascades(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    seed_tiny(kube_api)
    journal = tmp_path / "journal.json"
    with session(kube_api, journal) as s:
        for step in ("20-mesh-permissive", "30-enroll-tiny", "40-strict-tiny"):
            s.apply(step, no_gate="strict" in step)  # no traffic source in this test
        expected = s.rollback_preview("30-enroll-tiny", cascade=True).diff
    cli = run_planner(kube_api, journal, "rollback", "30-enroll-tiny", "--dry-run",
                      "--cascade")
    assert cli.returncode == 0 and cli.stdout == expected
    spec = ClusterInput(kubeconfig=kube_api.kubeconfig)
    app = MeshplanApp(TuiOptions(spec, write=True, journal_path=str(journal), start="plan"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.states.get("40-strict-tiny") == "applied",
                       what="the journal status")
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        screen.select_step("30-enroll-tiny")
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="confirm")
        modal = app.screen
        assert isinstance(modal, ConfirmModal)
        assert modal.title_str == ("Roll back 30-enroll-tiny and the 1 step(s) that depend "
                                   "on it?")
        assert modal.confirm_label == "Roll back 2 steps"
        diffs = [part for part in modal.body if isinstance(part, Syntax)]
        assert [d.code for d in diffs] == [expected]  # was: the re-planned step's YAML
        assert "-    meshplan.io/step: 30-enroll-tiny" in expected
        await pilot.press("y")
        await wait_for(pilot, lambda: app.states.get("30-enroll-tiny") == "rolled back"
                       and not app.busy_label, what="the rollback")
        assert app.states["40-strict-tiny"] == "rolled back"
        assert app.states["20-mesh-permissive"] == "applied"
        assert not [f for f in app.failures if not f.expected], app.failures


@journey
async def test_a_fresh_cluster_starts_at_step_one_whatever_the_journal_holds(
        kube_api_factory: ServerFactory, tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"
    first, fresh = kube_api_factory(), kube_api_factory()
    for api in (first, fresh):
        seed_tiny(api)
    with session(first, journal) as s:
        for step in ("20-mesh-permissive", "30-enroll-tiny", "40-strict-tiny"):
            s.apply(step, no_gate="strict" in step)  # no traffic source in this test
    spec = ClusterInput(kubeconfig=fresh.kubeconfig)
    app = MeshplanApp(TuiOptions(spec, write=True, journal_path=str(journal), start="plan"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.plan is not None and bool(app.states),
                       what="the journal status")
        assert set(app.states.values()) == {"pending"}, app.states
        assert app.progress_label == f"step 1 of {len(app.plan.steps)}"  # was: step 4 of 5
        assert "step 1 of" in plain(app.screen.query_one("#header"))


@journey
async def test_an_apply_while_another_holds_the_journal_is_refused_naming_it(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    seed_tiny(kube_api)
    journal = tmp_path / "journal.json"
    spec = ClusterInput(kubeconfig=kube_api.kubeconfig)
    app = MeshplanApp(TuiOptions(spec, write=True, journal_path=str(journal), start="plan"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.plan is not None and bool(app.states),
                       what="the journal status")
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        screen.select_step("20-mesh-permissive")
        with journal_lock(journal, "planner rollback 30-enroll-tiny on cluster test"):
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="confirm")
            await pilot.press("y")
            await wait_for(pilot, lambda: bool(app.failures), what="the refusal")
        failure = app.failures[-1]
        assert failure.expected and f"is in use by pid {os.getpid()}" in failure.message
        assert "(planner rollback 30-enroll-tiny on cluster test, since" in failure.message
        assert app.states["20-mesh-permissive"] == "pending"
        assert kube_api.get("peerauthentications.security.istio.io", "default",
                            "istio-system") is None


@journey
async def test_a_superseded_step_counts_as_done(kube_api: KubeAPIServer,
                                                 tmp_path: Path) -> None:
    seed_tiny(kube_api)
    journal = tmp_path / "journal.json"
    with session(kube_api, journal) as s:
        s.apply("10-prereq", force=True)  # no istiod on the test server
        for step in ("20-mesh-permissive", "30-enroll-tiny", "40-strict-tiny",
                     "60-mesh-strict"):
            s.apply(step, no_gate="strict" in step)  # no traffic source in this test
    spec = ClusterInput(kubeconfig=kube_api.kubeconfig)
    app = MeshplanApp(TuiOptions(spec, journal_path=str(journal), start="plan"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.states), what="the journal status")
        assert app.states["20-mesh-permissive"] == "superseded"
        assert app.progress_label == f"step {len(app.plan.steps)} of {len(app.plan.steps)} ✓"
