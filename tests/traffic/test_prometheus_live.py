"""fetch_traffic against a real Prometheus loaded with GROUND_TRUTH (see promserver.py)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from planner.domain.traffic import (
    UNKNOWN,
    namespace_mtls_status,
    plaintext_callers,
    plaintext_gate,
    promql_plaintext_query,
)
from planner.sources.prometheus import PrometheusClient, fetch_traffic

from .conftest import GROUND_TRUTH
from .promserver import tolerance

pytestmark = pytest.mark.slow

# increase() extrapolates; promserver.py documents the bound for its 2h / 60s series.
TOL = tolerance(step_s=60, span_s=7200)


def _key(e: object) -> tuple[str, ...]:
    return tuple(str(getattr(e, f)) for f in (
        "source_namespace", "source_workload", "destination_namespace",
        "destination_service", "destination_workload", "protocol"))


def test_fetch_returns_ground_truth_in_two_requests(prom_url: str) -> None:
    client = PrometheusClient(prom_url)
    snap = client.fetch_traffic()
    assert client.request_count == 2
    assert snap.has_data and snap.window == "7d"
    assert snap.source == f"prometheus {prom_url}"
    got = {_key(e): e for e in snap.edges}
    assert set(got) == {_key(e) for e in GROUND_TRUTH}
    for truth in GROUND_TRUTH:
        edge = got[_key(truth)]
        # reporter="source" duplicates exist in the data; a total near 2x would mean they leaked.
        assert truth.total <= edge.total <= truth.total * (1 + TOL), truth
        if truth.total:
            assert edge.mtls_share == pytest.approx(truth.mtls / truth.total, abs=1e-9)
        else:
            assert edge.mtls_share is None
        assert (edge.plaintext > 0) == (truth.plaintext > 0)
    assert list(snap.edges) == sorted(snap.edges)


def test_namespace_status(prom_url: str) -> None:
    status = namespace_mtls_status(fetch_traffic(prom_url))
    assert {ns: s.status for ns, s in status.items()} == {
        "shop": "mixed", "payments": "mtls-only", "billing": "mixed", "data": "mixed",
        "legacy": "plaintext-only", "idle": "no-data"}
    assert status["payments"].requests > 0 and status["payments"].connections > 0
    assert status["data"].requests == 0
    assert status["data"].connections_mtls == pytest.approx(72, rel=TOL)


def test_gates(prom_url: str) -> None:
    snap = fetch_traffic(prom_url)
    assert plaintext_gate(snap, "payments").status == "pass"
    shop = plaintext_gate(snap, "shop")
    assert shop.status == "fail"
    assert [(e.source_workload, e.destination_service) for e in shop.offenders] == [
        (UNKNOWN, "catalog"), ("frontend", "catalog")]  # biggest plaintext first
    assert "no sidecar" in shop.reason
    idle = plaintext_gate(snap, "idle")
    assert idle.status == "unknown" and "no requests" in idle.reason
    absent = plaintext_gate(snap, "nowhere")
    assert absent.status == "unknown" and "no series" in absent.reason
    assert [e.source_workload for e in plaintext_callers(snap, "billing")] == ["report-job"]


def test_namespace_filter_still_two_requests(prom_url: str) -> None:
    client = PrometheusClient(prom_url)
    snap = client.fetch_traffic(namespaces=["payments", "legacy"])
    assert client.request_count == 2
    assert {e.destination_namespace for e in snap.edges} == {"payments", "legacy"}


def test_filter_matching_nothing_is_no_data(prom_url: str) -> None:
    snap = fetch_traffic(prom_url, namespaces=["nowhere"])
    assert not snap.has_data and snap.edges == ()
    gate = plaintext_gate(snap, "nowhere")
    assert gate.status == "unknown" and "no traffic data" in gate.reason


def test_empty_prometheus_is_no_data_not_clean(empty_prom_url: str) -> None:
    client = PrometheusClient(empty_prom_url)
    snap = client.fetch_traffic()
    assert client.request_count == 2
    assert not snap.has_data and snap.edges == ()
    assert plaintext_gate(snap, "shop").status == "unknown"
    assert namespace_mtls_status(snap) == {}


def _raw_query(url: str, promql: str) -> list[dict[str, object]]:
    body = urllib.parse.urlencode({"query": promql}).encode()
    with urllib.request.urlopen(url + "/api/v1/query", data=body, timeout=10) as resp:
        doc = json.load(resp)
    assert doc["status"] == "success"
    result: list[dict[str, object]] = doc["data"]["result"]
    return result


@pytest.mark.parametrize(("namespace", "metric", "callers"), [
    ("shop", "istio_requests_total", {UNKNOWN, "frontend"}),
    ("payments", "istio_requests_total", set()),
    ("payments", "tcp", set()),
    ("data", "istio_tcp_connections_opened_total", {"invoices", "cron"}),
    ("idle", "http", set()),  # empty although the gate says unknown: see plaintext_gate
    (None, "tcp", {"invoices", "cron", UNKNOWN}),
])
def test_plaintext_precondition_query_runs(prom_url: str, namespace: str | None, metric: str,
                                           callers: set[str]) -> None:
    rows = _raw_query(prom_url, promql_plaintext_query(namespace, "7d", metric))
    assert {r["metric"]["source_workload"] for r in rows} == callers  # type: ignore[index]
