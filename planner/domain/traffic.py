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
from dataclasses import field, replace
from typing import Final, Literal, NamedTuple

from planner.domain.value import value_class

#: The traffic export formats ``--traffic-format`` names (``planner.sources.exports`` reads them).
EXPORT_FORMATS: Final = ("prometheus", "kiali", "hubble", "linkerd", "csv")

UNKNOWN: Final = "unknown"
"""Istio's value for a peer it could not identify (a caller without sidecar has no metadata
exchange, so its workload and namespace read ``unknown``)."""

HTTP: Final = "http"
TCP: Final = "tcp"
UDP: Final = "udp"
"""Seen by Hubble only; Istio's sidecars do not carry UDP, so STRICT does not touch it."""

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
    "request_protocol",
    "connection_security_policy",
)
"""The labels the traffic query aggregates by, server side (one series per edge and policy).
``request_protocol`` (``http``, ``grpc``, ``tcp``) stays in so that a saved answer says by
itself which of the two queries it answers: ``sum by`` drops the metric name."""

# --- evidence levels: what an observation can prove ------------------------------------------

PROOF: Final = "server-side"
"""Istio's server-side telemetry (``reporter="destination"`` with
``connection_security_policy``): proves mutual TLS or plaintext per caller."""
ROUNDED: Final = "rounded"
"""Kiali's securityPolicy appender: proves mutual TLS within its printed precision (``isMTLS``
in whole percent, rates with 5 decimals)."""
DECLARED: Final = "declared"
"""A CSV ``mtls_share``: stated by whoever wrote the file; meshplan cannot check how it was
measured. It shows that traffic exists and fails a gate when it declares plaintext, but it
passes one only when the user accepts it (``--trust-declared``, recorded in the snapshot)."""
PRESENCE: Final = "presence"
"""Shows that traffic exists, not whether it was Istio mutual TLS (Linkerd, Hubble, Istio's
client-side telemetry, Kiali without the securityPolicy appender, a CSV without a share)."""

EVIDENCE_LEVELS: Final[tuple[str, ...]] = (PROOF, ROUNDED, DECLARED, PRESENCE)
"""Strongest first. A gate rests on the weakest level among the edges it read."""

EVIDENCE_TEXT: Final[dict[str, str]] = {
    PROOF: "Istio server-side telemetry (reporter=destination, connection_security_policy)",
    ROUNDED: "Kiali's securityPolicy appender, within its rounding (isMTLS in whole percent: "
             "100 means at least 99.5%)",
    DECLARED: "the export's declared mtls_share (not measured by meshplan)",
    PRESENCE: "traffic seen, but not whether it was Istio mutual TLS",
}

TRUST_DECLARED_FLAG: Final = "--trust-declared"
"""The flag by which a user accepts a file's declared mTLS shares as proof."""

PROOF_HINT: Final = (
    "for proof, read Istio's server-side metrics: `planner plan --prometheus URL` (or save the "
    "two queries of docs/traffic.md and pass the answer with --traffic), or export the Kiali "
    "graph with appenders=securityPolicy")
"""What to run to turn an ``unknown`` gate into a proven one."""

EGRESS_SERVICES: Final = frozenset({"PassthroughCluster", "BlackHoleCluster"})
"""Envoy's clusters for hosts outside the service registry: egress, not a Service."""


def count_text(value: float, *, at_least: bool = False) -> str:
    """A count for people: no binary float noise (``4838.4``, not ``4838.400000000001``), no
    exponent for large counts, ``>=1`` for a figure known only to be at least that."""
    text = f"{round(value, 3):f}".rstrip("0").rstrip(".")
    text = "0" if text in ("", "-0") else text
    return f">={text}" if at_least else text

MUTUAL_TLS: Final = "mutual_tls"

# Prometheus durations: one or more <number><unit> in decreasing unit order ("1h30m", "7d").
_DURATION_RE: Final = re.compile(r"^(?:[0-9]+y)?(?:[0-9]+w)?(?:[0-9]+d)?(?:[0-9]+h)?"
                                 r"(?:[0-9]+m)?(?:[0-9]+s)?(?:[0-9]+ms)?$")
_METRIC_RE: Final = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# Kubernetes namespace names are DNS-1123 labels; anything else cannot match a real series,
# and refusing it keeps quotes and regex metacharacters out of the PromQL we build.
_NAMESPACE_RE: Final = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@value_class(order=True)
class ObservedEdge:
    """Calls from one workload to one Service over a window, as the *server* side saw them.

    ``total`` counts requests (``protocol == "http"``) or opened connections (``"tcp"``);
    ``mtls`` is the part of it that arrived as Istio mutual TLS. ``tls_unknown`` is the part
    whose security the source could not see (Hubble sees WireGuard/IPsec, not Istio mTLS; a
    CSV row without a share): it is neither mTLS nor plaintext and makes the gate ``unknown``.
    It is 0 for Prometheus data. ``evidence`` is what the observation can prove (one of
    :data:`EVIDENCE_LEVELS`); ``at_least`` marks a ``total`` that is only a lower bound because
    the source printed no usable count: a Kiali rate rounded to ``0.00000`` (at least one
    request, below the printed resolution; the importer then also leaves its share unknown) or
    a Kiali TCP rate, which is bytes per second (at least one connection). Field order is
    the sort order, so sorted snapshots read by source, then destination.
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
    evidence: str = PROOF
    at_least: bool = False

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
    def connections(self) -> bool:
        """True when ``total`` counts connections (TCP, UDP), False for requests (HTTP)."""
        return self.protocol != HTTP

    @property
    def unknown_caller(self) -> bool:
        """True when Istio could not name the caller (typically: no sidecar on the client)."""
        return self.source_workload == UNKNOWN or self.source_namespace == UNKNOWN

    @property
    def is_egress(self) -> bool:
        """True for traffic to a host outside the cluster's registry (Envoy's
        ``PassthroughCluster``, an unresolved host): egress, never a namespace."""
        return (self.destination_namespace == UNKNOWN
                or self.destination_service in EGRESS_SERVICES)

    def label(self) -> str:
        """``src-ns/src -> dst-ns/svc (protocol)``, for messages."""
        return (f"{self.source_namespace}/{self.source_workload} -> "
                f"{self.destination_namespace}/{self.destination_service} ({self.protocol})")


IP_NAMED_POD: Final = "pod@"
"""Name prefix of a pod a source showed by IP and labels only (``pod@10.244.0.148``)."""


class SeenPod(NamedTuple):
    """An endpoint a source named by pod only (Hubble without ``workloads``), to be mapped
    to its workload through the scanned inventory (:func:`planner.domain.observed.resolve_pods`).
    """

    namespace: str
    #: The pod name, or ``pod@<IP>`` for a peer the source showed by IP and labels only.
    name: str
    #: Pod labels ``key=value`` as the source saw them (Cilium's own labels left out).
    labels: tuple[str, ...] = ()
    ip: str = ""


POD_VIAS: Final[tuple[str, ...]] = ("owner-references", "pod-ip", "pod-name", "labels")
"""How a seen pod was mapped to its workload, most certain first: the input holds the Pod
(its ownerReferences name the workload); the input holds a Pod with that IP; the pod's name
follows its controller's naming (``<deployment>-<hash>-<id>``, ``<statefulset>-<n>`` ...); its
labels match one workload's pod template."""


@value_class
class PodMapping:
    """Where one :class:`SeenPod` went: ``workload`` is the workload's key
    (``Deployment/ns/name``) and ``via`` one of :data:`POD_VIAS`, both empty when it stayed
    unmapped (``reason`` says why). ``count`` adds up the requests and connections of the
    edges it is an endpoint of."""

    namespace: str
    pod: str
    workload: str
    via: str
    count: float
    reason: str = ""


@value_class
class TrafficSnapshot:
    """Every observed edge from one source over one window.

    ``has_data`` is False when the source returned no series at all; consumers must then say
    "no data", never "no plaintext". ``evidence`` is the strongest level the source can give
    (its edges may carry weaker ones), ``resolution`` what its figures can resolve (empty when
    they are exact counts), ``notes`` what the reader left out or could not resolve, in words.
    ``trust_declared`` records that the user accepted ``declared`` shares as proof.
    ``pods`` lists the endpoints the source named by pod only (Hubble);
    :func:`planner.domain.observed.resolve_pods` maps them to workloads and records each
    outcome in ``pod_mappings``.
    """

    edges: tuple[ObservedEdge, ...]
    window: str
    source: str
    has_data: bool
    evidence: str = PROOF
    resolution: str = ""
    notes: tuple[str, ...] = ()
    pods: tuple[SeenPod, ...] = ()
    pod_mappings: tuple[PodMapping, ...] = ()
    trust_declared: bool = False

    @classmethod
    def build(cls, edges: Iterable[ObservedEdge], *, window: str, source: str,
              has_data: bool | None = None, evidence: str = PROOF, resolution: str = "",
              notes: Iterable[str] = (), pods: tuple[SeenPod, ...] = ()) -> TrafficSnapshot:
        """A snapshot with ``edges`` merged (same edge key: totals added) and sorted.

        ``has_data`` defaults to "there is at least one edge".
        """
        merged = merge_edges(edges)
        return cls(edges=merged, window=window, source=source,
                   has_data=bool(merged) if has_data is None else has_data,
                   evidence=evidence, resolution=resolution, notes=tuple(notes), pods=pods)

    @property
    def where(self) -> str:
        """The source and its window, for reasons: ``prometheus http://... over 7d``; an export
        that does not say its window says so."""
        if self.window == UNKNOWN:
            return f"{self.source} (its window unknown: the export does not say)"
        return f"{self.source} over {self.window}"

    def namespaces(self) -> list[str]:
        """Destination namespaces with at least one series, sorted (egress is no namespace)."""
        return sorted({e.destination_namespace for e in self.edges if not e.is_egress})

    def egress(self) -> tuple[ObservedEdge, ...]:
        """Edges to hosts outside the cluster's registry (see :attr:`ObservedEdge.is_egress`)."""
        return tuple(e for e in self.edges if e.is_egress)


def trusting_declared(snapshot: TrafficSnapshot) -> TrafficSnapshot:
    """``snapshot`` with its ``declared`` shares accepted as proof (the user's
    ``--trust-declared``), and a note saying so when it has any."""
    note: tuple[str, ...] = ()
    if any(e.evidence == DECLARED for e in snapshot.edges):
        note = (f"{TRUST_DECLARED_FLAG}: the export's declared mtls_share is accepted as "
                "proof (not measured by meshplan)",)
    return replace(snapshot, trust_declared=True, notes=(*snapshot.notes, *note))


def merge_edges(edges: Iterable[ObservedEdge]) -> tuple[ObservedEdge, ...]:
    """Add up edges that share everything but their counts, and sort the result.

    Sources emit one row per (edge, security policy) or per export line; the domain wants one
    edge per caller/callee/protocol and evidence level. Sums are rounded to 9 decimals, so
    binary float noise never reaches a report; an edge is below resolution when any of its
    parts was.
    """
    sums: dict[tuple[str, str, str, str, str, str, str], list[float]] = defaultdict(
        lambda: [0.0, 0.0, 0.0, 0.0])
    for e in edges:
        key = (e.source_namespace, e.source_workload, e.destination_namespace,
               e.destination_service, e.destination_workload, e.protocol, e.evidence)
        acc = sums[key]
        acc[0] += e.total
        acc[1] += e.mtls
        acc[2] += e.tls_unknown
        acc[3] = max(acc[3], float(e.at_least))
    return tuple(sorted(
        ObservedEdge(*key[:6], total=round(t, 9), mtls=round(m, 9), tls_unknown=round(u, 9),
                     evidence=key[6], at_least=bool(b))
        for key, (t, m, u, b) in sums.items()))


Status = Literal["mtls-only", "mixed", "plaintext-only", "unverified", "no-data"]


@value_class
class NamespaceMtls:
    """Traffic into one destination namespace, split by protocol and by mutual TLS.

    ``requests_unknown`` and ``connections_unknown`` are the parts whose security the source
    could not see: neither mTLS nor plaintext.
    """

    namespace: str
    requests: float
    requests_mtls: float
    connections: float
    connections_mtls: float
    requests_unknown: float = 0.0
    connections_unknown: float = 0.0

    @property
    def tls_unknown(self) -> float:
        """Requests plus connections whose security the source could not see."""
        return self.requests_unknown + self.connections_unknown

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
    acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    for e in snapshot.edges:
        if e.is_egress:
            continue
        row = acc[e.destination_namespace]
        if e.connections:
            row[2] += e.total
            row[3] += e.mtls
            row[5] += e.tls_unknown
        else:
            row[0] += e.total
            row[1] += e.mtls
            row[4] += e.tls_unknown
    return {ns: NamespaceMtls(ns, *(round(v, 9) for v in acc[ns])) for ns in sorted(acc)}


def plaintext_callers(snapshot: TrafficSnapshot, namespace: str) -> list[ObservedEdge]:
    """Edges into ``namespace`` that carried any plaintext, biggest plaintext first.

    These are the callers STRICT would cut off; ``unknown`` callers have no sidecar and need
    their source IP (access logs, Hubble) to be named.
    """
    found = [e for e in snapshot.edges
             if e.destination_namespace == namespace and not e.is_egress and e.plaintext > 0]
    return sorted(found, key=lambda e: (-e.plaintext, e))


@value_class
class GateResult:
    """Outcome of the "no plaintext into this namespace" precondition.

    ``unknown`` means the evidence is missing or cannot prove it, and must block an automatic
    STRICT step the same way ``fail`` does; ``reason`` says which. ``evidence`` is the level
    the verdict rests on (the weakest among the edges read, one of :data:`EVIDENCE_LEVELS`;
    empty when nothing was read) and ``proof`` what to run to get proof (``unknown`` only).
    """

    status: Literal["pass", "fail", "unknown"]
    reason: str
    offenders: list[ObservedEdge] = field(default_factory=list)
    evidence: str = ""
    proof: str = ""


def weakest(levels: Iterable[str]) -> str:
    """The weakest of ``levels`` (empty when there are none)."""
    ranked = [EVIDENCE_LEVELS.index(level) for level in levels if level in EVIDENCE_LEVELS]
    return EVIDENCE_LEVELS[max(ranked)] if ranked else ""


def plaintext_gate(snapshot: TrafficSnapshot, namespace: str) -> GateResult:
    """Pass only when ``namespace`` received traffic in the window, all of it was mTLS, and
    the evidence can prove it (server-side telemetry, Kiali's rounded shares; a declared CSV
    share only when the snapshot says the user trusts it); weaker evidence gives ``unknown``
    with the reason and what to run for proof. Known plaintext fails at any level."""
    where = snapshot.where
    if not snapshot.has_data:
        return GateResult("unknown", f"no traffic data at all from {where}: the query "
                          "returned no series (wrong source or Istio metrics not scraped?)",
                          proof=PROOF_HINT)
    status = namespace_mtls_status(snapshot).get(namespace)
    if status is None:
        return GateResult("unknown", f"no series for destination namespace {namespace!r} in "
                          f"{where}: no traffic observed, so plaintext cannot be ruled out",
                          proof=PROOF_HINT)
    if status.status == "no-data":
        return GateResult("unknown", f"series for namespace {namespace!r} exist in {where} "
                          "but count no requests or connections in the window",
                          proof=PROOF_HINT)
    into = [e for e in snapshot.edges
            if e.destination_namespace == namespace and not e.is_egress and e.total > 0]
    offenders = plaintext_callers(snapshot, namespace)
    if offenders:
        unknown = sum(1 for e in offenders if e.unknown_caller)
        at_least = any(e.at_least for e in offenders)
        reason = (f"{len(offenders)} caller(s) sent plaintext into {namespace!r} "
                  f"({count_text(status.plaintext, at_least=at_least)} requests/connections) "
                  f"in {where}")
        if unknown:
            reason += (f"; {unknown} of them unidentified (no sidecar): find them by source "
                       "IP in access logs or Hubble")
        level = weakest(e.evidence for e in offenders)
        return GateResult("fail", f"{reason} (evidence: {EVIDENCE_TEXT[level]})", offenders,
                          evidence=level)
    unverified = [e for e in into if e.tls_unknown > 0]
    if unverified:
        return GateResult("unknown", _unverified_reason(snapshot, namespace, unverified),
                          unverified, evidence=weakest(e.evidence for e in unverified),
                          proof=PROOF_HINT)
    level = weakest(e.evidence for e in into)
    what = (f"all {count_text(status.requests)} requests and "
            f"{count_text(status.connections)} connections into {namespace!r}")
    if level == DECLARED and not snapshot.trust_declared:
        # A file says so, nothing measured it: it can show plaintext, never prove its absence.
        return GateResult("unknown", f"{what} are declared mutual TLS by {where}, but a "
                          "declared share is not proof: meshplan cannot check how it was "
                          f"measured (evidence: {EVIDENCE_TEXT[level]})", evidence=level,
                          proof=f"{PROOF_HINT}; or accept the file's shares as proof with "
                                f"{TRUST_DECLARED_FLAG} (recorded in the output)")
    return GateResult("pass", f"{what} were mutual TLS in {where} "
                      f"(evidence: {passed_on(level)})", evidence=level)


def passed_on(level: str) -> str:
    """The evidence a gate passed on, in words; declared shares passed only because the user
    trusted them, and the words say so."""
    trusted = f", accepted as proof by {TRUST_DECLARED_FLAG}" if level == DECLARED else ""
    return EVIDENCE_TEXT[level] + trusted


def _unverified_reason(snapshot: TrafficSnapshot, namespace: str,
                       unverified: list[ObservedEdge]) -> str:
    """Why traffic into ``namespace`` cannot be called mutual TLS, per cause."""
    amount = count_text(sum(e.tls_unknown for e in unverified),
                        at_least=any(e.at_least for e in unverified))
    causes = []
    presence = [e for e in unverified if e.evidence == PRESENCE]
    if presence:
        causes.append(f"{snapshot.source} shows that traffic exists, not whether it was "
                      "Istio mutual TLS")
    rounded = [e for e in unverified if e.at_least and e.evidence == ROUNDED]
    if rounded:
        causes.append(f"{len(rounded)} edge(s) carried at least one request below the "
                      f"printed resolution ({snapshot.resolution or 'rounded to zero'}), so "
                      "their mTLS share is not known")
    if not causes:
        causes.append(f"{snapshot.source} does not say whether it was mutual TLS")
    return (f"{len(unverified)} caller(s) into {namespace!r} sent {amount} "
            f"requests/connections whose mTLS status cannot be proven: {'; '.join(causes)}")


def validate_window(window: str) -> str:
    """Return ``window`` if it is a Prometheus duration (``7d``, ``1h30m``), else ValueError."""
    if not window or not _DURATION_RE.match(window) or not re.search(r"[1-9]", window):
        raise ValueError(f"invalid window {window!r}: expected a Prometheus duration like 7d")
    return window


def window_seconds(window: str) -> float:
    """Seconds in a Prometheus duration (``90s``, ``1h30m``, ``7d``); ValueError if invalid."""
    units = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1,
             "ms": 0.001}
    return float(sum(int(n) * units[u]
                     for n, u in re.findall(r"([0-9]+)(ms|[ywdhms])", validate_window(window))))


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


# --- after a STRICT step: did plaintext or failures rise? ------------------------------------

HEALTH_MARGIN: Final = 1.5
"""How much higher (per second) plaintext or failures must be after a STRICT step than before
it to count as risen: scrape timing alone moves a short window's rate by tens of percent."""


@value_class
class Health:
    """Plaintext and failed traffic into some namespaces over ``seconds``.

    ``plaintext`` counts server-side requests and connections that were not mutual TLS;
    ``failures`` counts what the callers' sidecars saw fail: requests answered 503 (Envoy's
    code for a reset or refused upstream, which is what a caller without the new config gets
    from a STRICT server) and TCP connections closed with a response flag.
    """

    plaintext: float
    failures: float
    seconds: float

    def rate(self, value: float) -> float:
        """``value`` per second of this window."""
        return value / self.seconds if self.seconds > 0 else 0.0


def health_rose(before: Health, after: Health) -> list[str]:
    """What rose from ``before`` to ``after``, per second, as words (empty: nothing did).

    A figure rose when after the step it is at least one event and more than
    :data:`HEALTH_MARGIN` times its rate before."""
    risen = []
    for what, old, new in (("plaintext", before.plaintext, after.plaintext),
                           ("connection failures", before.failures, after.failures)):
        if new >= 1 and after.rate(new) > HEALTH_MARGIN * before.rate(old):
            risen.append(f"{what} {before.rate(old) * 60:.3g}/min -> "
                         f"{after.rate(new) * 60:.3g}/min")
    return risen


def promql_health(namespaces: Iterable[str], window: str) -> tuple[str, str]:
    """(plaintext, failures) PromQL over ``window`` into ``namespaces``: each answers one
    sample (0 when nothing matched), see :class:`Health`."""
    sel = namespace_matcher(namespaces, "destination_service_namespace")
    window = validate_window(window)

    def total(*parts: str) -> str:
        return " + ".join(f"(sum(increase({p}[{window}])) or vector(0))" for p in parts)

    plaintext = total(
        f'{REQUESTS_METRIC}{{reporter="destination",connection_security_policy="none"{sel}}}',
        f'{TCP_METRIC}{{reporter="destination",connection_security_policy="none"{sel}}}')
    failures = total(
        f'{REQUESTS_METRIC}{{reporter="source",response_code="503"{sel}}}',
        f'istio_tcp_connections_closed_total{{reporter="source",response_flags!~"-|"{sel}}}')
    return plaintext, failures
