"""Observed traffic from a live Prometheus, through its HTTP query API (stdlib only).

Contract: :meth:`PrometheusClient.fetch_traffic` makes exactly two ``/api/v1/query`` calls,
one per Istio metric, each aggregated server side (``sum by`` edge and security policy), so
the cost does not grow with pods or scrape targets, only with the number of edges. Every
failure raises :class:`~planner.errors.MetricsError` with one line naming the URL; nothing is
printed. An empty answer gives ``has_data=False``, never "no plaintext".
"""

from __future__ import annotations

import base64
import json
import math
import os
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from planner.domain.traffic import (
    DEFAULT_WINDOW,
    HTTP,
    MUTUAL_TLS,
    PRESENCE,
    PROOF,
    REQUESTS_METRIC,
    TCP,
    TCP_METRIC,
    UNKNOWN,
    Health,
    ObservedEdge,
    TrafficSnapshot,
    promql_health,
    promql_traffic_query,
    window_seconds,
)
from planner.errors import MetricsError
from planner.untrusted import one_line

if TYPE_CHECKING:
    from planner.domain.authz_rollout import ShadowDenials

TOKEN_ENV: Final = "PLANNER_PROMETHEUS_TOKEN"
"""Environment variable holding a bearer token (``--prometheus-token-file`` wins over it)."""

INCREASE_RESOLUTION: Final = ("counts are increase() over the window: extrapolated to its "
                              "edges, so not whole numbers")

PLAINTEXT_POLICY: Final = "none"
"""Istio's ``connection_security_policy`` of a plaintext request, on the server side."""

_USER_AGENT: Final = "meshplan"
_MAX_ERROR_BODY: Final = 200


def resolve_bearer_token(token_file: str | None = None,
                         env: Mapping[str, str] | None = None) -> str | None:
    """The bearer token: from ``token_file`` if given, else ``$PLANNER_PROMETHEUS_TOKEN``.

    A file beats the environment because it is the explicit choice on the command line. The
    token is stripped of surrounding whitespace (files usually end with a newline) and never
    appears in an error message.
    """
    if token_file is not None:
        try:
            with open(token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            # "token file", not "token:": the message passes the credential redaction, which
            # would take the reason after "token:" for a token and print "REDACTED a directory".
            raise MetricsError(f"{token_file}: cannot read the Prometheus token file: "
                               f"{_os_reason(exc)}") from exc
        if not token:
            raise MetricsError(f"{token_file}: Prometheus token file is empty")
        return token
    value = (os.environ if env is None else env).get(TOKEN_ENV, "").strip()
    return value or None


class PrometheusClient:
    """A read-only client for one Prometheus (or Thanos/Mimir query frontend) base URL.

    ``request_count`` counts HTTP requests sent, so callers and benchmarks can check that a
    traffic fetch stays at two requests whatever the cluster size.
    """

    def __init__(self, url: str, *, bearer_token: str | None = None,
                 ca_file: str | None = None, insecure: bool = False,
                 timeout_s: float = 30) -> None:
        parsed = urllib.parse.urlsplit(url)
        try:
            port = parsed.port
        except ValueError:
            port = None
            parsed = parsed._replace(netloc="")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise MetricsError(f"{_strip_userinfo(url)}: not an http(s) Prometheus URL")
        host = parsed.hostname
        netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        # Credentials in the URL must not leak into messages or the report's "source" line;
        # they are sent as Basic auth instead (a bearer token wins when both are given).
        self.display_url = urllib.parse.urlunsplit(
            (parsed.scheme, netloc, parsed.path.rstrip("/"), "", ""))
        self._base = self.display_url
        self._basic: str | None = None
        if parsed.username is not None:
            pair = f"{urllib.parse.unquote(parsed.username)}:" \
                   f"{urllib.parse.unquote(parsed.password or '')}"
            self._basic = base64.b64encode(pair.encode()).decode()
        self._token = bearer_token
        self._timeout = timeout_s
        self._context = self._ssl_context(parsed.scheme, ca_file, insecure)
        self.request_count = 0

    def _ssl_context(self, scheme: str, ca_file: str | None,
                     insecure: bool) -> ssl.SSLContext | None:
        if scheme != "https":
            return None
        try:
            ctx = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise MetricsError(f"{self.display_url}: cannot load CA file {ca_file}: "
                               f"{_os_reason(exc)}") from exc
        if insecure:
            # Explicit opt-in only, as kubectl's --insecure-skip-tls-verify.
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Run an instant query; return ``data.result`` of a ``vector`` answer."""
        body = urllib.parse.urlencode(
            {"query": promql, "timeout": f"{max(int(self._timeout), 1)}s"}).encode()
        # POST: a query with a long namespace list would not fit every proxy's URL limit.
        req = urllib.request.Request(self._base + "/api/v1/query", data=body, method="POST")
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header("Accept", "application/json")
        req.add_header("User-Agent", _USER_AGENT)
        if self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        elif self._basic:
            req.add_header("Authorization", f"Basic {self._basic}")
        where = f"Prometheus {self.display_url}"
        self.request_count += 1
        try:
            with urllib.request.urlopen(req, timeout=self._timeout,
                                        context=self._context) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise MetricsError(f"{where}: HTTP {exc.code}{_error_detail(exc)}") from exc
        except urllib.error.URLError as exc:
            raise MetricsError(f"{where}: {_url_reason(exc.reason, self._timeout)}") from exc
        except TimeoutError as exc:
            raise MetricsError(f"{where}: timed out after {self._timeout:g}s") from exc
        except (OSError, ValueError) as exc:  # reset mid-body, bad chunking ...
            raise MetricsError(f"{where}: {_os_reason(exc)}") from exc
        return _vector_result(raw, where)

    def fetch_traffic(self, *, window: str = DEFAULT_WINDOW,
                      namespaces: Sequence[str] | None = None) -> TrafficSnapshot:
        """Observed edges over ``window`` into ``namespaces`` (all when None): two queries."""
        try:
            queries = [(HTTP, promql_traffic_query(REQUESTS_METRIC, window, namespaces)),
                       (TCP, promql_traffic_query(TCP_METRIC, window, namespaces))]
        except ValueError as exc:
            raise MetricsError(f"Prometheus {self.display_url}: {exc}") from exc
        edges: list[ObservedEdge] = []
        series = 0
        for protocol, promql in queries:
            result = self.query(promql)
            series += len(result)
            edges.extend(_edge(row, protocol, f"Prometheus {self.display_url}")
                         for row in result)
        return TrafficSnapshot.build(edges, window=window,
                                     source=f"prometheus {self.display_url}",
                                     has_data=series > 0, resolution=INCREASE_RESOLUTION)


    def value(self, promql: str) -> float:
        """The one sample of a query that answers a single number (``sum(...)``)."""
        result = self.query(promql)
        where = f"Prometheus {self.display_url}"
        if len(result) != 1:
            raise MetricsError(f"{where}: expected one sample, got {len(result)}")
        return _edge({"metric": {}, "value": result[0].get("value")}, HTTP, where).total

    def health(self, namespaces: Sequence[str], window: str) -> Health:
        """Plaintext and failures into ``namespaces`` over ``window`` (two queries)."""
        try:
            plaintext, failures = promql_health(namespaces, window)
            seconds = window_seconds(window)
        except ValueError as exc:
            raise MetricsError(f"Prometheus {self.display_url}: {exc}") from exc
        return Health(self.value(plaintext), self.value(failures), seconds)

    def shadow_denials(self, namespaces: Sequence[str], window: str) -> ShadowDenials:
        """What the dry-run ALLOW policies in ``namespaces`` would have denied over
        ``window``, per pod, from Envoy's shadow RBAC counters (one query)."""
        from planner.domain.authz_rollout import promql_shadow_denials, shadow_denials_from

        where = f"Prometheus {self.display_url}"
        try:
            promql = promql_shadow_denials(namespaces, window)
        except ValueError as exc:
            raise MetricsError(f"{where}: {exc}") from exc
        rows = []
        for row in self.query(promql):
            metric, count = _sample(row, where)
            rows.append(({str(k): str(v) for k, v in metric.items()}, count))
        return shadow_denials_from(rows, source=f"prometheus {self.display_url}",
                                   window=window, namespaces=namespaces)


def fetch_traffic(url: str, *, window: str = DEFAULT_WINDOW, bearer_token: str | None = None,
                  ca_file: str | None = None, insecure: bool = False, timeout_s: float = 30,
                  namespaces: list[str] | None = None) -> TrafficSnapshot:
    """Observed traffic from the Prometheus at ``url``; see :class:`PrometheusClient`.

    The default window is 7 days so weekly batch jobs and CronJobs show up as callers; a 1h
    window would call a namespace clean while its Sunday job still speaks plaintext.
    """
    client = PrometheusClient(url, bearer_token=bearer_token, ca_file=ca_file,
                              insecure=insecure, timeout_s=timeout_s)
    return client.fetch_traffic(window=window, namespaces=namespaces)


def _vector_result(raw: bytes, where: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MetricsError(f"{where}: malformed JSON in response ({exc})") from exc
    if not isinstance(doc, dict):
        raise MetricsError(f"{where}: response is not a JSON object")
    if doc.get("status") != "success":
        detail = doc.get("error") or "no error message"
        raise MetricsError(f"{where}: query failed: status {doc.get('status')!r}: "
                           f"{one_line(str(detail))}")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise MetricsError(f"{where}: response has no 'data' object")
    if data.get("resultType") != "vector":
        raise MetricsError(f"{where}: expected resultType 'vector', got "
                           f"{data.get('resultType')!r}")
    result = data.get("result")
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        raise MetricsError(f"{where}: 'data.result' is not a list of series")
    return result


def vector_edges(result: list[dict[str, Any]], protocol: str,
                 where: str) -> list[ObservedEdge]:
    """Edges from the series of a traffic query's vector result (also used for exports)."""
    return [_edge(row, protocol, where) for row in result]


def _sample(row: dict[str, Any], where: str) -> tuple[dict[str, Any], float]:
    """The labels and the count of one series of an ``increase()`` query."""
    metric = row.get("metric")
    value = row.get("value")
    if not isinstance(metric, dict) or not isinstance(value, list) or len(value) != 2:
        raise MetricsError(f"{where}: series without 'metric' object and [time, value] pair")
    try:
        count = float(value[1])
    except (TypeError, ValueError) as exc:
        raise MetricsError(f"{where}: sample value {value[1]!r} is not a number") from exc
    if not math.isfinite(count) or count < 0:
        # increase() of a healthy counter is finite and >= 0; anything else is not a count.
        raise MetricsError(f"{where}: sample value {value[1]!r} is not a count")
    return metric, count


def _edge(row: dict[str, Any], protocol: str, where: str) -> ObservedEdge:
    """One series -> one edge. Only a server-side series (``reporter="destination"``, or no
    reporter label: the documented queries keep only those) with a policy of ``mutual_tls`` or
    ``none`` proves anything about mTLS; a client-side series (its policy is always
    ``unknown``) or a server-side ``unknown`` only shows that the traffic exists."""
    metric, count = _sample(row, where)

    def label(name: str) -> str:
        got = metric.get(name)
        return got if isinstance(got, str) and got else UNKNOWN

    policy = metric.get("connection_security_policy")
    server = metric.get("reporter", "destination") == "destination"
    if server and policy in (MUTUAL_TLS, PLAINTEXT_POLICY):
        mtls, unknown, evidence = (count if policy == MUTUAL_TLS else 0.0), 0.0, PROOF
    else:
        mtls, unknown, evidence = 0.0, count, PRESENCE
    return ObservedEdge(
        source_namespace=label("source_workload_namespace"),
        source_workload=label("source_workload"),
        destination_namespace=label("destination_service_namespace"),
        destination_service=label("destination_service_name"),
        destination_workload=label("destination_workload"),
        protocol=protocol, total=count, mtls=mtls, tls_unknown=unknown, evidence=evidence)


def _error_detail(exc: urllib.error.HTTPError) -> str:
    """``: <Prometheus error>`` from a JSON error body, or a short text excerpt."""
    try:
        raw = exc.read()
    except (OSError, ValueError):
        return f" {exc.reason}"
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        text = one_line(raw.decode("utf-8", "replace"))
        return f" {exc.reason}" + (f": {text[:_MAX_ERROR_BODY]}" if text else "")
    if isinstance(doc, dict) and doc.get("error"):
        kind = f"{doc['errorType']}: " if doc.get("errorType") else ""
        return f" {exc.reason}: {kind}{one_line(str(doc['error']))}"
    return f" {exc.reason}"


def _url_reason(reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g}s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is Prometheus running and the URL right?)"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({reason.verify_message}); give its CA file"
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve host ({reason.strerror})"
    if isinstance(reason, OSError):
        return _os_reason(reason)
    return one_line(str(reason))


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return one_line(str(exc)) or type(exc).__name__


def _strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@``, for messages."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
