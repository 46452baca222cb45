"""Observed traffic from files: for clusters the planner cannot query, or for CI.

Formats (``fmt``; autodetected when None — see :func:`detect_format`), each documented with
an example in ``docs/traffic.md``:

``prometheus``  a saved ``/api/v1/query`` response of the traffic query (resultType
                ``vector``). A bare response is the *requests* query; a JSON object
                ``{"requests": <response>, "tcp": <response>}`` carries both metrics; or pass
                two files to :func:`load_prometheus_responses`.
``kiali``       a Kiali graph (``/api/namespaces/graph``) with the securityPolicy appender.
``hubble``      ``hubble observe -o json`` lines (``{"flow": {...}}`` or bare flows).
``linkerd``     ``linkerd viz edges -o json``.
``csv``         ``source_namespace,source_workload,destination_namespace,
                destination_service,requests,mtls_share``.

Contract: every function returns a :class:`TrafficSnapshot` or raises
:class:`~planner.errors.MetricsError` with one line naming the file and the problem (with a
line number for CSV and JSON lines). Nothing is printed.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Final

from planner.domain.traffic import (
    HTTP,
    TCP,
    TCP_METRIC,
    UNKNOWN,
    ObservedEdge,
    TrafficSnapshot,
)
from planner.errors import MetricsError
from planner.sources.prometheus import vector_edges

FORMATS: Final = ("prometheus", "kiali", "hubble", "linkerd", "csv")
CSV_HEADER: Final = ("source_namespace", "source_workload", "destination_namespace",
                     "destination_service", "requests", "mtls_share")
UNKNOWN_WINDOW: Final = "unknown"
"""Window of an export that does not say which time span it covers."""


def load_traffic_export(path: str, fmt: str | None = None) -> TrafficSnapshot:
    """Read one traffic export file; ``fmt`` is one of :data:`FORMATS` or None to detect."""
    text = _read(path)
    fmt = detect_format(path, text) if fmt is None else fmt
    loaders: dict[str, Callable[[str, str], TrafficSnapshot]] = {
        "prometheus": _prometheus, "kiali": _kiali, "hubble": _hubble,
        "linkerd": _linkerd, "csv": _csv}
    if fmt not in loaders:
        raise MetricsError(f"{path}: unknown traffic format {fmt!r} "
                           f"(expected one of {', '.join(FORMATS)})")
    return loaders[fmt](path, text)


def load_prometheus_responses(requests_path: str,
                              tcp_path: str | None = None) -> TrafficSnapshot:
    """Two saved query responses: the ``istio_requests_total`` one and, optionally, the
    ``istio_tcp_connections_opened_total`` one (same query, other metric)."""
    snap = _prometheus(requests_path, _read(requests_path))
    if tcp_path is None:
        return snap
    doc = _json(tcp_path, _read(tcp_path))
    tcp = vector_edges(_vector(tcp_path, doc, "tcp"), TCP, tcp_path)
    return TrafficSnapshot.build([*snap.edges, *tcp], window=UNKNOWN_WINDOW,
                                 source=f"prometheus export {requests_path} + {tcp_path}",
                                 has_data=snap.has_data or bool(tcp))


def detect_format(path: str, text: str) -> str:
    """Guess the format from the content (and a ``.csv`` suffix); MetricsError if unsure."""
    stripped = text.lstrip()
    if path.lower().endswith(".csv") or stripped.startswith("source_namespace,"):
        return "csv"
    if not stripped:
        raise MetricsError(f"{path}: empty traffic export")
    try:
        doc = json.loads(stripped)
    except ValueError:
        # Several JSON documents, one per line: hubble observe -o json.
        if stripped.startswith("{"):
            return "hubble"
        raise MetricsError(f"{path}: not JSON, JSON lines or CSV with the traffic header") \
            from None
    if isinstance(doc, list):
        return "linkerd"
    if isinstance(doc, dict):
        if "elements" in doc:
            return "kiali"
        if ("data" in doc and "status" in doc) or {"requests", "tcp"} & doc.keys():
            return "prometheus"
        if "flow" in doc or {"source", "destination"} <= doc.keys():
            return "hubble"
    raise MetricsError(f"{path}: cannot tell the traffic format; give it explicitly "
                       f"({', '.join(FORMATS)})")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise MetricsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from exc
    except OSError as exc:
        raise MetricsError(f"{path}: cannot read traffic export: "
                           f"{exc.strerror or exc}") from exc


def _json(path: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MetricsError(f"{path}: malformed JSON: {exc}") from exc


# --- Prometheus ---------------------------------------------------------------------------

def _vector(path: str, doc: Any, what: str) -> list[dict[str, Any]]:
    where = f"{path}: {what} response"
    if not isinstance(doc, dict) or doc.get("status") != "success":
        raise MetricsError(f"{where} is not a successful Prometheus query response "
                           "(expected status 'success')")
    data = doc.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        got = data.get("resultType") if isinstance(data, dict) else None
        raise MetricsError(f"{where}: expected data.resultType 'vector', got {got!r}")
    result = data.get("result")
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        raise MetricsError(f"{where}: data.result is not a list of series")
    for i, row in enumerate(result, 1):
        labels = row.get("metric")
        if not isinstance(labels, dict) or "connection_security_policy" not in labels:
            # Without the label a series would silently read as plaintext (or as mTLS).
            raise MetricsError(f"{where}: series {i} has no connection_security_policy "
                               "label; save the output of the query in docs/traffic.md")
        if labels.get("reporter", "destination") != "destination":
            raise MetricsError(f"{where}: series {i} is reporter={labels['reporter']!r}; "
                               "only reporter=\"destination\" knows the security policy")
    return result


def _prometheus(path: str, text: str) -> TrafficSnapshot:
    doc = _json(path, text)
    if isinstance(doc, dict) and ("requests" in doc or "tcp" in doc) and "status" not in doc:
        parts = [(HTTP, doc["requests"]) if "requests" in doc else None,
                 (TCP, doc["tcp"]) if "tcp" in doc else None]
    else:
        parts = [(HTTP, doc), None]
    edges: list[ObservedEdge] = []
    series = 0
    for part in parts:
        if part is None:
            continue
        protocol, response = part
        result = _vector(path, response, "requests" if protocol == HTTP else "tcp")
        series += len(result)
        for row in result:
            # A bare response that still carries __name__ says which metric it is.
            proto = TCP if row["metric"].get("__name__") == TCP_METRIC else protocol
            edges.extend(vector_edges([row], proto, path))
    return TrafficSnapshot.build(edges, window=UNKNOWN_WINDOW,
                                 source=f"prometheus export {path}", has_data=series > 0)


# --- Kiali ----------------------------------------------------------------------------------

def _number(value: Any, what: str, where: str) -> float:
    """A finite count, rate or share >= 0. Kiali writes them as strings ("12.5"), so both
    strings and numbers are accepted; ``where`` is ``path`` or ``path:line``."""
    try:
        got = float(value)
    except (TypeError, ValueError):
        raise MetricsError(f"{where}: {what} {value!r} is not a number") from None
    if not math.isfinite(got) or got < 0:
        raise MetricsError(f"{where}: {what} {value!r} is not a non-negative number")
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
    doc = _json(path, text)
    elements = doc.get("elements") if isinstance(doc, dict) else None
    if not isinstance(elements, dict):
        raise MetricsError(f"{path}: Kiali graph has no 'elements' object")
    nodes_raw = elements.get("nodes") or []
    edges_raw = elements.get("edges") or []
    if not isinstance(nodes_raw, list) or not isinstance(edges_raw, list):
        raise MetricsError(f"{path}: Kiali elements.nodes/edges must be lists")
    duration = _number(doc.get("duration", 0), "duration", path)
    nodes: dict[str, dict[str, Any]] = {}
    for i, node in enumerate(nodes_raw, 1):
        data = node.get("data") if isinstance(node, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise MetricsError(f"{path}: Kiali node {i} has no data.id")
        nodes[data["id"]] = data
    datas: list[dict[str, Any]] = []
    for i, edge in enumerate(edges_raw, 1):
        data = edge.get("data") if isinstance(edge, dict) else None
        if not isinstance(data, dict) or data.get("source") not in nodes \
                or data.get("target") not in nodes:
            raise MetricsError(f"{path}: Kiali edge {i} has no data.source/target naming "
                               "a node")
        datas.append(data)
    # Kiali omits isMTLS when it is 0 *and* when the securityPolicy appender did not run; the
    # principals are only there when it ran, so they tell the two cases apart.
    if datas and not any(k in d for d in datas
                         for k in ("isMTLS", "sourcePrincipal", "destPrincipal")):
        raise MetricsError(f"{path}: Kiali graph has no mTLS data; export it with the "
                           "securityPolicy appender (appenders=...,securityPolicy)")
    called = {d["target"] for d in datas}
    edges: list[ObservedEdge] = []
    for i, data in enumerate(datas, 1):
        src, dst = nodes[data["source"]], nodes[data["target"]]
        if src.get("nodeType") == "service" and data["source"] in called:
            # Second hop of workload -> service -> workload: already counted on the first.
            continue
        edges.extend(_kiali_edge(path, i, data, src, dst, datas, nodes, duration))
    return TrafficSnapshot.build(edges, window=window_from_seconds(duration),
                                 source=f"kiali export {path}", has_data=bool(edges))


def _kiali_edge(path: str, i: int, data: dict[str, Any], src: dict[str, Any],
                dst: dict[str, Any], datas: list[dict[str, Any]],
                nodes: dict[str, dict[str, Any]], duration: float) -> Iterator[ObservedEdge]:
    traffic = data.get("traffic")
    if not isinstance(traffic, dict):
        return
    rates = traffic.get("rates")
    if not isinstance(rates, dict):
        return
    proto = str(traffic.get("protocol", ""))
    if proto in ("http", "grpc"):
        rate = _number(rates.get(proto, 0), f"edge {i} traffic.rates.{proto}", path)
        protocol = HTTP
    elif proto == "tcp":
        # Kiali's TCP rate is bytes/s, not connections: the total is in bytes; shares hold.
        rate = _number(rates.get("tcp", 0), f"edge {i} traffic.rates.tcp", path)
        protocol = TCP
    else:
        return
    share = _number(data.get("isMTLS", 0), f"edge {i} isMTLS", path) / 100.0
    if share > 1:
        raise MetricsError(f"{path}: Kiali edge {i} isMTLS {data['isMTLS']!r} is over 100")
    # Rates are per second over the graph's duration; without one, keep the rate as the count.
    total = rate * duration if duration > 0 else rate
    src_name = _kiali_name(src, "workload", "app", "service")
    dst_workload = UNKNOWN
    if dst.get("nodeType") == "service":
        onward = [nodes[d["target"]] for d in datas if d["source"] == data["target"]]
        names = {_kiali_name(n, "workload", "app") for n in onward}
        if len(names) == 1:
            dst_workload = names.pop()
    else:
        dst_workload = _kiali_name(dst, "workload", "app")
    yield ObservedEdge(
        source_namespace=_str(src.get("namespace")),
        source_workload=src_name,
        destination_namespace=_str(dst.get("namespace")),
        destination_service=_kiali_name(dst, "service", "workload", "app"),
        destination_workload=dst_workload,
        protocol=protocol, total=total, mtls=total * share)


def _kiali_name(node: dict[str, Any], *keys: str) -> str:
    for key in keys:
        if isinstance(node.get(key), str) and node[key]:
            return str(node[key])
    return UNKNOWN


def _str(value: Any) -> str:
    return value if isinstance(value, str) and value else UNKNOWN


# --- Hubble ---------------------------------------------------------------------------------

def _hubble(path: str, text: str) -> TrafficSnapshot:
    edges: list[ObservedEdge] = []
    times: list[datetime] = []
    flows = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise MetricsError(f"{path}:{lineno}: malformed JSON line: {exc}") from exc
        if not isinstance(doc, dict):
            raise MetricsError(f"{path}:{lineno}: expected a JSON object per line")
        flow = doc.get("flow", doc if "source" in doc or "destination" in doc else None)
        if flow is None:
            continue  # lost_events, agent_event, node_status ...: not traffic
        if not isinstance(flow, dict):
            raise MetricsError(f"{path}:{lineno}: 'flow' is not an object")
        flows += 1
        stamp = _hubble_time(flow.get("time") or doc.get("time"))
        if stamp is not None:
            times.append(stamp)
        edge = _hubble_edge(path, lineno, flow)
        if edge is not None:
            edges.append(edge)
    window = UNKNOWN_WINDOW
    if len(times) >= 2:
        window = window_from_seconds(math.ceil((max(times) - min(times)).total_seconds()))
    return TrafficSnapshot.build(edges, window=window, source=f"hubble export {path}",
                                 has_data=flows > 0)


def _hubble_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        # Hubble prints nanoseconds; datetime takes microseconds, so cut the extra digits.
        head, _, frac = value.rstrip("Z").partition(".")
        return datetime.fromisoformat(head + (f".{frac[:6]}" if frac else "") + "+00:00")
    except ValueError:
        return None


def _hubble_edge(path: str, lineno: int, flow: dict[str, Any]) -> ObservedEdge | None:
    """One flow -> one connection (or, for L7 HTTP requests, one request); None to skip."""
    if flow.get("verdict") in ("DROPPED", "ERROR") or flow.get("is_reply") is True:
        return None  # a dropped caller is already cut off; a reply is not a new caller
    l7 = flow.get("l7")
    if isinstance(l7, dict):
        if l7.get("type") != "REQUEST" or "http" not in l7:
            return None
        protocol = HTTP
    else:
        l4 = flow.get("l4") or {}
        tcp = l4.get("TCP") if isinstance(l4, dict) else None
        flags = tcp.get("flags") if isinstance(tcp, dict) else None
        if isinstance(flags, dict) and not (flags.get("SYN") and not flags.get("ACK")):
            return None  # count a TCP connection once, at its opening SYN
        protocol = TCP
    src, dst = flow.get("source") or {}, flow.get("destination") or {}
    if not isinstance(src, dict) or not isinstance(dst, dict):
        raise MetricsError(f"{path}:{lineno}: flow source/destination must be objects")
    svc = flow.get("destination_service") or {}
    dst_ns = _str(dst.get("namespace"))
    dst_wl = _hubble_workload(dst)
    dst_svc = _str(svc.get("name")) if isinstance(svc, dict) else UNKNOWN
    if dst_svc == UNKNOWN:
        dst_svc = dst_wl
    # Hubble sees WireGuard/IPsec (IP.encrypted), not Istio mTLS inside the payload; only
    # Cilium's own SPIRE mutual authentication is a positive statement about peer identity.
    secured = flow.get("auth_type") == "SPIRE"
    return ObservedEdge(
        source_namespace=_str(src.get("namespace")), source_workload=_hubble_workload(src),
        destination_namespace=dst_ns, destination_service=dst_svc,
        destination_workload=dst_wl, protocol=protocol, total=1.0,
        mtls=1.0 if secured else 0.0, tls_unknown=0.0 if secured else 1.0)


def _hubble_workload(endpoint: dict[str, Any]) -> str:
    if not endpoint.get("namespace"):
        return UNKNOWN  # world, host, remote node: no identity Istio could match either
    workloads = endpoint.get("workloads")
    if isinstance(workloads, list) and workloads and isinstance(workloads[0], dict):
        name = workloads[0].get("name")
        if isinstance(name, str) and name:
            return name
    return _str(endpoint.get("pod_name"))


# --- Linkerd --------------------------------------------------------------------------------

def _linkerd(path: str, text: str) -> TrafficSnapshot:
    doc = _json(path, text)
    if not isinstance(doc, list):
        raise MetricsError(f"{path}: linkerd viz edges JSON must be a list of edges")
    edges: list[ObservedEdge] = []
    for i, row in enumerate(doc, 1):
        if not isinstance(row, dict) or not row.get("dst") or not row.get("dst_namespace"):
            raise MetricsError(f"{path}: linkerd edge {i} has no dst/dst_namespace")
        reason = row.get("no_tls_reason")
        known = isinstance(reason, str)
        secured = known and not reason
        # An edge is a presence, not a count: total 1. dst is a workload (deployment, pod
        # ...), not a Service; it stands in for the Service name.
        edges.append(ObservedEdge(
            source_namespace=_str(row.get("src_namespace")), source_workload=_str(row.get("src")),
            destination_namespace=str(row["dst_namespace"]),
            destination_service=str(row["dst"]), destination_workload=str(row["dst"]),
            protocol=TCP, total=1.0, mtls=1.0 if secured else 0.0,
            tls_unknown=0.0 if known else 1.0))
    return TrafficSnapshot.build(edges, window=UNKNOWN_WINDOW,
                                 source=f"linkerd export {path}", has_data=bool(edges))


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
        total = _number(requests, "requests", f"{path}:{lineno}")
        if share == "":
            mtls, unknown = 0.0, total  # no share given: the security is not known
        else:
            fraction = _number(share, "mtls_share", f"{path}:{lineno}")
            if fraction > 1:
                raise MetricsError(f"{path}:{lineno}: mtls_share {share!r} is not in [0, 1]")
            mtls, unknown = total * fraction, 0.0
        edges.append(ObservedEdge(
            source_namespace=src_ns or UNKNOWN, source_workload=src_wl or UNKNOWN,
            destination_namespace=dst_ns, destination_service=dst_svc,
            destination_workload=UNKNOWN, protocol=HTTP, total=total, mtls=mtls,
            tls_unknown=unknown))
    if header is None:
        raise MetricsError(f"{path}: empty CSV: expected header {','.join(CSV_HEADER)}")
    return TrafficSnapshot.build(edges, window=UNKNOWN_WINDOW, source=f"csv export {path}",
                                 has_data=bool(edges))


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
