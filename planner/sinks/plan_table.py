"""The human view of ``planner plan`` (Rich). Cluster strings go in as ``Text``, never markup."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from rich.console import Console, RenderableType
from rich.text import Text

from planner.domain.plan import (
    GATED_PHASES,
    Action,
    NamespaceMode,
    Plan,
    Proof,
    Step,
)
from planner.domain.traffic import GateResult
from planner.domain.whatif import WhatIf
from planner.sinks.assessment_json import cost_option_body
from planner.sinks.plan_json import readiness
from planner.sinks.report_summary import cost_words, dataplane_words
from planner.sinks.tables import Column, Id, KubeTable
from planner.untrusted import plain

_SEVERITY_STYLE = {"info": "dim", "warning": "yellow", "error": "red", "critical": "bold red"}
#: The gate cell of a gated step when no traffic source was given: its gate cannot run.
NO_SOURCE = "no source"
_GATE_STYLE = {"pass": "green", "fail": "red", "unknown": "yellow", "ready": "green",
               "unproven": "yellow", NO_SOURCE: "yellow"}


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
    for line in dataplane_lines(plan):
        console.print(plain(line))
    for note in plan.notes:
        console.print(plain(f"note: {note}", style="dim"))


def dataplane_lines(plan: Plan) -> list[str]:
    """``Data plane: ...`` (what the plan enrolls, and how it chose) and, when the plan was
    priced, ``Cost of this plan: ...``, the resources the mesh it leaves adds."""
    enrolled = ((f.mode.value, f.already) for f in plan.namespaces
                if f.mode is not NamespaceMode.OUTSIDE)
    words = dataplane_words(enrolled, plan.dataplane,
                            "as `planner assess` recommends per namespace")
    lines = [f"Data plane: {words}"]
    if plan.cost is not None:
        lines.append(f"Cost of this plan: {cost_words(cost_option_body(plan.cost))} "
                     "(`planner assess` compares the options)")
    return lines


def blocker_cell(step: Step) -> Text:
    """``MP201 x2, MP205``: each blocker code once, with its count, styled by severity."""
    cell = Text()
    counts = Counter(f.code for f in step.blockers)
    for finding in step.blockers:
        if finding.code not in counts:
            continue  # already listed, with its count
        if cell:
            cell.append(", ")
        times = counts.pop(finding.code)
        cell.append(finding.code + (f" x{times}" if times > 1 else ""),
                    style=_SEVERITY_STYLE.get(finding.severity.value, ""))
    return cell


def changes_cell(step: Step, separator: str = "\n") -> str:
    """``1 apply`` and, when the step restarts workloads, ``3 restart``, joined by
    ``separator``. One count a line by default: the table's column stays narrow (its widest
    line, "5 restart", kept whole)."""
    applies = sum(1 for c in step.apply if c.action is Action.APPLY)
    restarts = sum(1 for c in step.apply if c.action is Action.RESTART)
    return f"{applies} apply" + (f"{separator}{restarts} restart" if restarts else "")


def render_plan(console: Console, plan: Plan,
                gates: Mapping[str, GateResult] | None = None, wide: bool = False) -> None:
    """Print the steps in order, then where each namespace ends up. With ``gates`` (observed
    traffic) a ``gate`` column shows each STRICT step's plaintext gate, and the reasons
    follow the table. ``wide`` adds what each step does and its exact target."""
    render_verdict(console, plan)
    columns = [Column("#", wide=True, justify="right", key=True),
               Column("step", whole=True, key=True),
               Column("namespace", whole=True),
               Column("what", wide=True), Column("target", wide=True),
               # "1 apply" over "3 restart": the count and its verb on one line.
               Column("changes", whole=True), Column("blockers")]
    # Without traffic the gate column says what the manifests alone can prove, and that no
    # gate can run on a step whose only proof would be traffic (mesh-wide STRICT,
    # authorization enforce): a blank would read as "nothing to check".
    ungated = [] if gates is not None else [s.id for s in plan.steps if s.phase in GATED_PHASES]
    if gates is not None or ungated:
        columns.append(Column("gate"))
    table = KubeTable(f"Rollout plan (root namespace {plan.root_namespace})", columns, wide)
    for i, step in enumerate(plan.steps, start=1):
        target = " ".join(part for part in (step.target.scope, step.target.name) if part)
        # Step ids are what users type back (apply, --explain): folded when long, never cut.
        cells: list[RenderableType] = [
            str(i), Id(step.id, style="bold"), Id(step.target.namespace or "-"),
            plain(step.title), plain(target), changes_cell(step), blocker_cell(step)]
        if gates is not None:
            gate = gates.get(step.id)
            cells.append(plain(gate.status, style=_GATE_STYLE[gate.status]) if gate else "")
        elif ungated:
            status = (readiness(step) if step.proof else
                      NO_SOURCE if step.phase in GATED_PHASES else "")
            cells.append(plain(status, style=_GATE_STYLE.get(status, "")))
        table.add_row(*cells)
    console.print(table)
    unproven = [s for s in plan.steps if gates is None and s.proof == Proof.OBSERVED_TRAFFIC]
    for step in unproven:
        console.print(plain(f"unproven {step.id}: {len(step.blind)} blind workload(s) "
                            f"({', '.join(step.blind)}); the manifests cannot show every "
                            "caller: enroll, observe traffic (--prometheus or --traffic), "
                            "then STRICT"))
    if ungated:
        console.print(plain(f"no traffic source: the gates of {len(ungated)} step(s) cannot run "
                            "without observed traffic (--prometheus URL or --traffic FILE); "
                            "`planner apply` refuses them without one unless --no-gate: "
                            + ", ".join(ungated), style="yellow"))
    for step_id, gate in (gates or {}).items():
        console.print(plain(f"gate {step_id}: {gate.status}: {gate.reason}"
                            + (f"; {gate.proof}" if gate.proof else "")))
    for step in plan.steps:
        what_if = plan.what_if.get(step.id)
        if what_if is not None:
            _print_what_if(console, step.id, what_if)

    fates = KubeTable("Namespaces", [Column("namespace", whole=True), Column("data plane"),
                                     Column("ends"), Column("why")], wide)
    for fate in plan.namespaces:
        fates.add_row(Id(fate.name), fate.mode, fate.final, plain(fate.reason))
    console.print(fates)


#: Calls listed per step under the table; `planner what-if` lists them all, with evidence.
WHAT_IF_SHOWN = 5


def _print_what_if(console: Console, step_id: str, what_if: WhatIf) -> None:
    """One line per step saying what would break if it were applied now, then the first
    calls that would."""
    breaking = what_if.breaking
    if not breaking and not what_if.edges:
        if what_if.no_effect:
            console.print(plain(f"what-if now {step_id}: no effect yet ("
                                f"{what_if.no_effect[0].reason})", style="dim"))
        return
    console.print(plain(f"what-if now {step_id}: {len(breaking)} of {len(what_if.edges)} "
                        "call(s) would break", style="red" if breaking else "green"))
    for edge in breaking[:WHAT_IF_SHOWN]:
        codes = ", ".join(r.code for r in edge.reasons)
        port = "?" if edge.container_port is None else edge.container_port
        console.print(plain(f"  {edge.caller} -> {edge.callee}:{port} ({codes})"))
    if len(breaking) > WHAT_IF_SHOWN:
        console.print(plain(f"  ... and {len(breaking) - WHAT_IF_SHOWN} more (planner what-if)",
                            style="dim"))
