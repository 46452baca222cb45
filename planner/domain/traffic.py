"""Observed traffic: who called whom, and how much of it was Istio mutual TLS.

Pure data and functions; the sources in :mod:`planner.sources.prometheus` and
:mod:`planner.sources.exports` build a :class:`TrafficSnapshot`, the planner reads it here.

The one rule this module exists to enforce: *no data is not the same as no plaintext*. A
snapshot that came back empty, or a namespace that has no series in it, makes the plaintext
gate ``unknown``, never ``pass`` — turning STRICT on because a query matched nothing (a wrong
Prometheus, a typo in a label, a scrape config that drops Istio metrics) breaks callers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

UNKNOWN: Final = "unknown"
"""Istio's value for a peer it could not identify (a caller without sidecar has no metadata
exchange, so its workload and namespace read ``unknown``)."""

HTTP: Final = "http"
TCP: Final = "tcp"

REQUESTS_METRIC: Final = "istio_requests_total"
"""HTTP/1.1, HTTP/2 and gRPC requests (gRPC is counted here, one request per call)."""
TCP_METRIC: Final = "istio_tcp_connections_opened_total"
"""Opened TCP connections; the only signal for non-HTTP protocols (databases, Kafka ...)."""

METRIC_BY_PROTOCOL: Final[dict[str, str]] = {HTTP: REQUESTS_METRIC, TCP: TCP_METRIC}

DEFAULT_WINDOW: Final = "7d"
"""A week: weekly batch jobs and CronJobs call their servers once in a while; a 1h window
would not see them, and they are exactly the callers that break on the first STRICT night."""

GROUP_LABELS: Final[tuple[str, ...]] = (
    "source_workload",
    "source_workload_namespace",
    "destination_service_name",
    "destination_service_namespace",
    "destination_workload",
    "connection_security_policy",
)
"""The labels the traffic query aggregates by, server side (one series per edge and policy)."""

MUTUAL_TLS: Final = "mutual_tls"

# Prometheus durations: one or more <number><unit> in decreasing unit order ("1h30m", "7d").
_DURATION_RE: Final = re.compile(r"^(?:[0-9]+y)?(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?"
                                 r"(?:[0-9]+m)?(?:[0-9]+s)?(?:[0-9]+ms)?$")
_METRIC_RE: Final = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# Kubernetes namespace names are DNS-1123 labels; anything else cannot match a real series,
# and refusing it keeps quotes and regex metacharacters out of the PromQL we build.
_NAMESPACE_RE: Final = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, order=True)
class ObservedEdge:
    """Calls from one workload to one Service over a window, as the *server* side saw them.

    ``total`` counts requests (``protocol == "http"``) or opened connections (``"tcp"``);
    ``mtls`` is the part of it that arrived as Istio mutual TLS. ``tls_unknown`` is the part
    whose security the source could not see (Hubble sees WireGuard/IPsec, not Istio mTLS; a
    CSV row without a share): it is neither mTLS nor plaintext and makes the gate ``unknown``.
    It is 0 for Prometheus data. Field order is the sort order, so sorted snapshots read by
    source, then destination.
    """

    source_namespace: str
    source_workload: str
    destination_namespace: str
    destination_service: str
    destination_workload: str
    protocol: str
    total: float
    mtls: float
    tls_unknown: float = 0.0

    @property
    def plaintext(self) -> float:
        """Requests or connections known *not* to be mutual TLS (what STRICT would reject):
        ``total - mtls`` (minus ``tls_unknown``, when the source could not tell)."""
        return max(self.total - self.mtls - self.tls_unknown, 0.0)

    @property
    def mtls_share(self) -> float | None:
        """``mtls / total`` in ``[0, 1]``; ``None`` when the edge carried nothing in the window."""
        if self.total <= 0:
            return None
        return min(max(self.mtls / self.total, 0.0), 1.0)

    @property
    def unknown_caller(self) -> bool:
        """True when Istio could not name the caller (typically: no sidecar on the client)."""
        return self.source_workload == UNKNOWN or self.source_namespace == UNKNOWN

    def label(self) -> str:
        """``src-ns/src -> dst-ns/svc (protocol)``, for messages."""
        return (f"{self.source_namespace}/{self.source_workload} -> "
                f"{self.destination_namespace}/{self.destination_service} ({self.protocol})")


@dataclass(frozen=True)
class TrafficSnapshot:
    """Every observed edge from one source over one window.

    ``has_data`` is False when the source returned no series at all; consumers must then say
    "no data", never "no plaintext".
    """

    edges: tuple[ObservedEdge, ...]
    window: str
    source: str
    has_data: bool

    @classmethod
    def build(cls, edges: Iterable[ObservedEdge], *, window: str, source: str,
              has_data: bool | None = None) -> TrafficSnapshot:
        """A snapshot with ``edges`` merged (same edge key: totals added) and sorted.

        ``has_data`` defaults to "there is at least one edge".
        """
        merged = merge_edges(edges)
        return cls(edges=merged, window=window, source=source,
                   has_data=bool(merged) if has_data is None else has_data)

    def namespaces(self) -> list[str]:
        """Destination namespaces with at least one series, sorted."""
        return sorted({e.destination_namespace for e in self.edges})


def merge_edges(edges: Iterable[ObservedEdge]) -> tuple[ObservedEdge, ...]:
    """Add up edges that share everything but their counts, and sort the result.

    Sources emit one row per (edge, security policy) or per export line; the domain wants one
    edge per caller/callee/protocol.
    """
    sums: dict[tuple[str, str, str, str, str, str], list[float]] = defaultdict(
        lambda: [0.0, 0.0, 0.0])
    for e in edges:
        key = (e.source_namespace, e.source_workload, e.destination_namespace,
               e.destination_service, e.destination_workload, e.protocol)
        acc = sums[key]
        acc[0] += e.total
        acc[1] += e.mtls
        acc[2] += e.tls_unknown
    return tuple(sorted(ObservedEdge(*key, total=t, mtls=m, tls_unknown=u)
                        for key, (t, m, u) in sums.items()))


Status = Literal["mtls-only", "mixed", "plaintext-only", "unverified", "no-data"]


@dataclass(frozen=True)
class NamespaceMtls:
    """Traffic into one destination namespace, split by protocol and by mutual TLS.

    ``tls_unknown`` adds up requests and connections whose security the source could not see.
    """

    namespace: str
    requests: float
    requests_mtls: float
    connections: float
    connections_mtls: float
    tls_unknown: float = 0.0

    @property
    def total(self) -> float:
        """Requests plus connections (different units; only used for shares and zero tests)."""
        return self.requests + self.connections

    @property
    def mtls(self) -> float:
        """Mutual-TLS requests plus mutual-TLS connections."""
        return self.requests_mtls + self.connections_mtls

    @property
    def plaintext(self) -> float:
        """Requests plus connections known to be plaintext."""
        return max(self.total - self.mtls - self.tls_unknown, 0.0)

    @property
    def status(self) -> Status:
        """``mtls-only`` / ``mixed`` / ``plaintext-only``; ``unverified`` when there is no
        known plaintext but some traffic of unknown security; ``no-data`` when nothing arrived
        in the window (series present but all zero)."""
        if self.total <= 0:
            return "no-data"
        if self.plaintext <= 0:
            return "unverified" if self.tls_unknown > 0 else "mtls-only"
        if self.mtls <= 0:
            return "plaintext-only"
        return "mixed"


def namespace_mtls_status(snapshot: TrafficSnapshot) -> dict[str, NamespaceMtls]:
    """Per destination namespace: totals and mutual-TLS part, for HTTP and TCP separately.

    Only namespaces with at least one series appear; a namespace that is absent has no data
    (check with ``ns in result``), which is not the same as being clean.
    """
    acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0])
    for e in snapshot.edges:
        row = acc[e.destination_namespace]
        if e.protocol == TCP:
            row[2] += e.total
            row[3] += e.mtls
        else:
            row[0] += e.total
            row[1] += e.mtls
        row[4] += e.tls_unknown
    return {ns: NamespaceMtls(ns, *acc[ns]) for ns in sorted(acc)}


def plaintext_callers(snapshot: TrafficSnapshot, namespace: str) -> list[ObservedEdge]:
    """Edges into ``namespace`` that carried any plaintext, biggest plaintext first.

    These are the callers STRICT would cut off; ``unknown`` callers have no sidecar and need
    their source IP (access logs, Hubble) to be named.
    """
    found = [e for e in snapshot.edges
             if e.destination_namespace == namespace and e.plaintext > 0]
    return sorted(found, key=lambda e: (-e.plaintext, e))


@dataclass(frozen=True)
class GateResult:
    """Outcome of the "no plaintext into this namespace" precondition.

    ``unknown`` means the evidence is missing, and must block an automatic STRICT step the
    same way ``fail`` does; ``reason`` says which.
    """

    status: Literal["pass", "fail", "unknown"]
    reason: str
    offenders: list[ObservedEdge] = field(default_factory=list)


def plaintext_gate(snapshot: TrafficSnapshot, namespace: str) -> GateResult:
    """Pass only when ``namespace`` received traffic in the window and all of it was mTLS."""
    where = f"{snapshot.source} over {snapshot.window}"
    if not snapshot.has_data:
        return GateResult("unknown", f"no traffic data at all from {where}: the query "
                          "returned no series (wrong source or Istio metrics not scraped?)")
    status = namespace_mtls_status(snapshot).get(namespace)
    if status is None:
        return GateResult("unknown", f"no series for destination namespace {namespace!r} in "
                          f"{where}: no traffic observed, so plaintext cannot be ruled out")
    if status.status == "no-data":
        return GateResult("unknown", f"series for namespace {namespace!r} exist in {where} "
                          "but count no requests or connections in the window")
    offenders = plaintext_callers(snapshot, namespace)
    if offenders:
        unknown = sum(1 for e in offenders if e.unknown_caller)
        reason = (f"{len(offenders)} caller(s) sent plaintext into {namespace!r} "
                  f"({status.plaintext:g} requests/connections) in {where}")
        if unknown:
            reason += (f"; {unknown} of them unidentified (no sidecar): find them by source "
                       "IP in access logs or Hubble")
        return GateResult("fail", reason, offenders)
    if status.tls_unknown > 0:
        unverified = [e for e in snapshot.edges
                      if e.destination_namespace == namespace and e.tls_unknown > 0]
        return GateResult("unknown", f"{len(unverified)} caller(s) into {namespace!r} sent "
                          f"{status.tls_unknown:g} requests/connections whose mTLS status "
                          f"{snapshot.source} cannot see", unverified)
    return GateResult("pass", f"all {status.requests:g} requests and {status.connections:g} "
                      f"connections into {namespace!r} were mutual TLS in {where}")


def validate_window(window: str) -> str:
    """Return ``window`` if it is a Prometheus duration (``7d``, ``1h30m``), else ValueError."""
    if not window or not _DURATION_RE.match(window) or not re.search(r"[1-9]", window):
        raise ValueError(f"invalid window {window!r}: expected a Prometheus duration like 7d")
    return window


def validate_namespace(namespace: str) -> str:
    """Return ``namespace`` if it is a valid Kubernetes namespace name, else ValueError."""
    if not _NAMESPACE_RE.match(namespace):
        raise ValueError(f"invalid namespace name {namespace!r}")
    return namespace


def namespace_matcher(namespaces: Iterable[str] | None, label: str) -> str:
    """``,label=~"a|b"`` (or ``=`` for one) to add to a selector; empty for all namespaces."""
    if namespaces is None:
        return ""
    names = sorted({validate_namespace(n) for n in namespaces})
    if not names:
        raise ValueError("empty namespace list: pass None for all namespaces")
    if len(names) == 1:
        return f',{label}="{names[0]}"'
    # Names are DNS labels (checked above), so no regex metacharacter can appear in them.
    return f',{label}=~"{"|".join(names)}"'


def promql_traffic_query(metric: str, window: str,
                         namespaces: Iterable[str] | None = None) -> str:
    """The aggregated traffic query the Prometheus source runs, one per metric.

    ``reporter="destination"`` because ``connection_security_policy`` is only meaningful on
    the server side (the client side always says ``unknown``); ``increase`` gives counts over
    the window rather than rates.
    """
    metric = _metric_name(metric)
    sel = f'reporter="destination"{namespace_matcher(namespaces, "destination_service_namespace")}'
    return (f"sum by ({', '.join(GROUP_LABELS)}) "
            f"(increase({metric}{{{sel}}}[{validate_window(window)}]))")


def promql_plaintext_query(namespace: str | None, window: str, metric: str) -> str:
    """PromQL that returns one series per caller still sending plaintext; empty = none.

    ``metric`` is a metric name or ``http``/``tcp``; ``namespace=None`` covers the mesh.
    Used as the machine-checkable precondition of a STRICT step. An empty answer only proves
    something when the same Prometheus has traffic for the namespace at all (see
    :func:`plaintext_gate`); ``> 0`` drops edges whose plaintext counter did not move.
    """
    metric = _metric_name(metric)
    ns = None if namespace is None else [namespace]
    sel = ('reporter="destination",connection_security_policy!="mutual_tls"'
           + namespace_matcher(ns, "destination_service_namespace"))
    labels = ", ".join(label for label in GROUP_LABELS if label != "connection_security_policy")
    return (f"sum by ({labels}) "
            f"(increase({metric}{{{sel}}}[{validate_window(window)}])) > 0")


def _metric_name(metric: str) -> str:
    """A metric name; the protocol names ``http``/``tcp`` stand for their Istio metric."""
    metric = METRIC_BY_PROTOCOL.get(metric, metric)
    if not _METRIC_RE.match(metric):
        raise ValueError(f"invalid metric name {metric!r}")
    return metric
