"""Observed traffic in the TUI, against a real Prometheus holding the shop ground truth
(tests/traffic/shop_truth.py: a sidecar-less ``unknown`` caller sends plaintext into
``orders``, ``orders/cart`` some into ``data/redis``; storefront and catalog are mutual TLS
only; payments has no series)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Static

from planner.exit_codes import ExitCode
from planner.service import TrafficSource, build_plan, open_apply_session
from tests.traffic.promserver import PromServer, require_prometheus
from tests.traffic.shop_truth import SHOP_TRUTH
from tests.tui.conftest import SIZE, journey, plain, ready, shop_app, wait_for
from tui.screens.graph import GraphScreen, NamespaceScreen
from tui.screens.modals import GateModal
from tui.screens.plan import PlanScreen

pytestmark = pytest.mark.slow

#: How the merged graph names the sidecar-less caller of orders (planner.domain.observed).
UNKNOWN_CALLER = "external:unknown@orders"


@pytest.fixture(scope="module")
def shop_prom() -> Iterator[str]:
    """A real Prometheus holding SHOP_TRUTH as Istio metrics."""
    require_prometheus()
    with PromServer(list(SHOP_TRUTH)) as server:
        yield server.url


@journey
async def test_plaintext_caller_on_the_graph_fails_its_strict_gate(shop_prom: str) -> None:
    app = shop_app(traffic=TrafficSource(prometheus=shop_prom))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.traffic_error == ""
        assert app.analysis.traffic is not None and app.analysis.traffic.has_data
        # Graph: the observed columns are there, and filtering on the unnamed caller finds
        # the one namespace it sends plaintext to.
        await pilot.press("2")
        screen = app.screen
        assert isinstance(screen, GraphScreen)
        table = screen.query_one("#namespaces", DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels[-1] == "observed"
        await pilot.press("slash", *UNKNOWN_CALLER, "enter")
        assert screen.visible_namespaces() == ["orders"]
        report = app.namespace_traffic["orders"]
        assert report.status == "mixed" and report.gate.status == "fail"
        assert [c.caller for c in report.plaintext_callers] == [UNKNOWN_CALLER]
        assert str(table.get_row_at(0)[-1]) == "mixed"
        detail = plain(screen.query_one("#ns-detail", Static))
        assert UNKNOWN_CALLER in detail and "CronJob/orders/nightly-report" in detail
        clean_ns = {ns for ns, r in app.namespace_traffic.items() if r.status == "mtls-only"}
        assert {"storefront", "catalog"} <= clean_ns
        # Its edges: the unnamed caller's edge is telemetry-only, with no mTLS at all.
        await pilot.press("enter")
        assert isinstance(app.screen, NamespaceScreen) and app.screen.namespace == "orders"
        edge = next(e for e in app.screen.edges if e.caller == UNKNOWN_CALLER)
        assert edge.origin.value == "observed" and edge.observed is not None
        assert edge.observed.mtls_share == 0.0
        edges = app.screen.query_one("#edges", DataTable)
        assert str(list(edges.columns.values())[-1].label) == "mTLS share"
        await pilot.press("escape")
        # Plan: orders' plaintext is the sidecar-less caller its port exception is for, so
        # the STRICT gate leaves it out and says so; data's named caller fails its gate.
        await pilot.press("colon", *"plan", "enter")
        plan_screen = app.screen
        assert isinstance(plan_screen, PlanScreen)
        orders = next(s for s in app.plan.steps
                      if s.phase.value == "strict" and s.target.namespace == "orders")
        plan_screen.select_step(orders.id)
        await pilot.pause()
        assert plan_screen.selected_step_id() == orders.id
        assert app.gates[orders.id].status == "pass"
        info = plain(plan_screen.query_one("#step-info", Static))
        assert "left out as the plan keeps the ports they reach PERMISSIVE" in " ".join(
            info.split())
        data = next(s for s in app.plan.steps
                    if s.phase.value == "strict" and s.target.namespace == "data")
        plan_screen.select_step(data.id)
        await pilot.pause()
        assert app.gates[data.id].status == "fail"
        info = plain(plan_screen.query_one("#step-info", Static))
        assert "plaintext gate fail" in info
        assert "orders/cart -> data/redis" in info
        assert "MP301" in info  # the gated plan blocks it, as `planner plan --prometheus` does
        storefront = next(s for s in app.plan.steps
                          if s.phase.value == "strict" and s.target.namespace == "storefront")
        plan_screen.select_step(storefront.id)
        await pilot.pause()
        assert app.gates[storefront.id].status == "pass"
        info = plain(plan_screen.query_one("#step-info", Static))
        assert "plaintext gate pass" in info and UNKNOWN_CALLER not in info
        # No series for payments: unknown, never pass.
        payments = next(s for s in app.plan.steps
                        if s.phase.value == "strict" and s.target.namespace == "payments")
        assert app.gates[payments.id].status == "unknown"
        assert not app.failures


@journey
async def test_apply_refuses_a_strict_step_whose_gate_fails(shop_prom: str,
                                                            tmp_path: Path) -> None:
    out, journal = tmp_path / "out", tmp_path / "journal.json"
    app = shop_app(traffic=TrafficSource(prometheus=shop_prom), write=True, out_dir=str(out),
                   journal_path=str(journal), start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        step = next(s for s in app.plan.steps
                    if s.phase.value == "strict" and s.target.namespace == "data")
        # Its required steps done from "the command line" (same journal and out dir), so the
        # gate is the only thing left between it and the files.
        with open_apply_session(app.analysis, app.apply_plan, write=True,
                                journal_path=str(journal), out_dir=str(out)) as session:
            for required in step.requires:
                session.apply(required, force=True)
        plan_screen = app.screen
        assert isinstance(plan_screen, PlanScreen)
        plan_screen.select_step(step.id)
        await pilot.press("a")
        # The gate comes first, before any Apply: the dialog has only the explicit override.
        await wait_for(pilot, lambda: isinstance(app.screen, GateModal),
                       what="the gate dialog")
        modal = app.screen
        assert isinstance(modal, GateModal) and modal.step_id == step.id
        assert modal.title_str == f"Gate fail: step {step.id} is refused"
        assert "plaintext gate fail" in plain(modal.query_one("#gate-detail", Static))
        assert "orders/cart -> data/redis" in plain(modal.query_one("#gate-detail", Static))
        assert [b.id for b in modal.query(Button)] == ["force", "cancel"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.busy_label, what="the apply worker")
        assert app.states.get(step.id, "pending") == "pending"
        assert step.id not in app.outcomes and not (out / step.id).exists()  # never tried
        assert not app.failures


@journey
async def test_dataplane_follows_the_assessment_and_the_plan_screen_opens_with_the_verdict(
) -> None:
    app = shop_app(start="plan")  # no --dataplane: as assess recommends
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        recommended = {ns: choice.mode for ns, choice in app.assessment.dataplane.items()}
        modes = {f.name: f.mode for f in app.plan.namespaces}
        # Namespaces that already inject sidecars keep them; a new one (payments) follows
        # the recommendation.
        assert recommended["payments"] == modes["payments"] == "ambient"
        assert modes == {f.name: f.mode for f in build_plan(app.analysis).namespaces}
        assert {f.name: f.mode for f in build_plan(
            app.analysis, dataplane="sidecar").namespaces}["payments"] == "sidecar"
        verdict = plain(app.screen.query_one("#plan-verdict", Static))
        assert verdict.startswith(f"Verdict: {app.assessment.verdict}  score "
                                  f"{app.assessment.score}/100")
        assert "as `planner assess` recommends per namespace" in verdict
        # Without traffic every STRICT step's gate is unknown (no proof), never pass.
        assert app.gates and {g.status for g in app.gates.values()} == {"unknown"}
        assert not app.failures


@journey
async def test_dataplane_flag_overrides_the_recommendation_with_its_reason() -> None:
    app = shop_app(dataplane="sidecar", start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        payments = next(f for f in app.plan.namespaces if f.name == "payments")
        assert payments.mode == "sidecar"
        assert payments.reason == ("sidecar, chosen with --dataplane sidecar "
                                   "(assess recommends ambient)")
        verdict = plain(app.screen.query_one("#plan-verdict", Static))
        assert ("Data plane: sidecar in 5 namespaces (4 kept as labelled; the rest by "
                "--dataplane sidecar)") in verdict
        assert app.plan.cost is not None
        assert f"Cost of this plan: {app.plan.cost.proxies} proxies" in verdict
        assert not app.failures


@journey
async def test_nodes_reach_the_plans_cost() -> None:
    """`planner tui --nodes 7`: the plan screen prices ztunnel for 7 nodes, not the shop's 2
    Node objects (the answer is one of the profile's, as on the assess screen)."""
    app = shop_app(overrides={"nodes": 7}, start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.plan.cost is not None
        ztunnel = next(line for line in app.plan.cost.lines if line.component == "ztunnel")
        assert ztunnel.count == 7
        verdict = plain(app.screen.query_one("#plan-verdict", Static))
        assert f"Cost of this plan: {app.plan.cost.proxies} proxies" in verdict
        assert not app.failures


def test_cli_takes_the_traffic_and_dataplane_options() -> None:
    from click.testing import CliRunner

    from planner.cli import cli

    runner = CliRunner()
    help_text = runner.invoke(cli, ["tui", "--help"]).output
    for option in ("--prometheus", "--prometheus-token-file", "--prometheus-ca", "--window",
                   "--traffic", "--dataplane", "--nodes"):
        assert option in help_text
    # Refused before the screen is taken over, with the input error every command gives.
    both = runner.invoke(cli, ["tui", "-f", "sample_clusters/shop", "--prometheus",
                               "http://127.0.0.1:1", "--traffic", "x.json"])
    assert both.exit_code == ExitCode.INPUT_ERROR and "not both" in both.output


@journey
async def test_a_strict_step_applied_without_gate_says_so(tmp_path: Path) -> None:
    """`planner apply 40-strict-... --no-gate` is recorded; the TUI's plan shows it."""
    from planner.service import ManifestInput, analyse

    out, journal = tmp_path / "out", tmp_path / "journal.json"
    analysis = analyse(ManifestInput(("sample_clusters/shop",), recursive=True))
    plan = build_plan(analysis)
    step = next(s for s in plan.steps
                if s.phase.value == "strict" and s.target.namespace == "storefront")
    with open_apply_session(analysis, plan, write=True, journal_path=str(journal),
                            out_dir=str(out)) as session:
        for required in step.requires:
            session.apply(required, force=True)
        session.apply(step.id, no_gate=True)
    app = shop_app(write=True, out_dir=str(out), journal_path=str(journal), start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.states.get(step.id) == "written",
                       what="the journal's states")
        plan_screen = app.screen
        assert isinstance(plan_screen, PlanScreen)
        plan_screen.select_step(step.id)
        await pilot.pause()
        info = plain(plan_screen.query_one("#step-info", Static))
        assert "applied without gate (--no-gate)" in info
        assert not app.failures
