"""Human and diagram renderings of the call graph: a Rich table, Graphviz DOT and Mermaid.

Every name comes from a cluster and is untrusted: table cells are ``rich.text.Text`` (never
markup; control characters shown as escapes, see :mod:`planner.untrusted`), DOT strings
are quoted with ``"`` and ``\\`` escaped, Mermaid goes through :mod:`planner.sinks.mermaid`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rich.console import Console, RenderableType

from planner.domain.graph import CallGraph, Edge, ManifestCoverage
from planner.sinks.mermaid import flowchart
from planner.sinks.tables import Column, Id, KubeTable
from planner.untrusted import plain

# C1 too: U+009B is a one-byte CSI on some terminals, and DOT output is often just printed.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def evidence_summary(edge: Edge) -> str:
    """``env CART_ADDR (+2 more)``: the strongest evidence and how many others back it."""
    if not edge.evidence:
        return ""
    best = max(edge.evidence, key=lambda e: (e.confidence, e.kind, e.source))
    more = f" (+{len(edge.evidence) - 1} more)" if len(edge.evidence) > 1 else ""
    return f"{best.kind}: {best.source}{more}"


def render_table(console: Console, graph: CallGraph, include_hints: bool = False,
                 observed: bool = False, wide: bool = False) -> None:
    """The call edges as a table, then a one-line count of hints and coverage gaps.
    ``observed`` (traffic was merged) adds each edge's mTLS share (and, ``wide``, its origin);
    ``wide`` adds the strongest evidence of each edge."""
    columns = [Column("caller", whole=True, key=True), Column("callee", whole=True, key=True),
               Column("port", key=True), Column("protocol")]
    if observed:
        columns += [Column("origin", wide=True), Column("mTLS")]
    table = KubeTable("Call graph", [*columns, Column("evidence", wide=True)], wide)
    rows: Iterable[Edge] = (*graph.edges, *graph.hints) if include_hints else graph.edges
    for edge in rows:
        cells: list[RenderableType] = [
                 Id(edge.caller), Id(edge.callee + (" (hint)" if edge.hint else "")),
                 plain("" if edge.port is None else str(edge.port)), plain(edge.protocol)]
        if observed:
            cells += [plain(edge.origin.value),
                      plain(edge.observed.share_text if edge.observed else "-")]
        table.add_row(*cells, plain(evidence_summary(edge)))
    console.print(table)
    console.print(plain(f"{len(graph.edges)} calls, {len(graph.hints)} allowed-traffic hints, "
                       f"{len(graph.coverage)} coverage gaps"))
    for gap in graph.coverage:
        console.print(plain(f"  gap: {gap.workload}: {gap.reason}"))
    render_coverage(console, graph.manifest_coverage)


def render_coverage(console: Console, coverage: ManifestCoverage) -> None:
    """The manifest coverage figure, the blind workloads and the dangling addresses."""
    from planner.sinks.graph_json import coverage_document
    from planner.sinks.report_markdown import coverage_lines

    lines = coverage_lines(coverage_document(coverage))
    console.print(plain(lines[0] + f"; {len(coverage.blind)} blind"))
    for line in lines[1:]:
        console.print(plain(f"  {line}"))


def render_namespace_table(console: Console, graph: CallGraph) -> None:
    """Namespace-to-namespace call counts."""
    table = KubeTable("Namespace graph", [Column("from", whole=True), Column("to", whole=True),
                                          Column("calls", justify="right")])
    for a, b, calls in graph.namespace_graph.edges():
        table.add_row(Id(a), Id(b), plain(str(calls)))
    console.print(table)


def render_explain(console: Console, edges: Sequence[Edge]) -> None:
    """Every piece of evidence of each edge."""
    for edge in edges:
        kind = "hint" if edge.hint else "call"
        console.print(plain(f"{edge.key}  ({kind}, protocol {edge.protocol}, target ports "
                           f"{', '.join(map(str, edge.target_ports)) or '-'})"))
        for ev in edge.evidence:
            console.print(plain(f"  [{ev.confidence:.1f}] {ev.kind}: {ev.source}: {ev.text}"))


def _dot_quote(text: str) -> str:
    return '"' + _CONTROL.sub(" ", text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: CallGraph) -> str:
    """Graphviz DOT of the call graph; hints are dashed."""
    lines = ["digraph calls {", "  rankdir=LR;"]
    for node in graph.nodes:
        shape = {"workload": "box", "service": "ellipse"}.get(node.kind.value, "diamond")
        lines.append(f"  {_dot_quote(node.id)} [shape={shape}];")
    for edge in (*graph.edges, *graph.hints):
        label = f"{edge.port if edge.port is not None else '*'}/{edge.protocol}"
        style = ", style=dashed" if edge.hint else ""
        lines.append(f"  {_dot_quote(edge.caller)} -> {_dot_quote(edge.callee)} "
                     f"[label={_dot_quote(label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def namespaces_to_dot(graph: CallGraph) -> str:
    """Graphviz DOT of the namespace graph, edges labelled with call counts."""
    ng = graph.namespace_graph
    lines = ["digraph namespaces {", "  rankdir=LR;"]
    lines.extend(f"  {_dot_quote(n)};" for n in ng.nodes)
    for a, b, calls in ng.edges():
        lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)} [label={_dot_quote(str(calls))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: CallGraph) -> str:
    """Mermaid flowchart of the call graph; hints are dotted."""
    names = sorted({n.id for n in graph.nodes} | {e.caller for e in graph.edges}
                   | {e.caller for e in graph.hints})
    return flowchart(names, (
        (e.caller, e.callee, f"{e.port if e.port is not None else '*'}/{e.protocol}", e.hint)
        for e in (*graph.edges, *graph.hints)))


def namespaces_to_mermaid(graph: CallGraph) -> str:
    """Mermaid flowchart of the namespace graph."""
    ng = graph.namespace_graph
    return flowchart(list(ng.nodes), ((a, b, str(calls), False) for a, b, calls in ng.edges()))
