"""Whole journeys through the TUI with Textual's pilot, asserting on app state."""

from __future__ import annotations

import json
import threading

import pytest
from click.testing import CliRunner
from textual.widgets import DataTable, Select, Static

from planner.cli import cli
from tests.tui.conftest import SIZE, journey, plain, ready, shop_app, wait_for
from tui.actions import ACTIONS, BY_COMMAND, available, markdown_table, parse_command
from tui.app import MeshplanApp
from tui.options import TuiOptions
from tui.screens.assess import AssessScreen
from tui.screens.graph import EdgeScreen, GraphScreen, NamespaceScreen
from tui.screens.modals import HelpScreen
from tui.screens.plan import PlanScreen


@journey
async def test_read_the_verdict_and_answer_a_question() -> None:
    app = shop_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, AssessScreen)
        verdict = plain(app.screen.query_one("#verdict", Static))
        assert app.assessment.verdict in verdict
        assert f"score {app.assessment.score}/100" in verdict
        assert app.screen.query_one("#factors", DataTable).row_count == len(
            app.assessment.factors)
        before = app.assessment
        unknown = {u.field for u in before.unknowns}
        assert "platform_engineers" in unknown
        # Answer "none" to the platform-team question: the verdict is recomputed in a worker.
        app.screen.query_one("#q-platform_engineers", Select).value = 0
        await wait_for(pilot, lambda: app.assessment is not before and not app.reassessing,
                       what="the re-assessment")
        assert app.overrides == {"platform_engineers": 0}
        assert app.assessment.profile.platform_engineers == 0
        assert "platform_engineers" not in {u.field for u in app.assessment.unknowns}
        expected = {o.answer: o.score for u in before.unknowns
                    if u.field == "platform_engineers" for o in u.outcomes}
        assert app.assessment.score == expected["none"]
        # The plan is rebuilt with the answer: it opens with the new verdict, the one
        # `planner plan --platform-engineers 0` opens with, and the apply engine gets it.
        planned = CliRunner().invoke(cli, ["plan", "-f", "sample_clusters/shop", "-R",
                                           "--platform-engineers", "0", "-o", "json"])
        fit = json.loads(planned.stdout)["fit"]
        assert app.plan.fit is not None and app.apply_plan is not None
        assert (app.plan.fit.score, app.plan.fit.summary) == (fit["score"], fit["summary"])
        assert app.apply_plan.fit == app.plan.fit
        await pilot.press("3")
        verdict = plain(app.screen.query_one("#plan-verdict", Static))
        assert f"Verdict: {fit['verdict']}  score {fit['score']}/100" in verdict
        assert not app.failures


@journey
async def test_no_answer_or_rescan_replaces_the_plan_under_a_running_step() -> None:
    """An answer re-plans as ctrl+r does; while a step is applied (its worker uses the apply
    session a new plan would close) both are refused with a warning, and the drop-down shows
    the answer in force; once the step is done the answer is taken."""
    app = shop_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        analysis, before = app.analysis, app.assessment
        done = threading.Event()
        app.run_worker(lambda: done.wait(30), thread=True, group="apply", name="step")
        question = app.screen.query_one("#q-platform_engineers", Select)
        question.value = 0
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause(0.3)
        warnings = [n.message for n in app._notifications]
        assert warnings == ["a step is running: answer when it is done",
                            "a step is running: rescan when it is done"]
        assert app.overrides == {} and question.value == Select.BLANK
        assert (app.analysis, app.assessment) == (analysis, before) and not app.reassessing
        done.set()
        await wait_for(pilot, lambda: not any(w.name == "step" for w in app.workers),
                       what="the step's worker")
        question.value = 0
        await wait_for(pilot, lambda: app.assessment is not before and not app.reassessing,
                       what="the re-assessment")
        assert app.overrides == {"platform_engineers": 0} and app.analysis is not analysis
        assert not app.failures


@journey
async def test_answer_flags_reach_the_screens(monkeypatch: pytest.MonkeyPatch) -> None:
    """`planner tui --compliance-mtls --platform-engineers 2 --nodes 3`: the flags reach the
    app as they reach `planner report` (overriding the profile): the assess screen's answers,
    its verdict and the plan's opening verdict and cost are the report's with the same flags."""
    started: list[TuiOptions] = []
    monkeypatch.setattr("tui.app.run", started.append)
    flags = ["-f", "sample_clusters/tiny", "--compliance-mtls", "--platform-engineers", "2",
             "--nodes", "3"]
    launched = CliRunner().invoke(cli, ["tui", *flags, "--screen", "plan"])
    assert launched.exit_code == 0, launched.output
    [options] = started
    assert options.overrides == {"compliance_mtls": True, "platform_engineers": 2, "nodes": 3}
    report = CliRunner().invoke(cli, ["report", *flags, "--json"])
    assert report.exit_code == 0, report.output
    expected = json.loads(report.stdout)["assessment"]
    assert expected["verdict"] == "mesh-optional"  # unanswered, tiny is mesh-overkill
    app = MeshplanApp(options)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, PlanScreen)
        verdict = plain(app.screen.query_one("#plan-verdict", Static))
        assert f"Verdict: {expected['verdict']}  score {expected['score']}/100" in verdict
        assert app.plan.cost is not None
        assert {line.component: line.count for line in app.plan.cost.lines}["ztunnel"] == 3
        await pilot.press("1")
        assert isinstance(app.screen, AssessScreen)
        assert (app.assessment.verdict, app.assessment.score) == (expected["verdict"],
                                                                  expected["score"])
        answers = {field: app.screen.query_one(f"#q-{field}", Select).value
                   for field in ("compliance_mtls", "platform_engineers",
                                 "observability_needed")}
        assert answers == {"compliance_mtls": True, "platform_engineers": 2,
                           "observability_needed": Select.BLANK}
        assert not app.failures


@journey
async def test_find_the_namespace_with_a_plaintext_caller_and_its_evidence() -> None:
    app = shop_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("2")
        assert isinstance(app.screen, GraphScreen)
        table = app.screen.query_one("#namespaces", DataTable)
        assert table.row_count == len(app.analysis.scan.inventory.namespaces)
        # Filter the namespaces down to the ones called by a caller outside the mesh.
        await pilot.press("slash", *"prometheus", "enter")
        shown = {app.screen._rows[int(k.value)][0] for k in table.rows}
        expected = {ns.name for ns in app.analysis.scan.inventory.namespaces
                    if any("prometheus" in c for c in
                           app.analysis.graph.inbound_callers(ns.name)["not_meshed"])}
        assert shown == expected and "storefront" in shown
        # The inverse filter hides them.
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"!prometheus", "enter")
        assert not {app.screen._rows[int(k.value)][0] for k in table.rows} & expected
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")
        # :ns storefront drills in; the edges show the not-meshed caller.
        await pilot.press("colon", *"ns storefront", "enter")
        assert isinstance(app.screen, NamespaceScreen)
        assert app.screen.namespace == "storefront"
        plaintext = app.analysis.graph.inbound_callers("storefront")["not_meshed"]
        edges = app.screen.edges
        index = next(i for i, e in enumerate(edges) if e.caller in plaintext)
        edge_table = app.screen.query_one("#edges", DataTable)
        edge_table.move_cursor(row=edge_table.get_row_index(str(index)))
        await pilot.press("enter")
        assert isinstance(app.screen, EdgeScreen)
        assert app.screen.edge.caller in plaintext
        assert app.screen.query_one("#evidence", DataTable).row_count == len(
            app.screen.edge.evidence) > 0
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, GraphScreen)
        assert not app.failures


@journey
async def test_step_through_the_plan_read_only() -> None:
    app = shop_app(start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, PlanScreen)
        steps = app.plan.steps
        table = app.screen.query_one("#steps", DataTable)
        assert table.row_count == len(steps)
        assert app.progress_label == f"step 1 of {len(steps)}"
        seen = []
        for _ in range(len(steps)):
            seen.append(app.screen.selected_step_id())
            info = plain(app.screen.query_one("#step-info", Static))
            assert "why:" in info
            await pilot.press("down")
        assert seen == [s.id for s in steps]
        # A step with blockers shows them with their fixes.
        blocked = next(s for s in steps if s.blockers)
        app.screen.select_step(blocked.id)
        await pilot.pause()
        info = plain(app.screen.query_one("#step-info", Static))
        assert blocked.blockers[0].code in info and "fix:" in info
        # Dangerous actions are absent in read-only mode: no binding, no command.
        assert app.check_action("apply_step", ()) is False
        assert app.check_action("rollback_step", ()) is False
        await pilot.press("a")
        assert set(app.states.values()) <= {"pending"} and isinstance(app.screen, PlanScreen)
        await pilot.press("colon", *"apply", "enter")
        assert any("needs --write" in n.message for n in app._notifications)
        assert set(app.states.values()) <= {"pending"}
        active = {ab.binding.action for ab in app.active_bindings.values()}
        assert "apply_step" not in active and "rollback_step" not in active
        assert "preview_step" in active


@journey
async def test_help_palette_and_command_line_come_from_one_table() -> None:
    app = shop_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = app.screen.query_one("#help-table", DataTable).row_count
        assert rows == len(available(False)) < len(ACTIONS)
        await pilot.press("escape")
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert any("Plan" in c for c in commands)
        assert not any("Apply" in c for c in commands)
        await pilot.press("colon", *"plan", "enter")
        assert isinstance(app.screen, PlanScreen)
        await pilot.press("colon", *"graph", "enter")
        assert isinstance(app.screen, GraphScreen)
        await pilot.press("colon", *"nonsense", "enter")
        assert isinstance(app.screen, GraphScreen)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not app.busy_label and app.assessment is not None,
                       what="the rescan")
        assert not app.failures
        await pilot.press("colon", "q", "enter")
    assert app.return_code in (0, None)


def test_command_parsing_and_the_docs_table() -> None:
    assert parse_command(":ns shop")[0] is BY_COMMAND["ns"]
    assert parse_command("ns shop")[1] == "shop"
    assert parse_command(":quit")[0] is BY_COMMAND["q"]
    assert parse_command(":what")[0] is None
    from tests.tui.conftest import ROOT

    docs = (ROOT / "docs" / "tui.md").read_text(encoding="utf-8")
    assert markdown_table() in docs, "docs/tui.md's key table is stale: paste markdown_table()"


@journey
async def test_errors_become_notifications_not_crashes(tmp_path) -> None:
    from planner.service import ManifestInput
    from tui.app import MeshplanApp
    from tui.options import TuiOptions

    app = MeshplanApp(TuiOptions(ManifestInput((str(tmp_path / "missing"),))))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: bool(app.failures), what="the scan error")
        assert app.failures[0].expected
        assert app.analysis is None
        await pilot.press("3", "2", "1")
        assert app.is_running


@journey
async def test_strict_step_detail_lists_its_what_if() -> None:
    """The step detail says which calls would break if the step were applied now: the same
    calls `planner what-if` gives for the step's policies."""
    app = shop_app(start="plan")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, PlanScreen)
        what_if = app.plan.what_if["40-strict-storefront"]
        assert what_if.breaking
        app.screen.select_step("40-strict-storefront")
        await pilot.pause()
        info = plain(app.screen.query_one("#step-info", Static))
        assert f"what-if now {len(what_if.breaking)} of {len(what_if.edges)} call(s)" in info
        for edge in what_if.breaking:
            assert f"{edge.caller} → {edge.callee}:{edge.container_port}" in info
        assert "probe-not-rewritten" in info
        # A namespace that is not enrolled yet: the step would have no effect now.
        app.screen.select_step("40-strict-payments")
        await pilot.pause()
        info = plain(app.screen.query_one("#step-info", Static))
        assert "no effect now: namespace payments is not enrolled" in info
        # Steps that change no policy have none.
        app.screen.select_step("30-enroll-storefront")
        await pilot.pause()
        assert "what-if now" not in plain(app.screen.query_one("#step-info", Static))
