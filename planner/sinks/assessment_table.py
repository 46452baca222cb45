"""The human view of ``planner assess`` (Rich): verdict, factors, unknowns, data plane, costs.
Cluster strings go in as ``Text``, never markup."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from planner.domain.fit import Assessment
from planner.domain.verdict import Verdict
from planner.sinks.tables import Column, Id, KubeTable
from planner.untrusted import clean, plain

#: Evidence objects shown per row; the JSON output has them all.
EVIDENCE_SHOWN = 3
_VERDICT_STYLE = {Verdict.OVERKILL: "bold yellow", Verdict.OPTIONAL: "bold cyan"}


def _evidence(objects: tuple[str, ...]) -> Id:
    shown = list(objects[:EVIDENCE_SHOWN])
    if len(objects) > EVIDENCE_SHOWN:
        shown.append(f"+{len(objects) - EVIDENCE_SHOWN} more")
    return Id(" ".join(shown))


def _cpu(millicores: int) -> str:
    return f"{millicores / 1000:g} vCPU"


def _memory(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:g} MiB"


def render_assessment(console: Console, assessment: Assessment, source: str,
                      wide: bool = False) -> None:
    """Print the verdict and the tables behind it. ``wide`` adds each factor's threshold and
    evidence, each namespace's reasons and each cost line's assumption."""
    a = assessment
    console.print(plain(f"Source: {source}", style="bold"))
    console.print(Text.assemble(
        "Verdict: ", (a.verdict, _VERDICT_STYLE.get(a.verdict, "bold green")),
        f"  score {a.score}/100"))

    factors = KubeTable("Factors", [
        Column("code", key=True), Column("factor"), Column("value"), Column("threshold", wide=True),
        Column("weight", justify="right"), Column("evidence", wide=True)], wide)
    for f in a.factors:
        factors.add_row(f.code, plain(f.title), plain(f.value), plain(f.threshold),
                        f"{f.weight:+g}", _evidence(f.objects))
    console.print(factors)
    for f in a.factors:
        console.print(plain(f"{f.code}: {f.message}", style="dim"))

    for u in a.unknowns:
        console.print(plain(f"unknown: {u.question} ({u.field}); counted as no effect. "
                           f"If answered: {u.effect}", style="yellow"))
    for alt in a.alternatives:
        console.print(plain(f"Lighter alternative: {alt.name}. {alt.why}"))

    planes = KubeTable("Data plane per namespace", [
        Column("namespace", whole=True), Column("mode"), Column("pods", justify="right"),
        Column("waypoint (ambient)"), Column("reasons", wide=True)], wide)
    for c in a.namespaces:
        waypoint = "-"
        if c.waypoint is not None:
            waypoint = (f"service accounts: {', '.join(c.waypoint.service_accounts)}"
                        if c.waypoint.service_accounts else "namespace")
        planes.add_row(Id(c.namespace), c.mode, str(c.pods), Id(waypoint),
                       Text("\n".join(clean(r) for r in c.reasons)))
    console.print(planes)

    costs = KubeTable("Resource cost (requests added)", [
        Column("option", key=True), Column("component", key=True), Column("count", justify="right"),
        Column("CPU", justify="right"), Column("memory", justify="right"),
        Column("assumption", wide=True)], wide)
    for option in a.costs.options:
        for line in option.lines:
            costs.add_row(option.name, line.component, str(line.count),
                          _cpu(line.cpu_millicores), _memory(line.memory_mib),
                          plain(line.assumption))
        costs.add_row(plain(option.name, style="bold"), plain("total", style="bold"),
                      str(option.proxies), _cpu(option.cpu_millicores),
                      _memory(option.memory_mib), "", end_section=True)
    console.print(costs)
    for assumption in a.costs.assumptions:
        console.print(plain(f"assumption: {assumption}", style="dim"))
