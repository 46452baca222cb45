"""The TUI gates a STRICT step as ``planner apply`` does (issue 12, items 4 and 8), with
Textual's pilot on the Kubernetes-API test server:

* with no traffic source the step is refused first; only an explicit "Apply without gate"
  (``--write`` only) goes on, journaled as ``planner apply --no-gate`` journals it, and the
  plan table and ``planner status`` say "applied without gate";
* after a STRICT apply with ``--prometheus``, the post-apply check waits ``--settle`` with its
  progress shown (the app keeps answering), re-reads the traffic, and when connection
  failures rose says so and offers the rollback, or rolls back at once with
  ``--auto-rollback``.

The Prometheus is the real one of the traffic tests, its client-side 503s into payments
climbing from the start (``tests.apply.test_apply_gates``)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from textual.widgets import Button, Static

from planner.exit_codes import ExitCode
from planner.service import ClusterInput, TrafficSource
from tests.apply.clusters import run_planner, seed_tiny, session
from tests.apply.journal_doc import journal_steps
from tests.apply.test_apply_gates import _storm_prometheus, ready_for_strict
from tests.kubeapi import KubeAPIServer
from tests.traffic.promserver import require_prometheus
from tests.tui.conftest import SIZE, journey, plain, wait_for
from tui.app import MeshplanApp
from tui.options import TuiOptions
from tui.screens.modals import ConfirmModal, GateModal, PostApplyModal
from tui.screens.plan import PlanScreen

POLICIES = "peerauthentications.security.istio.io"


async def _press_apply(pilot: Any, app: MeshplanApp, step_id: str) -> None:
    screen = app.screen
    assert isinstance(screen, PlanScreen)
    screen.select_step(step_id)
    await pilot.press("a")


@journey
async def test_strict_without_a_traffic_source_needs_apply_without_gate(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    seed_tiny(kube_api)
    journal = tmp_path / "journal.json"
    with session(kube_api, journal) as s:
        for step in ("20-mesh-permissive", "30-enroll-tiny"):
            s.apply(step)
    spec = ClusterInput(kubeconfig=kube_api.kubeconfig)
    app = MeshplanApp(TuiOptions(spec, write=True, journal_path=str(journal), start="plan"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.states.get("30-enroll-tiny") == "applied",
                       what="the journal status")
        await _press_apply(pilot, app, "40-strict-tiny")
        await wait_for(pilot, lambda: isinstance(app.screen, GateModal), what="the dialog")
        modal = app.screen
        assert isinstance(modal, GateModal)
        # Was: a plain Apply, then a refusal whose "Apply anyway" could never get past it.
        assert modal.title_str == "No gate: step 40-strict-tiny is refused"
        verdict = plain(modal.query_one("#gate-verdict", Static))
        assert verdict.startswith("No traffic source gates this step")
        assert [b.id for b in modal.query(Button)] == ["no-gate", "cancel"]
        await pilot.press("y")  # no plain confirm key
        assert app.screen is modal
        await pilot.press("shift+tab")
        assert app.focused is modal.query_one("#no-gate", Button)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.states.get("40-strict-tiny") in (
            "applied", "verified", "failed") and not app.busy_label, what="the apply")
        assert app.states["40-strict-tiny"] in ("applied", "verified"), app.outcomes
        assert app.gate_modes["40-strict-tiny"] == "none"
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        table = screen.query_one("#steps")
        row = table.get_row("40-strict-tiny")  # type: ignore[attr-defined]
        assert str(row[2]).endswith(" without gate")
        assert not [f for f in app.failures if not f.expected], app.failures
    entry = journal_steps(journal)["40-strict-tiny"]
    assert entry["gate"] == "none" and not entry["forced"]
    assert kube_api.get(POLICIES, "default", "tiny") is not None
    status = run_planner(kube_api, journal, "status", "-o", "json")
    assert status.returncode == 0, status.stderr
    assert '"note": "applied without gate (--no-gate)"' in status.stdout


@journey
async def test_a_read_only_session_has_no_way_past_a_missing_gate(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    seed_tiny(kube_api)
    spec = ClusterInput(kubeconfig=kube_api.kubeconfig)
    app = MeshplanApp(TuiOptions(spec, journal_path=str(tmp_path / "j.json"), start="plan"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.plan is not None and bool(app.states),
                       what="the plan")
        app.push_screen(GateModal("40-strict-tiny", None, "", [], False, no_source=True))
        await pilot.pause()
        assert [str(b.label) for b in app.screen.query(Button)] == ["Close"]


#: The 503s into payments start to climb this long after the Prometheus starts: after the TUI
#: is up and the baseline before the writes is read, within the settle period.
RISE_S = 20.0
SETTLE_S = 5


def _tui(api: KubeAPIServer, journal: Path, prom: str, **options: Any) -> MeshplanApp:
    spec = ClusterInput(kubeconfig=api.kubeconfig)
    return MeshplanApp(TuiOptions(spec, write=True, journal_path=str(journal), start="plan",
                                  traffic=TrafficSource(prometheus=prom), settle_s=SETTLE_S,
                                  **options))


async def _apply_strict(pilot: Any, app: MeshplanApp, rise_at: float) -> list[str]:
    """Apply 40-strict-payments through its confirm dialog, confirmed just before the 503s
    rise (at ``rise_at``, epoch seconds); the progress labels seen while it settles."""
    await _press_apply(pilot, app, "40-strict-payments")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="confirm")
    wait = rise_at - 1 - time.time()
    assert wait > 0, "the TUI took longer to start than the calm before the rise"
    await pilot.pause(wait)
    await pilot.press("y")
    seen: list[str] = []
    for _ in range(1200):
        if isinstance(app.screen, PostApplyModal):
            await wait_for(pilot, lambda: bool(app.screen.query(Button)), what="its buttons")
            return seen
        if "settling" in app.busy_label and app.busy_label not in seen:
            seen.append(app.busy_label)
        await pilot.pause(0.05)
    raise AssertionError(f"no post-apply dialog; screen {app.screen}, outcomes "
                         f"{app.outcomes}, failures {app.failures}")


@journey
async def test_a_rise_after_strict_is_said_and_the_rollback_offered(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    require_prometheus()
    journal = tmp_path / "journal.json"
    ready_for_strict(kube_api, journal)
    rise_at = time.time() + RISE_S
    with _storm_prometheus(rise_in_s=RISE_S) as prom:
        app = _tui(kube_api, journal, prom.url)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.states.get("30-enroll-payments") == "applied",
                           what="the journal status")
            seen = await _apply_strict(pilot, app, rise_at)
            # The wait is shown as it goes (the pilot kept running: the UI did not freeze).
            assert len(seen) >= 2 and all(label.endswith(f"/{SETTLE_S}") for label in seen), seen
            modal = app.screen
            assert isinstance(modal, PostApplyModal)
            assert modal.title_str == ("Post-apply check failed: step 40-strict-payments is "
                                       "still applied")
            lines = plain(modal.query_one("#post-apply-lines", Static))
            assert "post-apply check failed: into payments, connection failures" in lines
            assert [b.id for b in modal.query(Button)] == ["rollback", "cancel"]
            assert kube_api.get(POLICIES, "default", "payments") is not None
            await pilot.press("shift+tab")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal),
                           what="the rollback dialog")
            assert app.screen.title_str == "Roll back step 40-strict-payments?"
            await pilot.press("y")
            await wait_for(pilot, lambda: app.states.get("40-strict-payments") ==
                           "rolled back" and not app.busy_label, what="the rollback")
    assert kube_api.get(POLICIES, "default", "payments") is None
    events = journal_steps(journal)["40-strict-payments"]["events"]
    assert any(e["message"].startswith("post-apply check failed") for e in events)


@journey
async def test_auto_rollback_rolls_back_at_once_and_says_so(kube_api: KubeAPIServer,
                                                           tmp_path: Path) -> None:
    require_prometheus()
    journal = tmp_path / "journal.json"
    ready_for_strict(kube_api, journal)
    rise_at = time.time() + RISE_S
    with _storm_prometheus(rise_in_s=RISE_S) as prom:
        app = _tui(kube_api, journal, prom.url, auto_rollback=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.states.get("30-enroll-payments") == "applied",
                           what="the journal status")
            await _apply_strict(pilot, app, rise_at)
            modal = app.screen
            assert isinstance(modal, PostApplyModal)
            assert modal.title_str.endswith("is rolled back (--auto-rollback)")
            assert [str(b.label) for b in modal.query(Button)] == ["Close"]
            await wait_for(pilot, lambda: app.states.get("40-strict-payments") ==
                           "rolled back", what="the journal status")
    assert journal_steps(journal)["40-strict-payments"]["state"] == "rolled back"
    assert kube_api.get(POLICIES, "default", "payments") is None


def test_auto_rollback_needs_prometheus() -> None:
    done = subprocess.run([sys.executable, "-m", "planner", "tui", "-f",
                           "sample_clusters/tiny", "-R", "--auto-rollback"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == ExitCode.USAGE
    assert "--auto-rollback needs --prometheus" in done.stderr
