"""The PromQL a STRICT step is gated on: plaintext traffic reported by the destination."""

from __future__ import annotations

from collections.abc import Sequence

PLAINTEXT_METRICS = ("istio_requests_total", "istio_tcp_connections_opened_total")


def plaintext_queries(namespace: str | None = None, exclude_namespaces: Sequence[str] = (),
                      excepted_workloads: Sequence[str] = (),
                      window: str = "7d") -> tuple[str, ...]:
    """PromQL that must return no series before STRICT: destination-reported traffic that was
    not mutual TLS (``connection_security_policy`` means something only at the destination).

    ``excepted_workloads`` (in ``namespace``) have port exceptions: plaintext into them from
    callers without a sidecar is expected. Such callers have no metadata exchange and report as
    ``source_workload="unknown"``, so only that traffic is left out; plaintext into them from a
    known workload still counts. Istio's standard metrics carry no port label, so the excepted
    ports themselves cannot be expressed.
    """
    matchers = ['reporter="destination"']
    if namespace is not None:
        matchers.append(f'destination_service_namespace="{_promql_string(namespace)}"')
    if exclude_namespaces:
        matchers.append(f'destination_service_namespace!~"{_alternatives(exclude_namespaces)}"')
    matchers.append('connection_security_policy!="mutual_tls"')
    selectors = [matchers]
    if excepted_workloads:
        names = _alternatives(excepted_workloads)
        selectors = [[*matchers, f'destination_workload!~"{names}"'],
                     [*matchers, f'destination_workload=~"{names}"',
                      *([f'destination_workload_namespace="{_promql_string(namespace)}"']
                        if namespace else []),
                      'source_workload!="unknown"']]
    return tuple(
        " or ".join(f"sum by (source_workload, source_workload_namespace) "
                    f"(increase({metric}{{{', '.join(selector)}}}[{window}]))"
                    for selector in selectors)
        for metric in PLAINTEXT_METRICS
    )


#: RE2 metacharacters outside a bracket expression.
_REGEX_META = frozenset("\\.+*?()|[]{}^$")


def _promql_string(value: str) -> str:
    """``value`` as the body of a PromQL double-quoted string: names come from manifests,
    which no API server validated, so a quote or backslash must not end or bend the query."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _alternatives(names: Sequence[str]) -> str:
    """A PromQL string body holding a regex (PromQL anchors it) that matches exactly
    ``names``: regex metacharacters escaped for RE2, then the whole for the string literal.
    Kubernetes names hold only ``.`` of them, but manifests are untrusted."""
    return "|".join(_promql_string("".join("\\" + c if c in _REGEX_META else c for c in name))
                    for name in sorted(set(names)))
