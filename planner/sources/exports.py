"""Observed traffic from files: for clusters the planner cannot query, or for CI.

Formats (``fmt``; detected from the content when None — see :func:`detect_format`), each
documented with an example in ``docs/traffic.md``:

``prometheus``  a saved ``/api/v1/query`` answer of the traffic query (the API envelope, or
                the bare result array ``promtool query instant --format=json`` prints); a
                JSON object ``{"requests": <answer>, "tcp": <answer>, "window": "7d"}``
                carries both metrics; or pass two files to :func:`load_prometheus_responses`.
``kiali``       a Kiali graph (``/api/namespaces/graph``), with or without service nodes.
``hubble``      ``hubble observe -o json``: JSON lines, or pretty-printed objects (one or a
                stream), ``{"flow": {...}}`` or bare flows.
``linkerd``     ``linkerd viz edges -o json`` (``viz stat`` is refused: it names no callers).
``csv``         ``source_namespace,source_workload,destination_namespace,
                destination_service,requests,mtls_share`` (a UTF-8 BOM and CRLF are fine).

Every observation carries its evidence level (:data:`planner.domain.traffic.EVIDENCE_LEVELS`):
what it can prove about Istio mutual TLS. Contract: every function returns a
:class:`TrafficSnapshot` or raises :class:`~planner.errors.MetricsError` with one line naming
the file, the format and the problem (with a line number for CSV and JSON lines). Nothing is
printed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from planner.domain.traffic import (
    DECLARED,
    EXPORT_FORMATS,
    HTTP,
    IP_NAMED_POD,
    PRESENCE,
    PROOF,
    REQUESTS_METRIC,
    ROUNDED,
    TCP,
    TCP_METRIC,
    UDP,
    UNKNOWN,
    ObservedEdge,
    SeenPod,
    TrafficSnapshot,
    count_text,
    validate_window,
)
from planner.domain.value import value_class
from planner.errors import MetricsError
from planner.sources.prometheus import INCREASE_RESOLUTION, vector_edges

CSV_HEADER: Final = ("source_namespace", "source_workload", "destination_namespace",
                     "destination_service", "requests", "mtls_share")
UNKNOWN_WINDOW: Final = "unknown"
"""Window of an export that does not say which time span it covers."""

SHAPES: Final[dict[str, str]] = {
    "prometheus": "a Prometheus query answer",
    "kiali": "a Kiali graph",
    "hubble": "Hubble flows",
    "linkerd": "Linkerd `viz edges` output",
    "csv": "the traffic CSV",
    "linkerd-stat": "Linkerd `viz stat` output",
}
"""What a file of each detected shape is, for messages."""

_TCP_METRICS: Final = frozenset({TCP_METRIC, "istio_tcp_connections_closed_total"})
_HTTP_PROTOCOLS: Final = frozenset({"http", "grpc"})
_RANGE_RE: Final = re.compile(r"\[([0-9a-z]+)\]")
#: Kiali prints rates with at most this many decimals (rateToString in its graph package).
KIALI_RATE_DECIMALS: Final = 5


def load_traffic_export(path: str, fmt: str | None = None) -> TrafficSnapshot:
    """Read one traffic export file; ``fmt`` is one of
    :data:`~planner.domain.traffic.EXPORT_FORMATS` or None to detect.

    A ``fmt`` that does not match the file's shape is refused, naming what the file looks
    like; a Linkerd ``viz stat`` file is refused whatever ``fmt`` says."""
    text = _read(path)
    loaders: dict[str, Callable[[str, str], TrafficSnapshot]] = {
        "prometheus": _prometheus, "kiali": _kiali, "hubble": _hubble,
        "linkerd": _linkerd, "csv": _csv}
    if fmt is not None and fmt not in loaders:
        raise MetricsError(f"{path}: unknown traffic format {fmt!r} "
                           f"(expected one of {', '.join(EXPORT_FORMATS)})")
    shape = detect_format(path, text) if fmt is None else _shape(text)
    if shape == "linkerd-stat":
        raise MetricsError(f"{path}: Linkerd `viz stat` output is not supported: it counts "
                           "traffic per resource and names no callers; export "
                           "`linkerd viz edges deploy -A -o json` instead")
    if fmt is not None and shape is not None and shape != fmt:
        raise MetricsError(f"{path}: --traffic-format {fmt} does not match the file: it looks "
                           f"like {SHAPES[shape]} (--traffic-format {shape})")
    return loaders[fmt or shape or ""](path, text)


def load_prometheus_responses(requests_path: str,
                              tcp_path: str | None = None) -> TrafficSnapshot:
    """Two saved query answers: the ``istio_requests_total`` one and, optionally, the
    ``istio_tcp_connections_opened_total`` one (same query, other metric)."""
    snap = _prometheus_doc(requests_path, _json(requests_path, _read(requests_path), "prometheus"),
                           HTTP)
    if tcp_path is None:
        return snap
    tcp = _prometheus_doc(tcp_path, _json(tcp_path, _read(tcp_path), "prometheus"), TCP)
    return TrafficSnapshot.build([*snap.edges, *tcp.edges], window=UNKNOWN_WINDOW,
                                 source=f"prometheus export {requests_path} + {tcp_path}",
                                 has_data=snap.has_data or tcp.has_data,
                                 notes=[*snap.notes, *tcp.notes])


def detect_format(path: str, text: str) -> str:
    """The format of ``text`` from its shape (a ``.csv`` suffix decides only for text that is
    not JSON); ``linkerd-stat`` for Linkerd's unsupported ``viz stat`` output. MetricsError
    when the shape is none of them."""
    if not text.strip():
        raise MetricsError(f"{path}: empty traffic export")
    shape = _shape(text)
    if shape is None and path.lower().endswith(".csv"):
        return "csv"
    if shape is None:
        raise MetricsError(f"{path}: cannot tell the traffic format: not a Prometheus answer, "
                           "Kiali graph, Hubble flows, Linkerd edges or the traffic CSV; give "
                           f"it explicitly ({', '.join(EXPORT_FORMATS)})")
    return shape


def _shape(text: str) -> str | None:
    """What ``text`` looks like (a key of :data:`SHAPES`), or None."""
    stripped = text.strip()
    first_line = stripped.split("\n", 1)[0]
    if first_line.startswith("source_namespace,"):
        return "csv"
    docs = _first_documents(stripped)
    if not docs:
        return None
    doc = docs[0]
    if isinstance(doc, list):
        return _list_shape(doc) if len(docs) == 1 else None
    if not isinstance(doc, dict):
        return None
    if len(docs) == 1 and "elements" in doc:
        return "kiali"
    if len(docs) == 1 and (("data" in doc and "status" in doc)
                           or {"requests", "tcp"} & doc.keys()):
        return "prometheus"
    if "flow" in doc or ({"source", "destination"} <= doc.keys()
                         and {"verdict", "l4", "IP", "time"} & doc.keys()):
        return "hubble"
    if doc.keys() & {"lost_events", "agent_event", "node_status", "debug_event"}:
        return "hubble"
    return None


def _list_shape(doc: list[Any]) -> str | None:
    rows = [r for r in doc if isinstance(r, dict)]
    if not doc:
        return "prometheus"  # promtool's answer with no series: nothing observed
    if len(rows) != len(doc):
        return None
    keys = set().union(*(r.keys() for r in rows))
    if {"metric", "value"} <= keys:
        return "prometheus"
    if {"dst", "dst_namespace"} & keys or {"src", "src_namespace"} & keys:
        return "linkerd"
    if {"rps", "success"} & keys or "tcp_open_connections" in keys:
        return "linkerd-stat"
    return None


def _first_documents(text: str, limit: int = 2) -> list[Any]:
    """Up to ``limit`` JSON documents from the start of ``text`` (one document, JSON lines or
    a stream of pretty-printed objects); empty when it does not start with JSON."""
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos = 0
    while pos < len(text) and len(docs) < limit:
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return docs
        docs.append(doc)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return docs


def _documents(path: str, text: str, what: str) -> Iterator[tuple[int, Any]]:
    """(line, document) for every JSON document in ``text``: JSON lines, or objects
    pretty-printed one after the other (``jq .``). Blank space between them is skipped."""
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        line = text.count("\n", 0, pos) + 1
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            raise MetricsError(f"{path}:{line}: {what}: malformed JSON: {exc}") from exc
        yield line, doc


def _read(path: str) -> str:
    try:
        # utf-8-sig: a spreadsheet's byte order mark is not part of the first header cell.
        with open(path, encoding="utf-8-sig") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise MetricsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from exc
    except OSError as exc:
        raise MetricsError(f"{path}: cannot read traffic export: "
                           f"{exc.strerror or exc}") from exc


def _json(path: str, text: str, fmt: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MetricsError(f"{path}: {fmt} export: malformed JSON: {exc}") from exc


# --- Prometheus ---------------------------------------------------------------------------

def _series(path: str, doc: Any, what: str) -> list[dict[str, Any]]:
    """The series of one answer: the API envelope's ``data.result`` or a bare result array."""
    where = f"{path}: {what}"
    result: Any
    if isinstance(doc, list):
        result = doc
    elif not isinstance(doc, dict) or doc.get("status") != "success":
        raise MetricsError(f"{where} is not a successful Prometheus query answer "
                           "(expected status 'success' or a bare result array)")
    else:
        data = doc.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "vector":
            got = data.get("resultType") if isinstance(data, dict) else None
            raise MetricsError(f"{where}: expected data.resultType 'vector', got {got!r}")
        result = data.get("result")
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        raise MetricsError(f"{where}: the result is not a list of series")
    for i, row in enumerate(result, 1):
        labels = row.get("metric")
        if not isinstance(labels, dict) or "connection_security_policy" not in labels:
            # Without the label a series would silently read as plaintext (or as mTLS).
            raise MetricsError(f"{where}: series {i} has no connection_security_policy "
                               "label; save the output of the query in docs/traffic.md")
    return result


def _row_protocol(path: str, what: str, i: int, labels: dict[str, Any],
                  default: str | None) -> str:
    """``http`` or ``tcp`` for one series: its metric name, else its ``request_protocol``,
    else the part of the file it came from; MetricsError when nothing says."""
    name, proto = labels.get("__name__"), labels.get("request_protocol")
    for label, value in (("__name__", name), ("request_protocol", proto)):
        if value is not None and not isinstance(value, str):
            raise MetricsError(f"{path}: {what}: series {i}: label {label} is not a string")
    if name in _TCP_METRICS:
        return TCP
    if name == REQUESTS_METRIC:
        return HTTP
    if isinstance(name, str) and name.startswith("istio_tcp_"):
        raise MetricsError(f"{path}: {what}: series {i} is {name}, which counts bytes, not "
                           f"connections; save the {TCP_METRIC} query of docs/traffic.md")
    if proto == TCP:
        return TCP
    if proto in _HTTP_PROTOCOLS:
        return HTTP
    if default is not None:
        return default
    raise MetricsError(f"{path}: {what}: series {i} does not say which query it answers (no "
                       "__name__, no request_protocol label): save both answers as "
                       '{"requests": ..., "tcp": ...}, or run the queries of docs/traffic.md, '
                       "which keep request_protocol")


def _prometheus(path: str, text: str) -> TrafficSnapshot:
    return _prometheus_doc(path, _json(path, text, "prometheus"), None)


def _prometheus_doc(path: str, doc: Any, protocol: str | None) -> TrafficSnapshot:
    window = UNKNOWN_WINDOW
    if isinstance(doc, dict) and ("requests" in doc or "tcp" in doc) and "status" not in doc:
        parts: list[tuple[str | None, Any, str]] = [
            (proto, doc[key], f"{key} answer") for key, proto in (("requests", HTTP),
                                                                  ("tcp", TCP)) if key in doc]
        window = _declared_window(path, doc)
    else:
        parts = [(protocol, doc, "query answer")]
    edges: list[ObservedEdge] = []
    series = 0
    for default, answer, what in parts:
        result = _series(path, answer, what)
        series += len(result)
        for i, row in enumerate(result, 1):
            proto = _row_protocol(path, what, i, row["metric"], default)
            edges.extend(vector_edges([row], proto, f"{path}: {what}: series {i}"))
    edges = _drop_client_duplicates(edges)
    notes = []
    if window == UNKNOWN_WINDOW:
        notes.append("a saved query answer does not say its window (the query's range): save "
                     'both answers as {"requests": ..., "tcp": ..., "window": "7d"}')
    client = sum(1 for e in edges if e.evidence == PRESENCE)
    if client:
        notes.append(f"{client} edge(s) only client-side or of unknown security policy: they "
                     "show traffic, not mTLS")
    evidence = PRESENCE if edges and client == len(edges) else PROOF
    return TrafficSnapshot.build(edges, window=window, source=f"prometheus export {path}",
                                 has_data=series > 0, evidence=evidence, notes=notes,
                                 resolution=INCREASE_RESOLUTION)


def _declared_window(path: str, doc: dict[str, Any]) -> str:
    """The window a combined file declares: ``"window": "7d"``, or the range of its
    ``"query"``/``"queries"`` text (``[7d]``); ``unknown`` when it declares none."""
    declared = doc.get("window")
    if declared is None:
        queries = doc.get("queries", doc.get("query"))
        texts = list(queries.values()) if isinstance(queries, dict) else [queries]
        ranges = {m for t in texts if isinstance(t, str) for m in _RANGE_RE.findall(t)}
        if len(ranges) == 1:
            declared = ranges.pop()
    if declared is None:
        return UNKNOWN_WINDOW
    try:
        return validate_window(str(declared))
    except ValueError as exc:
        raise MetricsError(f"{path}: prometheus export: {exc}") from None


def _drop_client_duplicates(edges: list[ObservedEdge]) -> list[ObservedEdge]:
    """Client-side series of an edge that also has server-side series are the same traffic
    seen twice; only the server side is kept (a client-only edge stays, as presence)."""
    def key(e: ObservedEdge) -> tuple[str, ...]:
        return (e.source_namespace, e.source_workload, e.destination_namespace,
                e.destination_service, e.protocol)

    proven = {key(e) for e in edges if e.evidence != PRESENCE}
    return [e for e in edges if e.evidence != PRESENCE or key(e) not in proven]


# --- Kiali ----------------------------------------------------------------------------------

def _decimal(value: Any, what: str, where: str) -> Decimal:
    """A finite count, rate or share >= 0, exactly (``"8.064"`` times 600 is 4838.4, not
    4838.400000000001). Kiali writes numbers as strings ("12.5"), so both strings and numbers
    are accepted; ``where`` is ``path`` or ``path:line``."""
    try:
        got = Decimal(str(value).strip()) if isinstance(value, (str, int, float)) else None
    except InvalidOperation:
        got = None
    if got is None or isinstance(value, bool):
        raise MetricsError(f"{where}: {what} {value!r} is not a number")
    if not got.is_finite() or got < 0:
        raise MetricsError(f"{where}: {what} {value!r} is not a non-negative number")
    if not math.isfinite(float(got)):
        # Counts end up as floats: 1e400 would become inf, and inf - inf a NaN plaintext count.
        raise MetricsError(f"{where}: {what} {value!r} is too large")
    return got


def window_from_seconds(seconds: float) -> str:
    """``604800`` -> ``7d``, ``600`` -> ``10m``: the largest unit that divides evenly."""
    secs = int(seconds)
    if secs <= 0:
        return UNKNOWN_WINDOW
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs % size == 0:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def _kiali(path: str, text: str) -> TrafficSnapshot:
    doc = _json(path, text, "kiali")
    elements = doc.get("elements") if isinstance(doc, dict) else None
    if not isinstance(elements, dict):
        raise MetricsError(f"{path}: Kiali graph has no 'elements' object")
    nodes_raw = elements.get("nodes") or []
    edges_raw = elements.get("edges") or []
    if not isinstance(nodes_raw, list) or not isinstance(edges_raw, list):
        raise MetricsError(f"{path}: Kiali elements.nodes/edges must be lists")
    duration = _decimal(doc.get("duration", 0), "duration", f"{path}: Kiali graph")
    nodes: dict[str, dict[str, Any]] = {}
    for i, node in enumerate(nodes_raw, 1):
        data = node.get("data") if isinstance(node, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise MetricsError(f"{path}: Kiali node {i} has no data.id")
        nodes[data["id"]] = data
    datas: list[dict[str, Any]] = []
    for i, edge in enumerate(edges_raw, 1):
        data = edge.get("data") if isinstance(edge, dict) else None
        if not isinstance(data, dict) or not all(
                isinstance(data.get(end), str) and data[end] in nodes
                for end in ("source", "target")):
            raise MetricsError(f"{path}: Kiali edge {i} has no data.source/target naming "
                               "a node")
        datas.append(data)
    # Kiali omits isMTLS when it is 0 *and* when the securityPolicy appender did not run; the
    # principals are only there when it ran, so they tell the two cases apart.
    secured = any(k in d for d in datas for k in ("isMTLS", "sourcePrincipal", "destPrincipal"))
    graph = _KialiGraph(path, nodes, datas, duration, secured)
    edges = [e for i, data in enumerate(datas, 1) for e in graph.edges(i, data)]
    window = window_from_seconds(float(duration))
    step = Decimal(1).scaleb(-KIALI_RATE_DECIMALS)
    resolution = (f"Kiali rates have {KIALI_RATE_DECIMALS} decimals ({step}/s, "
                  f"{count_text(float(step * duration))} requests over {window}); isMTLS is "
                  "a whole percentage; TCP rates are bytes/s, so TCP edges count as at least "
                  "one connection")
    notes = [] if secured else [
        "exported without the securityPolicy appender: the graph shows traffic, not mTLS "
        "(export with appenders=securityPolicy)"]
    notes.extend(graph.notes)
    return TrafficSnapshot.build(edges, window=window, source=f"kiali export {path}",
                                 has_data=bool(datas), evidence=ROUNDED if secured else PRESENCE,
                                 resolution=resolution, notes=notes)


class _KialiGraph:
    """The edges of one Kiali graph as observations; ``notes`` says what was left out."""

    def __init__(self, path: str, nodes: dict[str, dict[str, Any]],
                 datas: list[dict[str, Any]], duration: Decimal, secured: bool) -> None:
        self.path = path
        self.nodes = nodes
        self.datas = datas
        self.duration = duration
        self.secured = secured
        self.notes: list[str] = []

    def edges(self, i: int, data: dict[str, Any]) -> list[ObservedEdge]:
        src, dst = self.nodes[data["source"]], self.nodes[data["target"]]
        if src.get("nodeType") == "service" and dst.get("nodeType") != "service":
            # Second hop of workload -> service node -> workload: counted on the first.
            return []
        waypoint = data.get("waypoint")
        if isinstance(waypoint, dict) and waypoint.get("direction") == "from":
            # The hop out of an ambient waypoint repeats the traffic sent to it.
            return []
        traffic = data.get("traffic")
        rates = traffic.get("rates") if isinstance(traffic, dict) else None
        if not isinstance(traffic, dict) or not isinstance(rates, dict):
            return []
        proto = str(traffic.get("protocol", ""))
        if proto not in ("http", "grpc", "tcp"):
            return []
        where = f"{self.path}: Kiali edge {i}"
        rate = _decimal(rates.get(proto, 0), f"traffic.rates.{proto}", where)
        protocol = TCP if proto == "tcp" else HTTP
        # Kiali's TCP rate is bytes/s: the edge proves at least one connection, no count.
        zero = rate == 0
        at_least = protocol == TCP or zero
        total = Decimal(1) if at_least else rate * (self.duration or Decimal(1))
        mtls, unknown = self._security(data, where, total, at_least=at_least, zero=zero)
        source = self._caller(src)
        result = []
        for dst_ns, service, workload, part in self._callees(dst, data):
            share = Decimal(part)
            result.append(ObservedEdge(
                source_namespace=source[0], source_workload=source[1],
                destination_namespace=dst_ns, destination_service=service,
                destination_workload=workload, protocol=protocol,
                total=float(total * share), mtls=float(mtls * share),
                tls_unknown=float(unknown * share),
                evidence=ROUNDED if self.secured else PRESENCE, at_least=at_least))
        return result

    def _security(self, data: dict[str, Any], where: str, total: Decimal, *,
                  at_least: bool, zero: bool) -> tuple[Decimal, Decimal]:
        """(mTLS, unknown) parts of ``total``. ``isMTLS`` 100 counts as all mTLS, within the
        rounding. A count that is only "at least one" is all mTLS only for a TCP edge at 100
        (its bytes were all mTLS), never for a rate printed as zero (its share is unknown);
        below 100 it proves at least one plaintext request or connection."""
        if not self.secured:
            return Decimal(0), total
        percent = _decimal(data.get("isMTLS", 0), "isMTLS", where)
        if percent > 100:
            raise MetricsError(f"{where}: isMTLS {data['isMTLS']!r} is over 100")
        if not at_least:
            return total * percent / 100, Decimal(0)
        if percent < 100:
            return Decimal(0), Decimal(0)
        return (Decimal(0), total) if zero else (total, Decimal(0))

    def _caller(self, node: dict[str, Any]) -> tuple[str, str]:
        if node.get("nodeType") == "unknown":
            return UNKNOWN, UNKNOWN
        return _str(node.get("namespace")), _kiali_name(node, "workload", "app", "service")

    def _callees(self, node: dict[str, Any],
                 data: dict[str, Any]) -> list[tuple[str, str, str, Decimal]]:
        """(namespace, Service, workload, share of the edge) for the destination node: a
        service node names its Service; a workload or app node its ``destServices``, split by
        the edge's hosts when there are several; none named: the Service is ``unknown``."""
        namespace = _str(node.get("namespace"))
        if node.get("nodeType") == "service":
            onward = {_kiali_name(self.nodes[d["target"]], "workload", "app")
                      for d in self.datas if d["source"] == node["id"]
                      and self.nodes[d["target"]].get("nodeType") != "service"}
            workload = onward.pop() if len(onward) == 1 else UNKNOWN
            return [(namespace, _kiali_name(node, "service"), workload, Decimal(1))]
        workload = _kiali_name(node, "workload", "app")
        named = node.get("destServices") or []
        if not isinstance(named, list):
            raise MetricsError(f"{self.path}: Kiali node {node['id']}: destServices is not a "
                               "list")
        services = sorted({(_str(s.get("namespace")) if s.get("namespace") else namespace,
                            _str(s.get("name"))) for s in named if isinstance(s, dict)})
        if len(services) == 1:
            (ns, name), = services
            return [(ns, name, workload, Decimal(1))]
        if len(services) > 1:
            split = _host_split(data, {name for _, name in services})
            if split:
                by_name = dict((name, ns) for ns, name in services)
                return [(by_name[name], name, workload, part) for name, part in split]
            self.notes.append(f"edge to {namespace}/{workload}: Kiali names several Services "
                              f"({', '.join(n for _, n in services)}) and no host split; "
                              "counted as Service unknown")
        return [(namespace, UNKNOWN, workload, Decimal(1))]


def _host_split(data: dict[str, Any], names: set[str]) -> list[tuple[str, Decimal]]:
    """The edge's traffic per Service from ``traffic.responses.*.hosts`` percentages
    (``reviews:9080``, ``reviews.bookinfo.svc.cluster.local``); empty unless every host is one
    of ``names``."""
    parts: dict[str, Decimal] = {}
    responses = (data.get("traffic") or {}).get("responses")
    if not isinstance(responses, dict):
        return []
    for response in responses.values():
        hosts = response.get("hosts") if isinstance(response, dict) else None
        if not isinstance(hosts, dict):
            continue
        for host, percent in hosts.items():
            name = str(host).split(":", 1)[0].split(".", 1)[0]
            if name not in names:
                return []
            try:
                got = Decimal(str(percent))
            except InvalidOperation:
                return []
            if not got.is_finite() or got < 0:
                return []
            parts[name] = parts.get(name, Decimal(0)) + got
    total = sum(parts.values(), Decimal(0))
    if total <= 0:
        return []
    return sorted((name, part / total) for name, part in parts.items())


def _kiali_name(node: dict[str, Any], *keys: str) -> str:
    for key in keys:
        if isinstance(node.get(key), str) and node[key]:
            return str(node[key])
    return UNKNOWN


def _str(value: Any) -> str:
    return value if isinstance(value, str) and value else UNKNOWN


# --- Hubble ---------------------------------------------------------------------------------

_L4_CONNECTION: Final = {"TCP": TCP, "UDP": UDP}
"""Layer-4 protocols that make connections; ICMP and the rest are kept apart."""
_IGNORED_LABEL_PREFIXES: Final = ("io.cilium.", "io.kubernetes.")
_POD_NAMESPACE_LABEL: Final = "io.kubernetes.pod.namespace"


@value_class
class _Flow:
    """One forwarded flow, reduced to what names and counts a connection."""

    key: tuple[str, int, str, int, str]  # src ip, src port, dst ip, dst port, protocol
    reply: bool | None  # None: the flow does not say
    request: bool  # an L7 HTTP request
    source: tuple[str, str, str]  # namespace, name (workload, pod; "" unresolved), IP
    destination: tuple[str, str, str]
    service: str


def _hubble(path: str, text: str) -> TrafficSnapshot:
    times: list[datetime] = []
    flows: list[_Flow] = []
    pods: dict[tuple[str, str], SeenPod] = {}
    by_ip: dict[str, tuple[str, str]] = {}
    skipped: Counter[str] = Counter()
    count = 0
    for line, doc in _documents(path, text, "hubble export"):
        if not isinstance(doc, dict):
            raise MetricsError(f"{path}:{line}: hubble export: expected a JSON object per flow")
        flow = doc.get("flow", doc if "source" in doc or "destination" in doc else None)
        if flow is None:
            continue  # lost_events, agent_event, node_status ...: not traffic
        if not isinstance(flow, dict):
            raise MetricsError(f"{path}:{line}: hubble export: 'flow' is not an object")
        count += 1
        stamp = _hubble_time(flow.get("time") or doc.get("time"))
        if stamp is not None:
            times.append(stamp)
        got = _hubble_flow(path, line, flow, pods, by_ip, skipped)
        if got is not None:
            flows.append(got)
    edges = _hubble_connections(flows, by_ip)
    window = UNKNOWN_WINDOW
    if len(times) >= 2:
        window = window_from_seconds(math.ceil((max(times) - min(times)).total_seconds()))
    notes = [f"{n} {what} not counted" for what, n in sorted(skipped.items())]
    return TrafficSnapshot.build(
        edges, window=window, source=f"hubble export {path}", has_data=count > 0,
        evidence=PRESENCE, resolution="one count per connection (5-tuple); replies and the "
        "extra observation points of a connection dropped", notes=notes,
        # A peer shown by IP only that another flow named is that pod, not one more.
        pods=tuple(pods[key] for key in sorted(pods)
                   if not (key[1].startswith(IP_NAMED_POD) and pods[key].ip in by_ip)))


def _hubble_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        # Hubble prints nanoseconds; datetime takes microseconds, so cut the extra digits.
        head, _, frac = value.rstrip("Z").partition(".")
        return datetime.fromisoformat(head + (f".{frac[:6]}" if frac else "") + "+00:00")
    except ValueError:
        return None


def _hubble_flow(path: str, line: int, flow: dict[str, Any],
                 pods: dict[tuple[str, str], SeenPod],
                 by_ip: dict[str, tuple[str, str]], skipped: Counter[str]) -> _Flow | None:
    """One flow, or None when it opens nothing (dropped, not TCP/UDP: counted in ``skipped``)."""
    if flow.get("verdict") in ("DROPPED", "ERROR"):
        skipped["dropped or failed flows"] += 1  # a dropped caller is already cut off
        return None
    l4 = flow.get("l4")
    l4 = l4 if isinstance(l4, dict) else {}
    proto_name = str(next(iter(l4), ""))
    protocol = _L4_CONNECTION.get(proto_name)
    if protocol is None:
        skipped[f"{proto_name or 'non-IP'} flows (not TCP/UDP)"] += 1
        return None
    ports = l4[proto_name] if isinstance(l4[proto_name], dict) else {}
    src, dst = flow.get("source") or {}, flow.get("destination") or {}
    if not isinstance(src, dict) or not isinstance(dst, dict):
        raise MetricsError(f"{path}:{line}: hubble export: flow source/destination must be "
                           "objects")
    ip = flow.get("IP")
    ip = ip if isinstance(ip, dict) else {}
    where = f"{path}:{line}: hubble export: l4.{proto_name}"
    key = (str(ip.get("source", "")), _hubble_port(ports, "source_port", where),
           str(ip.get("destination", "")), _hubble_port(ports, "destination_port", where),
           protocol)
    reply = flow.get("is_reply", flow.get("reply"))
    l7 = flow.get("l7")
    request = False
    service = ""
    if isinstance(l7, dict):
        if l7.get("type") == "RESPONSE":
            reply = True
        request = l7.get("type") == "REQUEST" and isinstance(l7.get("http"), dict)
        if request:
            service = _url_service(l7["http"].get("url"))
    svc = flow.get("destination_service")
    if isinstance(svc, dict) and isinstance(svc.get("name"), str) and svc["name"]:
        service = svc["name"]
    return _Flow(key, reply if isinstance(reply, bool) else None, request,
                 _hubble_endpoint(src, key[0], pods, by_ip, f"{path}:{line}"),
                 _hubble_endpoint(dst, key[2], pods, by_ip, f"{path}:{line}"), service)


def _hubble_port(ports: dict[str, Any], key: str, where: str) -> int:
    """A flow's port (0 when the flow has none); MetricsError for anything but a port number."""
    value = ports.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise MetricsError(f"{where}.{key} {value!r} is not a port number")
    return value


def _url_service(url: Any) -> str:
    """``reviews`` from ``http://reviews:9080/...`` (a Service name, not an IP); empty else."""
    if not isinstance(url, str):
        return ""
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    name = host.split(".", 1)[0]
    return "" if not name or name.isdigit() or host.replace(".", "").isdigit() else name


def _hubble_endpoint(endpoint: dict[str, Any], ip: str,
                     pods: dict[tuple[str, str], SeenPod],
                     by_ip: dict[str, tuple[str, str]], where: str) -> tuple[str, str, str]:
    """(namespace, name, IP): Cilium's workload name when the export has one, else the pod
    name (recorded in ``pods`` with its labels, to be mapped to its workload through the
    scanned inventory, and in ``by_ip``); an endpoint named by neither gets an empty name,
    resolved later by its IP; world, host and other reserved peers are ``unknown``."""
    listed = endpoint.get("labels") or []
    if not isinstance(listed, list):
        raise MetricsError(f"{where}: hubble export: endpoint labels are not a list")
    raw_labels = [str(label) for label in listed]
    labels = tuple(sorted(label[4:] for label in raw_labels if label.startswith("k8s:")))
    namespace = endpoint.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        namespace = next((label.split("=", 1)[1] for label in labels
                          if label.startswith(_POD_NAMESPACE_LABEL + "=")), "")
    if not namespace:
        reserved = [label.split(":", 1)[1] for label in raw_labels
                    if label.startswith("reserved:")]
        return UNKNOWN, reserved[0] if reserved else "", ip
    name = ""
    workloads = endpoint.get("workloads")
    if isinstance(workloads, list) and workloads and isinstance(workloads[0], dict):
        got = workloads[0].get("name")
        name = got if isinstance(got, str) else ""
    kept = tuple(label for label in labels if not label.startswith(_IGNORED_LABEL_PREFIXES))
    pod = endpoint.get("pod_name")
    if not name and isinstance(pod, str) and pod:
        name = pod
        seen = pods.get((namespace, pod))
        # Some flows show a pod without its labels: they do not erase those another showed.
        if seen is None or (kept and not seen.labels) or (ip and not seen.ip):
            pods[(namespace, pod)] = SeenPod(namespace, pod, kept or (seen.labels if seen else ()),
                                             ip or (seen.ip if seen else ""))
    if name and ip:
        by_ip[ip] = (namespace, name)
    elif not name and ip and labels:
        # Named by its labels only (a peer seen from the other side): ``pod@IP`` until the IP
        # (in the capture or among the input's Pods) or the inventory (labels) names it.
        # An IP seen with different labels (a node address, a reused IP) names no one.
        key = (namespace, f"{IP_NAMED_POD}{ip}")
        seen = pods.get(key)
        pods[key] = SeenPod(*key, kept if seen is None or seen.labels == kept else (), ip)
    return namespace, name, ip


def _named(peer: tuple[str, str, str], by_ip: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(namespace, name) of a peer, by its IP when its flow did not name it."""
    namespace, name, ip = peer
    if name:
        return namespace, name
    if ip in by_ip:
        return by_ip[ip]
    return namespace, f"{IP_NAMED_POD}{ip}" if ip and namespace != UNKNOWN else UNKNOWN


def _hubble_connections(flows: list[_Flow],
                        by_ip: dict[str, tuple[str, str]]) -> list[ObservedEdge]:
    """One count per connection: flows of the same 5-tuple (the observation points of one
    packet path) are one connection, replies are dropped, and a flow that does not say whether
    it is a reply is one when the reverse 5-tuple is a known connection. L7 HTTP requests on a
    connection count as requests instead of the connection."""
    forward: dict[tuple[str, int, str, int, str], _Flow] = {}
    requests: Counter[tuple[str, int, str, int, str]] = Counter()
    named: dict[tuple[str, int, str, int, str], str] = {}
    undecided = []
    for flow in flows:
        if flow.service:
            named.setdefault(flow.key, flow.service)
        if flow.reply is True:
            continue
        if flow.reply is None:
            undecided.append(flow)
            continue
        forward.setdefault(flow.key, flow)
        if flow.request:
            requests[flow.key] += 1
    for flow in undecided:
        src_ip, src_port, dst_ip, dst_port, proto = flow.key
        if flow.key not in forward and (dst_ip, dst_port, src_ip, src_port, proto) not in forward:
            forward[flow.key] = flow
    edges = []
    for key, flow in forward.items():
        service = named.get(key, "")
        http = requests[key] > 0
        src, dst = _named(flow.source, by_ip), _named(flow.destination, by_ip)
        edges.append(ObservedEdge(
            source_namespace=src[0], source_workload=src[1],
            destination_namespace=dst[0],
            destination_service=service or (dst[1] if dst[0] == UNKNOWN else UNKNOWN),
            destination_workload=dst[1],
            protocol=HTTP if http else key[4], total=float(requests[key] if http else 1),
            mtls=0.0, tls_unknown=float(requests[key] if http else 1), evidence=PRESENCE))
    return edges


# --- Linkerd --------------------------------------------------------------------------------

def _linkerd(path: str, text: str) -> TrafficSnapshot:
    doc = _json(path, text, "linkerd")
    if not isinstance(doc, list):
        raise MetricsError(f"{path}: linkerd viz edges JSON must be a list of edges")
    edges: list[ObservedEdge] = []
    for i, row in enumerate(doc, 1):
        if not isinstance(row, dict) or not all(
                isinstance(row.get(key), str) and row[key] for key in ("dst", "dst_namespace")):
            raise MetricsError(f"{path}: linkerd edge {i} has no dst/dst_namespace")
        # Edges come from the client side only (tcp_open_connections, direction outbound):
        # proof that the traffic exists, never of Istio mTLS. dst is a workload (deployment,
        # pod ...): the Service is not named.
        edges.append(ObservedEdge(
            source_namespace=_str(row.get("src_namespace")), source_workload=_str(row.get("src")),
            destination_namespace=str(row["dst_namespace"]), destination_service=UNKNOWN,
            destination_workload=str(row["dst"]), protocol=TCP, total=1.0, mtls=0.0,
            tls_unknown=1.0, evidence=PRESENCE, at_least=True))
    return TrafficSnapshot.build(
        edges, window=UNKNOWN_WINDOW, source=f"linkerd export {path}", has_data=bool(edges),
        evidence=PRESENCE, resolution="edges open at export time (at least one connection "
        "each, no counts)", notes=[
            "Linkerd edges come from the client side: callers without a Linkerd proxy, and "
            "jobs not connected when the export ran, never appear; Linkerd's mTLS is not "
            "Istio's"])


# --- CSV ------------------------------------------------------------------------------------

def _csv(path: str, text: str) -> TrafficSnapshot:
    reader = csv.reader(io.StringIO(text), strict=True)
    edges: list[ObservedEdge] = []
    header: list[str] | None = None
    for row in _csv_rows(path, reader):
        lineno = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row]
        if header is None:
            header = cells
            if tuple(header) != CSV_HEADER:
                raise MetricsError(f"{path}:{lineno}: expected header "
                                   f"{','.join(CSV_HEADER)}")
            continue
        if len(cells) != len(CSV_HEADER):
            raise MetricsError(f"{path}:{lineno}: expected {len(CSV_HEADER)} columns, "
                               f"got {len(cells)}")
        src_ns, src_wl, dst_ns, dst_svc, requests, share = cells
        if not dst_ns or not dst_svc:
            raise MetricsError(f"{path}:{lineno}: destination_namespace and "
                               "destination_service are required")
        total = _decimal(requests, "requests", f"{path}:{lineno}")
        if share == "":
            # No share given: the security is not known.
            mtls, unknown, evidence = Decimal(0), total, PRESENCE
        else:
            fraction = _decimal(share, "mtls_share", f"{path}:{lineno}")
            if fraction > 1:
                raise MetricsError(f"{path}:{lineno}: mtls_share {share!r} is not in [0, 1]")
            mtls, unknown, evidence = total * fraction, Decimal(0), DECLARED
        edges.append(ObservedEdge(
            source_namespace=src_ns or UNKNOWN, source_workload=src_wl or UNKNOWN,
            destination_namespace=dst_ns, destination_service=dst_svc,
            destination_workload=UNKNOWN, protocol=HTTP, total=float(total),
            mtls=float(mtls), tls_unknown=float(unknown), evidence=evidence))
    if header is None:
        raise MetricsError(f"{path}: empty CSV: expected header {','.join(CSV_HEADER)}")
    return TrafficSnapshot.build(edges, window=UNKNOWN_WINDOW, source=f"csv export {path}",
                                 has_data=bool(edges), evidence=DECLARED,
                                 resolution="counts and shares as written in the file")


def _csv_rows(path: str, reader: Any) -> Iterator[list[str]]:
    """``reader``'s rows, with csv.Error (bad quoting, NUL) as a MetricsError at its line."""
    while True:
        try:
            row: list[str] = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise MetricsError(f"{path}:{reader.line_num}: bad CSV: {exc}") from exc
        yield row
