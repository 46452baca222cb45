"""The human view of ``planner plan`` (Rich). Cluster strings go in as ``Text``, never markup."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from rich.console import Console
from rich.table import Table
from rich.text import Text

from planner.domain.plan import DATAPLANE_WORDS, Action, Plan
from planner.domain.traffic import GateResult
from planner.sinks.untrusted import clean, plain

_SEVERITY_STYLE = {"info": "dim", "warning": "yellow", "error": "red", "critical": "bold red"}
_GATE_STYLE = {"pass": "green", "fail": "red", "unknown": "yellow"}


def render_verdict(console: Console, plan: Plan) -> None:
    """The lines a plan opens with: verdict and score, why, the lighter alternatives when a
    mesh is overkill, how namespaces get their data plane, and what the input could not
    tell."""
    fit = plan.fit
    if fit is not None:
        console.print(plain(f"Verdict: {fit.verdict}  score {fit.score}/100",
                            style="bold yellow" if fit.overkill else "bold"))
        console.print(plain(fit.summary))
        if fit.overkill:
            for alt in fit.alternatives:
                console.print(plain(f"  lighter: {alt.name}: {alt.why}", style="yellow"))
    console.print(plain(f"Data plane: {DATAPLANE_WORDS.get(plan.dataplane, plan.dataplane)}"))
    for note in plan.notes:
        console.print(plain(f"note: {note}", style="dim"))


def render_plan(console: Console, plan: Plan,
                gates: Mapping[str, GateResult] | None = None) -> None:
    """Print the steps in order, then where each namespace ends up. With ``gates`` (observed
    traffic) a ``gate`` column shows each STRICT step's plaintext gate, and the reasons
    follow the table."""
    render_verdict(console, plan)
    table = Table(title=f"Rollout plan (root namespace {plan.root_namespace})",
                  title_justify="left")
    table.add_column("#", justify="right")
    # Step ids are what users type back (apply, --explain): never truncated.
    table.add_column("step", no_wrap=True)
    table.add_column("what", ratio=1, min_width=30)
    table.add_column("changes", no_wrap=True)
    table.add_column("blockers")
    if gates is not None:
        table.add_column("gate")
    for i, step in enumerate(plan.steps, start=1):
        target = step.target.scope
        if step.target.namespace:
            target += f" {step.target.namespace}"
        if step.target.name:
            target += f"/{step.target.name}"
        applies = sum(1 for c in step.apply if c.action is Action.APPLY)
        restarts = sum(1 for c in step.apply if c.action is Action.RESTART)
        changes = f"{applies} apply" + (f", {restarts} restart" if restarts else "")
        blockers = Text()
        counts = Counter(f.code for f in step.blockers)
        for finding in step.blockers:
            if finding.code not in counts:
                continue  # already listed, with its count
            if blockers:
                blockers.append(", ")
            times = counts.pop(finding.code)
            blockers.append(finding.code + (f" x{times}" if times > 1 else ""),
                            style=_SEVERITY_STYLE.get(finding.severity.value, ""))
        what = plain(step.title)
        what.append(f"\n{clean(target)}", style="dim")
        cells: list[Text | str] = [str(i), plain(step.id, style="bold"), what, changes, blockers]
        if gates is not None:
            gate = gates.get(step.id)
            cells.append(plain(gate.status, style=_GATE_STYLE[gate.status]) if gate else "")
        table.add_row(*cells)
    console.print(table)
    for step_id, gate in (gates or {}).items():
        console.print(plain(f"gate {step_id}: {gate.status}: {gate.reason}"
                            + (f"; {gate.proof}" if gate.proof else "")))

    fates = Table(title="Namespaces", title_justify="left")
    for column in ("namespace", "data plane", "ends", "why"):
        fates.add_column(column)
    for fate in plan.namespaces:
        fates.add_row(plain(fate.name), fate.mode, fate.final, plain(fate.reason))
    console.print(fates)
