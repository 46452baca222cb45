"""The plan's authorization phases in the TUI (``planner tui --authz``), with Textual's pilot:
the plan table lists them, the step detail shows the policies and the would-be-denials gate,
and apply, the gate dialog and rollback work as for the STRICT steps.

Traffic is a CSV export of the shop ground truth (tests/traffic/shop_truth.py): storefront's
observed callers are all named by its policies (gate pass), orders receives a caller without a
sidecar (gate fail). Manifest mode: steps are written as GitOps files under ``out``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Button, DataTable, Static

from planner.service import TrafficSource, open_apply_session
from tests.apply.journal_doc import journal_steps
from tests.traffic.shop_truth import write_csv
from tests.tui.conftest import SIZE, journey, plain, ready, shop_app, wait_for
from tui.app import MeshplanApp
from tui.screens.modals import ConfirmModal, GateModal
from tui.screens.plan import PlanScreen

DRY_RUN = "70-authz-dry-run-storefront"
ENFORCE = "80-authz-enforce-storefront"


async def _show(pilot: Any, app: MeshplanApp, step_id: str) -> tuple[str, str]:
    screen = app.screen
    assert isinstance(screen, PlanScreen)
    screen.select_step(step_id)
    await pilot.pause()
    return (plain(screen.query_one("#step-info", Static)),
            plain(screen.query_one("#step-yaml", Static)))


async def _apply(pilot: Any, app: MeshplanApp, step_id: str) -> None:
    """Apply the selected step through its confirm dialog; the TUI verifies it right after,
    which in manifest mode says the files are written (no cluster was read)."""
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="confirm")
    await pilot.press("y")
    await wait_for(pilot, lambda: app.states.get(step_id) == "written" and not app.busy_label,
                   what=f"{step_id} written ({app.outcomes.get(step_id)})")


@journey
async def test_authz_phases_in_the_plan_screen_apply_gate_and_rollback(tmp_path: Path) -> None:
    out, journal = tmp_path / "out", tmp_path / "journal.json"
    traffic = TrafficSource(traffic_file=str(write_csv(tmp_path / "edges.csv")))
    app = shop_app(traffic=traffic, write=True, out_dir=str(out), journal_path=str(journal),
                   start="plan", authz=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = app.screen.query_one("#steps", DataTable)
        ids = [s.id for s in app.plan.steps]
        assert table.row_count == len(ids)
        assert ids.index("60-mesh-strict") < ids.index(DRY_RUN) < ids.index(ENFORCE)
        assert app.gates[ENFORCE].status == "pass"
        assert app.gates["80-authz-enforce-orders"].status == "fail"

        info, policies = await _show(pilot, app, ENFORCE)
        assert "would-be denials gate pass" in info
        assert "kind: AuthorizationPolicy" in policies and "name: bff-allow" in policies
        assert "istio.io/dry-run" not in policies
        info, policies = await _show(pilot, app, DRY_RUN)
        assert "istio.io/dry-run: 'true'" in policies or 'istio.io/dry-run: "true"' in policies

        with open_apply_session(app.analysis, app.apply_plan, write=True,
                                journal_path=str(journal), out_dir=str(out)) as s:
            s.apply("60-mesh-strict", force=True, no_gate=True)
        await _apply(pilot, app, DRY_RUN)
        assert (out / DRY_RUN).is_dir()
        await _show(pilot, app, ENFORCE)
        await _apply(pilot, app, ENFORCE)
        assert journal_steps(journal)[ENFORCE]["gate"] == "passed"

        # orders: the gate fails first, with the caller no principal names.
        await _show(pilot, app, "70-authz-dry-run-orders")
        await _apply(pilot, app, "70-authz-dry-run-orders")
        await _show(pilot, app, "80-authz-enforce-orders")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, GateModal), what="gate dialog")
        modal = app.screen
        assert isinstance(modal, GateModal)
        assert modal.title_str == "Gate fail: step 80-authz-enforce-orders is refused"
        assert plain(modal.query_one("#gate-verdict", Static)).startswith(
            "The policies would deny callers")
        detail = plain(modal.query_one("#gate-detail", Static))
        assert "would-be denials gate fail" in detail and "not named by the policy" in detail
        assert [b.id for b in modal.query(Button)] == ["force", "cancel"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, GateModal), what="close")
        assert app.states.get("80-authz-enforce-orders", "pending") == "pending"

        # Rolling back the dry run needs its enforcement gone first: the dialog cascades.
        await _show(pilot, app, DRY_RUN)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="confirm")
        assert app.screen.title_str == (f"Roll back {DRY_RUN} and the 1 step(s) that depend "
                                        "on it?")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.states.get(DRY_RUN) == "rolled back"
                       and not app.busy_label, what="the rollback")
        assert app.states[ENFORCE] == "rolled back"
        assert not [f for f in app.failures if not f.expected], app.failures


@journey
async def test_a_tui_without_authz_lists_and_rolls_back_a_journaled_authz_step(
        tmp_path: Path) -> None:
    from planner.service import ManifestInput, analyse, build_plan

    out, journal = tmp_path / "out", tmp_path / "journal.json"
    analysis = analyse(ManifestInput(("sample_clusters/shop",), recursive=True))
    with open_apply_session(analysis, build_plan(analysis, authz=True), write=True,
                            journal_path=str(journal), out_dir=str(out)) as s:
        s.apply("60-mesh-strict", force=True, no_gate=True)
        s.apply(DRY_RUN, force=True)
    app = shop_app(write=True, out_dir=str(out), journal_path=str(journal), start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.states.get(DRY_RUN) == "written", what="states")
        assert DRY_RUN not in {s.id for s in app.plan.steps}
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        table = screen.query_one("#steps", DataTable)
        assert table.row_count == len(app.plan.steps) + 1
        assert str(table.get_row(DRY_RUN)[3]) == (
            "journal only")
        info, policies = await _show(pilot, app, DRY_RUN)
        assert "built with --authz" in info and "u rolls it back" in info
        assert not policies.strip()

        # Mesh-wide STRICT cannot go from under it: the rollback cascades through it.
        await _show(pilot, app, "60-mesh-strict")
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="confirm")
        assert app.screen.title_str == ("Roll back 60-mesh-strict and the 1 step(s) that "
                                        "depend on it?")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmModal), what="close")

        await _show(pilot, app, DRY_RUN)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), what="confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.states.get(DRY_RUN) == "rolled back"
                       and not app.busy_label, what="the rollback")
        assert not (out / DRY_RUN).exists() or not any((out / DRY_RUN).glob("*.yaml"))
        assert not [f for f in app.failures if not f.expected], app.failures
