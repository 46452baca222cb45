"""Graph: namespaces with their mTLS status and inbound callers, drilled into services and
edges, then into one edge's evidence; plus the namespace graph drawn as adjacency lines.

With observed traffic (``planner tui --prometheus``/``--traffic``) namespaces also show their
observed mTLS status and plaintext callers, and edges their mTLS share; edges always show
their origin (inferred from manifests, observed, or both)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Label, Static

from planner.domain import policy
from planner.domain.graph import CallGraph, Edge, NodeKind
from planner.domain.inventory import Service
from planner.sinks.tables import Id
from planner.untrusted import clean
from tui.actions import EDGE, GRAPH, NAMESPACE
from tui.format import GATE_STYLE, matches, safe, wrapping
from tui.rows import Row, TableFeed, row
from tui.screens.base import MeshScreen, set_columns

if TYPE_CHECKING:
    from planner.domain.analysis import Analysis
    from planner.domain.observed import NamespaceTraffic
    from planner.domain.plan import Plan

#: Who the callers are (meshed, not meshed, seen in plaintext) is in the detail under the
#: table: as columns they would push it past an 80-column terminal.
NAMESPACE_COLUMNS = ("namespace", "enrolled", "mTLS now", "plan ends", "not meshed")
#: Added after NAMESPACE_COLUMNS when the session has observed traffic.
OBSERVED_COLUMNS = ("observed",)
EDGE_COLUMNS = ("caller → callee", "port", "protocol", "origin", "evidence")
#: Columns whose text wraps at this width (their rows grow), so that each table fits 80
#: columns.
WRAPPED = {"mTLS now": 11, "plan ends": 11, "observed": 10, "caller → callee": 24,
           "evidence": 10}
OBSERVED_STYLE = {"mtls-only": "green", "mixed": "bold yellow", "plaintext-only": "bold red",
                  "unverified": "yellow", "no-data": "dim"}


def mtls_status(analysis: Analysis, plan: Plan | None) -> dict[str, str]:
    """Namespace -> its mTLS status today, as the PeerAuthentications and labels read."""
    inventory = analysis.scan.inventory
    root = plan.root_namespace if plan is not None else analysis.context.root_namespace
    effective = policy.effective_policies(inventory, root)
    mesh_mode = policy.mtls_mode(effective.mesh_wide) if effective.mesh_wide else None
    status: dict[str, str] = {}
    for ns in inventory.namespaces:
        own = effective.namespace_wide.get(ns.name)
        if ns.enrollment == "none":
            status[ns.name] = "plaintext (not in mesh)"
        elif own is not None:
            status[ns.name] = policy.mtls_mode(own)
        elif mesh_mode is not None:
            status[ns.name] = f"{mesh_mode} (mesh-wide)"
        else:
            status[ns.name] = "PERMISSIVE (default)"
    return status


def observed_status(report: NamespaceTraffic | None) -> str:
    """A namespace's observed mTLS status; ``no-data`` when the traffic has nothing for it."""
    return str(report.status) if report is not None else "no-data"


def mtls_share(edge: Edge) -> Text:
    """An edge's observed mTLS share: ``-`` when the telemetry did not see it, ``idle`` when
    its series counted nothing in the window, ``unknown`` when the source could not see its
    security."""
    if edge.observed is None:
        return Text("-", style="dim", end="")
    share = edge.observed.mtls_share
    if share is None:
        return Text(edge.observed.share_text, style="dim" if edge.observed.share_text == "idle"
                    else "yellow", end="")
    return Text(f"{share:.0%}", style="green" if share >= 1 else "bold red", end="")


def caller_text(analysis: Analysis, caller: str) -> Text:
    """A caller id with a meshed/not meshed mark."""
    node = analysis.graph.node_index.get(caller)
    meshed = node is not None and node.meshed
    text = Text("● " if meshed else "○ ", style="green" if meshed else "red", end="")
    text.append_text(safe(caller))
    return text


def _service_cells(graph: CallGraph, svc: Service) -> tuple[RenderableType, ...]:
    node_id = svc.ref.key
    inbound = graph.inbound.get(node_id, ())
    plaintext = {e.caller for e in inbound
                 if not (n := graph.node_index.get(e.caller)) or not n.meshed}
    ports = ",".join(str(p.port) for p in svc.ports[:6])
    return (safe(svc.name), svc.type, ports, str(len(graph.backends.get(node_id, ()))),
            str(len({e.caller for e in inbound})),
            Text(str(len(plaintext)), style="bold red" if plaintext else "dim"))


def service_rows(analysis: Analysis, namespace: str) -> list[Row]:
    """The Services of ``namespace`` with their ports, backends and callers (meshed or not)."""
    graph = analysis.graph
    return [row(svc.ref.key, partial(_service_cells, graph, svc), svc.name)
            for svc in analysis.scan.inventory.services if svc.namespace == namespace]


def _edge_cells(analysis: Analysis, e: Edge, observing: bool) -> tuple[RenderableType, ...]:
    kinds = sorted({ev.kind for ev in e.evidence})
    node = analysis.graph.node_index.get(e.caller)
    meshed = node is not None and node.meshed
    # One cell for the pair: ids break after their separators, so both read whole in a
    # column narrow enough for the table to fit 80 columns.
    cells: tuple[RenderableType, ...] = (
        Id(f"{'●' if meshed else '○'} {e.caller} → {e.callee}",
           style="green" if meshed else "red"),
        "-" if e.port is None else str(e.port), e.protocol,
        e.origin.value, wrapping(f"{len(e.evidence)}: {', '.join(kinds)}"))
    return (*cells, mtls_share(e)) if observing else cells


def edge_rows(analysis: Analysis, namespace: str) -> list[Row]:
    """Every call edge into ``namespace`` and out of it to another one (value: the Edge)."""
    graph = analysis.graph
    out = [e for e in graph.edges if graph.namespace_of(e.caller) == namespace
           and graph.namespace_of(e.callee) != namespace]
    observing = analysis.traffic is not None
    return [row(str(i), partial(_edge_cells, analysis, e, observing), e.caller, e.callee,
                e.protocol, e.origin.value, *(ev.kind for ev in e.evidence), value=e)
            for i, e in enumerate((*graph.edges_into_namespace(namespace), *out))]


class GraphScreen(MeshScreen):
    """Namespaces, their mTLS status and who calls them."""

    name_in_table = GRAPH
    title_text = "Graph"

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[tuple[str, tuple[str, ...]]] = []
        self._cells: list[tuple[RenderableType, ...]] = []
        self._search: list[tuple[str, ...]] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="graph-body"):
            yield Label("Namespaces (enter: services and edges)", classes="section",
                        id="namespaces-label")
            yield DataTable(id="namespaces", cursor_type="row", zebra_stripes=True)
            yield Static("", id="ns-detail")
            yield Label("Namespace graph (caller -> callee namespaces, call count)",
                        classes="section")
            with VerticalScroll(id="ns-graph-scroll"):
                yield Static("", id="ns-graph")

    def prepare(self) -> None:
        set_columns(self.query_one("#namespaces", DataTable), NAMESPACE_COLUMNS, WRAPPED)

    def focus_main(self) -> None:
        self.query_one("#namespaces", DataTable).focus()

    def visible_namespaces(self) -> list[str]:
        """The namespaces the table shows now (after the filter), in order."""
        table = self.query_one("#namespaces", DataTable)
        return [self._rows[int(str(key.value))][0] for key in table.rows]

    def _traffic_label(self) -> Text:
        """The section title, saying where the observed traffic came from (or why not)."""
        text = Text("Namespaces (enter: services and edges)", end="")
        analysis = self.mesh.analysis
        traffic = analysis.traffic if analysis is not None else None
        if traffic is not None:
            text.append(f" — observed: {clean(traffic.source, 60)} over "
                        f"{clean(traffic.window, 10)}")
            if not traffic.has_data:
                text.append(" (no series at all)", style="bold yellow")
        elif self.mesh.traffic_error:
            text.append(" — observed traffic unavailable (gates unknown)", style="bold red")
        return text

    def refresh_data(self) -> None:
        analysis, plan = self.mesh.analysis, self.mesh.plan
        if analysis is None:
            return
        graph = analysis.graph
        status = mtls_status(analysis, plan)
        fates = {f.name: f for f in plan.namespaces} if plan is not None else {}
        observing = analysis.traffic is not None
        set_columns(self.query_one("#namespaces", DataTable),
                    NAMESPACE_COLUMNS + (OBSERVED_COLUMNS if observing else ()), WRAPPED)
        self.query_one("#namespaces-label", Label).update(self._traffic_label())
        reports = self.mesh.namespace_traffic
        self._rows = []
        # Per row, the extra strings the filter searches (observed status, plaintext callers).
        self._search = []
        self._lines: list[tuple[str, Text]] = []
        self._cells = []
        for ns in analysis.scan.inventory.namespaces:
            callers = graph.inbound_callers(ns.name)
            fate = fates.get(ns.name)
            plaintext = callers["not_meshed"]
            ends = f"{fate.final} ({fate.mode})" if fate is not None else "-"
            cells: tuple[RenderableType, ...] = (
                safe(ns.name), ns.enrollment, wrapping(status.get(ns.name, "-")),
                wrapping(ends),
                Text(str(len(plaintext)), style="bold red" if plaintext else "dim"),
            )
            search: tuple[str, ...] = ()
            if observing:
                report = reports.get(ns.name)
                observed = observed_status(report)
                seen = tuple(c.caller for c in report.plaintext_callers) if report else ()
                cells += (Text(observed, style=OBSERVED_STYLE.get(observed, ""), end=""),)
                search = (observed, *seen)
            self._cells.append(cells)
            self._search.append(search)
            self._rows.append((ns.name, plaintext))
        ns_graph = graph.namespace_graph
        for src in ns_graph.nodes:
            targets = ns_graph.successors(src)
            if not targets:
                continue
            line = Text(no_wrap=True, end="")
            line.append(clean(src, 40), style="bold")
            line.append(" → ")
            for i, dst in enumerate(targets):
                if i:
                    line.append(", ")
                line.append(clean(dst, 40))
                line.append(f" ({ns_graph.count(src, dst)})", style="dim")
            self._lines.append((f"{src} {' '.join(targets)}", line))
        self.apply_filter(self.filter_text)

    def apply_filter(self, query: str, now: bool = True) -> None:
        table = self.query_one("#namespaces", DataTable)
        table.clear()
        for i, ((name, plaintext), cells, search) in enumerate(zip(
                self._rows, self._cells, self._search, strict=True)):
            if matches(query, name, *plaintext, cells[1], cells[2], *search):
                table.add_row(*cells, key=str(i), height=None)
        shown = [line for key, line in self._lines if matches(query, key)]
        body = Text("\n", end="").join(shown) if shown else Text("(no calls between namespaces)",
                                                                 style="dim")
        self.query_one("#ns-graph", Static).update(body)
        self._detail(self._selected())

    def _selected(self) -> str | None:
        table = self.query_one("#namespaces", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._rows[int(key)][0] if key is not None else None

    def _detail(self, namespace: str | None) -> None:
        detail = self.query_one("#ns-detail", Static)
        analysis = self.mesh.analysis
        if namespace is None or analysis is None:
            detail.update("")
            return
        callers = analysis.graph.inbound_callers(namespace)
        text = Text()
        text.append(clean(namespace, 60), style="bold")
        text.append("  inbound callers STRICT affects — meshed: ")
        text.append(", ".join(clean(c, 50) for c in callers["meshed"][:6]) or "none",
                    style="green")
        text.append("; not meshed: ")
        text.append(", ".join(clean(c, 50) for c in callers["not_meshed"][:6]) or "none",
                    style="red")
        if analysis.traffic is not None:
            report = self.mesh.namespace_traffic.get(namespace)
            observed = observed_status(report)
            text.append("\nobserved: ")
            text.append(observed, style=OBSERVED_STYLE.get(observed, ""))
            if report is not None:
                unknown = (f"; {report.tls_unknown:g} of unknown security"
                           if report.tls_unknown else "")
                text.append(f" ({report.requests_mtls:g}/{report.requests:g} requests, "
                            f"{report.connections_mtls:g}/{report.connections:g} connections "
                            f"mTLS{unknown})", style="dim")
                text.append("; STRICT gate ")
                text.append(report.gate.status, style=GATE_STYLE.get(report.gate.status, ""))
            text.append("; plaintext callers: ")
            seen = report.plaintext_callers if report is not None else ()
            if not seen:
                text.append("none", style="green")
            for i, c in enumerate(seen[:6]):
                text.append(", " if i else "")
                text.append(clean(c.caller, 50), style="bold red")
                text.append(f" → {clean(c.service, 50)} ({c.plaintext:g} of {c.total:g} "
                            f"{c.protocol})")
                if c.suspects:
                    text.append(" suspects: " + ", ".join(clean(s, 50) for s in c.suspects),
                                style="yellow")
        detail.update(text)

    @on(DataTable.RowHighlighted, "#namespaces")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._detail(self._rows[int(event.row_key.value)][0])

    @on(DataTable.RowSelected, "#namespaces")
    def _selected_row(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.mesh.open_namespace(self._rows[int(event.row_key.value)][0])

    def context(self) -> dict[str, str | None]:
        return {"namespace": self._selected()}


class NamespaceScreen(MeshScreen):
    """One namespace: its Services and every call edge into or out of it."""

    name_in_table = NAMESPACE

    def __init__(self, namespace: str) -> None:
        super().__init__()
        self.namespace = namespace
        self.title_text = f"ns {clean(namespace, 30)}"
        self.service_rows = TableFeed(self, "services")
        self.edge_rows = TableFeed(self, "edges", height=None)

    def compose_body(self) -> ComposeResult:
        with Vertical(id="ns-body"):
            yield Static("", id="ns-title")
            yield Label("Services", classes="section")
            yield DataTable(id="services", cursor_type="row", zebra_stripes=True)
            yield Label("Edges into and out of the namespace (enter: evidence)",
                        classes="section")
            yield DataTable(id="edges", cursor_type="row", zebra_stripes=True)

    def prepare(self) -> None:
        self.query_one("#services", DataTable).add_columns(
            "service", "type", "ports", "backends", "callers", "not meshed")
        set_columns(self.query_one("#edges", DataTable), EDGE_COLUMNS, WRAPPED)
        self.focus_main()

    def focus_main(self) -> None:
        self.query_one("#edges", DataTable).focus()

    def refresh_data(self) -> None:
        analysis = self.mesh.analysis
        if analysis is None:
            return
        ns = analysis.scan.inventory.namespace_index.get(self.namespace)
        title = Text()
        title.append("namespace ", style="dim")
        title.append(clean(self.namespace), style="bold")
        if ns is None:
            title.append("  (not in the current scan)", style="red")
        else:
            title.append(f"  enrollment: {ns.enrollment}")
        self.query_one("#ns-title", Static).update(title)
        observing = analysis.traffic is not None
        set_columns(self.query_one("#edges", DataTable),
                    EDGE_COLUMNS + (("mTLS share",) if observing else ()), WRAPPED)
        # The cluster's size, not the namespace's: counting the namespace's rows is the work
        # the worker is there to take off the UI thread.
        size = len(analysis.scan.inventory.services) + len(analysis.graph.edges)
        self.service_rows.load(lambda: service_rows(analysis, self.namespace), size,
                               self.filter_text)
        self.edge_rows.load(lambda: edge_rows(analysis, self.namespace), size, self.filter_text)

    @property
    def edges(self) -> list[Edge]:
        """The edges into and out of the namespace, in table order (before the filter)."""
        return [r.value for r in self.edge_rows.rows if isinstance(r.value, Edge)]

    def apply_filter(self, query: str, now: bool = True) -> None:
        self.service_rows.filter(query, now)
        self.edge_rows.filter(query, now)

    @on(DataTable.RowSelected, "#edges")
    def _edge_selected(self, event: DataTable.RowSelected) -> None:
        edge = self.edge_rows.value(event.row_key.value)
        if isinstance(edge, Edge):
            self.app.push_screen(EdgeScreen(edge))

    def context(self) -> dict[str, str | None]:
        return {"namespace": self.namespace}


class EdgeScreen(MeshScreen):
    """One edge and every piece of evidence for it."""

    name_in_table = EDGE

    def __init__(self, edge: Edge) -> None:
        super().__init__()
        self.edge = edge
        self.title_text = "edge"

    def compose_body(self) -> ComposeResult:
        with Vertical(id="edge-body"):
            yield Static("", id="edge-title")
            yield Label("Evidence", classes="section")
            yield DataTable(id="evidence", cursor_type="row", zebra_stripes=True)

    def prepare(self) -> None:
        table = self.query_one("#evidence", DataTable)
        table.add_column("kind")
        for label, width in (("source", 26), ("text", 26)):
            table.add_column(label, width=width)
        table.add_column("confidence")
        self.focus_main()

    def focus_main(self) -> None:
        self.query_one("#evidence", DataTable).focus()

    def refresh_data(self) -> None:
        analysis = self.mesh.analysis
        e = self.edge
        text = Text()
        text.append_text(caller_text(analysis, e.caller) if analysis else safe(e.caller))
        text.append(" → ")
        text.append(clean(e.callee, 80), style="bold")
        text.append(f"  port {e.port if e.port is not None else '-'} {e.protocol}  "
                    f"origin {e.origin.value}")
        if e.target_ports:
            text.append(f"  container ports {', '.join(map(str, e.target_ports))}")
        if e.observed is not None:
            share = ("-" if e.observed.mtls_share is None
                     else f"{e.observed.mtls_share:.0%}")
            text.append(f"\nobserved: {e.observed.requests:g} requests, "
                        f"{e.observed.connections:g} connections, mTLS share {share}")
        if analysis is not None:
            node = analysis.graph.node_index.get(e.caller)
            if node is not None:
                kind = "meshed" if node.meshed else "not meshed"
                text.append(f"\ncaller {kind}: {clean(node.mesh_reason)}",
                            style="green" if node.meshed else "red")
                if node.kind is NodeKind.EXTERNAL:
                    text.append(" (a caller outside the cluster's workloads)", style="dim")
        self.query_one("#edge-title", Static).update(text)
        table = self.query_one("#evidence", DataTable)
        table.clear()
        for ev in e.evidence:
            table.add_row(ev.kind, Id(ev.source), wrapping(ev.text), f"{ev.confidence:.2f}",
                          height=None)
