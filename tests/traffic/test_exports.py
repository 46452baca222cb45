"""Offline traffic exports: one fixture per format, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from planner.domain.traffic import (
    DECLARED,
    PRESENCE,
    ROUNDED,
    UNKNOWN,
    namespace_mtls_status,
    plaintext_gate,
    trusting_declared,
)
from planner.errors import MetricsError
from planner.sources.exports import (
    detect_format,
    load_prometheus_responses,
    load_traffic_export,
    window_from_seconds,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _f(name: str) -> str:
    return str(FIXTURES / name)


def _edges(path: str) -> dict[tuple[str, str, str, str, str], tuple[float, float, float]]:
    snap = load_traffic_export(path)
    return {(e.source_namespace, e.source_workload, e.destination_namespace,
             e.destination_service, e.protocol): (e.total, e.mtls, e.tls_unknown)
            for e in snap.edges}


@pytest.mark.parametrize(("name", "fmt"), [
    ("prometheus-combined.json", "prometheus"), ("prometheus-requests.json", "prometheus"),
    ("kiali-graph.json", "kiali"), ("hubble-flows.jsonl", "hubble"),
    ("linkerd-edges.json", "linkerd"), ("traffic.csv", "csv"),
])
def test_detect_format(name: str, fmt: str) -> None:
    path = _f(name)
    assert detect_format(path, Path(path).read_text()) == fmt


def test_prometheus_combined() -> None:
    snap = load_traffic_export(_f("prometheus-combined.json"))
    assert snap.has_data and snap.source.startswith("prometheus export ")
    assert _edges(_f("prometheus-combined.json")) == {
        ("shop", "frontend", "shop", "catalog", "http"): (900, 600, 0),
        (UNKNOWN, UNKNOWN, "shop", "catalog", "http"): (42, 0, 0),
        ("shop", "cart", "data", "redis", "tcp"): (60, 60, 0),
    }
    assert plaintext_gate(snap, "shop").status == "fail"
    assert plaintext_gate(snap, "data").status == "pass"


def test_prometheus_two_files() -> None:
    snap = load_prometheus_responses(_f("prometheus-requests.json"), _f("prometheus-tcp.json"))
    assert {(e.destination_service, e.protocol, e.plaintext) for e in snap.edges} == {
        ("gateway", "http", 0), ("ledger", "tcp", 24)}
    assert namespace_mtls_status(snap)["payments"].status == "mixed"


def test_kiali() -> None:
    snap = load_traffic_export(_f("kiali-graph.json"))
    assert snap.window == "10m" and snap.evidence == ROUNDED
    assert "5 decimals" in snap.resolution
    edges = {(e.source_workload, e.destination_service): e for e in snap.edges}
    # The service -> workload hop is not counted again; a workload node without destServices
    # names no Service, so none is invented from its workload name.
    assert set(edges) == {("frontend", "catalog"), (UNKNOWN, "catalog"), ("catalog-v1", UNKNOWN)}
    frontend = edges[("frontend", "catalog")]
    assert frontend.total == 1200 and frontend.mtls_share == pytest.approx(0.75)
    assert frontend.destination_workload == "catalog-v1"
    assert edges[(UNKNOWN, "catalog")].mtls == 0  # isMTLS omitted: 0 %
    redis = edges[("catalog-v1", UNKNOWN)]
    # Kiali's TCP rate is bytes/s: one connection at least, not 90000 "connections".
    assert (redis.protocol, redis.total, redis.at_least, redis.mtls) == ("tcp", 1, True, 1)
    assert redis.destination_workload == "redis"


def test_hubble() -> None:
    snap = load_traffic_export(_f("hubble-flows.jsonl"))
    assert snap.window == "5m" and snap.evidence == PRESENCE
    # Hubble cannot see Istio mTLS: every connection is of unknown security, SPIRE included.
    assert _edges(_f("hubble-flows.jsonl")) == {
        ("shop", "frontend", "shop", "catalog", "tcp"): (1, 0, 1),  # the reply dropped
        ("billing", "invoices", "data", "postgres", "tcp"): (1, 0, 1),
        (UNKNOWN, "host", "shop", "catalog", "tcp"): (1, 0, 1),  # bare flow line
    }
    assert namespace_mtls_status(snap)["shop"].status == "unverified"
    gate = plaintext_gate(snap, "shop")
    assert gate.status == "unknown" and gate.evidence == PRESENCE
    assert "not whether it was Istio mutual TLS" in gate.reason
    assert "--prometheus" in gate.proof
    assert snap.notes == ("1 dropped or failed flows not counted",)


def test_linkerd_edges_prove_presence_only() -> None:
    snap = load_traffic_export(_f("linkerd-edges.json"))
    assert snap.evidence == PRESENCE
    edges = {(e.source_workload, e.destination_workload): e for e in snap.edges}
    # dst is a workload: no Service is named after it.
    assert {e.destination_service for e in snap.edges} == {UNKNOWN}
    assert all(e.tls_unknown == 1 and e.mtls == 0 for e in edges.values())
    gate = plaintext_gate(snap, "shop")
    assert gate.status == "unknown" and gate.evidence == PRESENCE


def test_csv() -> None:
    assert _edges(_f("traffic.csv")) == {
        ("shop", "frontend", "shop", "catalog", "http"): (900, pytest.approx(600.03), 0),
        (UNKNOWN, UNKNOWN, "shop", "catalog", "http"): (420, 0, 0),
        ("shop", "checkout", "payments", "gateway", "http"): (600, 600, 0),
        ("batch", "report-job", "billing", "invoices", "http"): (240, 0, 240),
    }
    snap = load_traffic_export(_f("traffic.csv"))
    assert plaintext_gate(snap, "billing").status == "unknown"
    # A CSV is written by hand or by an unknown tool: a declared 100% proves nothing by itself.
    payments = plaintext_gate(snap, "payments")
    assert (payments.status, payments.evidence) == ("unknown", DECLARED)
    assert "a declared share is not proof" in payments.reason
    assert "--prometheus" in payments.proof and "--trust-declared" in payments.proof
    # Declared plaintext is enough to fail.
    shop = plaintext_gate(snap, "shop")
    assert (shop.status, shop.evidence) == ("fail", DECLARED)
    assert not snap.trust_declared and not any("--trust-declared" in n for n in snap.notes)


def test_csv_shares_pass_a_gate_only_when_trusted_and_say_so() -> None:
    trusted = trusting_declared(load_traffic_export(_f("traffic.csv")))
    payments = plaintext_gate(trusted, "payments")
    assert (payments.status, payments.evidence) == ("pass", DECLARED)
    assert payments.reason.endswith(
        "(evidence: the export's declared mtls_share (not measured by meshplan), accepted as "
        "proof by --trust-declared)")
    assert trusted.notes[-1].startswith("--trust-declared: the export's declared mtls_share")
    # Trust turns no plaintext into mTLS and no unknown share into a known one.
    assert plaintext_gate(trusted, "shop").status == "fail"
    assert plaintext_gate(trusted, "billing").status == "unknown"
    # Trust in a file without declared shares changes nothing and says nothing.
    kiali = load_traffic_export(_f("kiali-graph.json"))
    assert trusting_declared(kiali).notes == kiali.notes


def test_csv_from_a_spreadsheet(tmp_path: Path) -> None:
    """A UTF-8 byte order mark and CRLF line ends, as spreadsheets save CSV."""
    text = Path(_f("traffic.csv")).read_text(encoding="utf-8")
    saved = tmp_path / "export.csv"
    saved.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert _edges(str(saved)) == _edges(_f("traffic.csv"))


def test_window_from_seconds() -> None:
    assert [window_from_seconds(s) for s in (604800, 3600, 600, 90, 0)] == [
        "7d", "1h", "10m", "90s", "unknown"]


def _hubble_flow(**tcp: Any) -> str:
    return json.dumps({"flow": {
        "verdict": "FORWARDED", "IP": {"source": "10.0.0.1", "destination": "10.0.0.2"},
        "l4": {"TCP": {"source_port": 40112, "destination_port": 8080, **tcp}},
        "source": {"namespace": "shop", "pod_name": "web-0"},
        "destination": {"namespace": "shop", "pod_name": "api-0"}}})


def _kiali_graph(dest_services: Any) -> str:
    return json.dumps({"duration": 600, "elements": {
        "nodes": [{"data": {"id": "n1", "nodeType": "workload", "namespace": "shop",
                            "workload": "web"}},
                  {"data": {"id": "n2", "nodeType": "workload", "namespace": "shop",
                            "workload": "api", "destServices": dest_services}}],
        "edges": [{"data": {"source": "n1", "target": "n2",
                            "traffic": {"protocol": "http", "rates": {"http": "1"}}}}]}})


_CSV_HEADER = ("source_namespace,source_workload,destination_namespace,destination_service,"
               "requests,mtls_share\n")


@pytest.mark.parametrize(("name", "content", "fmt", "expected"), [
    ("bad.csv", "source_namespace,source_workload\n", None, "bad.csv:1: expected header"),
    ("bad.csv", "source_namespace,source_workload,destination_namespace,destination_service,"
     "requests,mtls_share\na,b,c,d,10,0.5\na,b,c,d,lots,0.5\n", None,
     "bad.csv:3: requests 'lots' is not a number"),
    ("bad.csv", "source_namespace,source_workload,destination_namespace,destination_service,"
     "requests,mtls_share\na,b,c,d,10,1.5\n", None, "bad.csv:2: mtls_share '1.5' is not in"),
    ("bad.csv", "source_namespace,source_workload,destination_namespace,destination_service,"
     "requests,mtls_share\na,b,c\n", None, "bad.csv:2: expected 6 columns, got 3"),
    ("bad.csv", "source_namespace,source_workload,destination_namespace,destination_service,"
     "requests,mtls_share\na,b,\"c,d,1,1\n", None, "bad.csv:2: bad CSV"),
    ("flows.jsonl", '{"flow": {"source": {}}}\n{"flow": \n', "hubble",
     "flows.jsonl:2: hubble export: malformed JSON"),
    ("flows.jsonl", '{"flow": {"source": {}}}\n[1]\n', "hubble",
     "flows.jsonl:2: hubble export: expected a JSON object per flow"),
    ("prom.json", '{"status": "success", "data": {"resultType": "matrix", "result": []}}',
     None, "expected data.resultType 'vector', got 'matrix'"),
    ("prom.json", '{"status": "success", "data": {"resultType": "vector", "result": '
     '[{"metric": {}, "value": [1, "3"]}]}}', None, "no connection_security_policy"),
    ("prom.json", '{"status": "success", "data": {"resultType": "vector", "result": '
     '[{"metric": {"connection_security_policy": "none"}, "value": [1, "3"]}]}}', None,
     "series 1 does not say which query it answers"),
    ("prom.json", '[{"metric": {"__name__": "istio_tcp_sent_bytes_total", '
     '"connection_security_policy": "none"}, "value": [1, "3"]}]', None,
     "counts bytes, not connections"),
    ("prom.json", '{"requests": [], "window": "a week"}', None, "invalid window 'a week'"),
    ("kiali.json", '{"elements": {"nodes": [], "edges": [{"data": {"source": "x"}}]}}', None,
     "Kiali edge 1 has no data.source/target"),
    ("linkerd.json", '[{"src": "a"}]', None, "linkerd edge 1 has no dst"),
    ("stat.json", '[{"namespace": "a", "kind": "namespace", "name": "b", "rps": 2.05, '
     '"success": 1}]', "linkerd", "`viz stat` output is not supported"),
    ("edges.json", '[{"src": "a", "src_namespace": "x", "dst": "b", "dst_namespace": "y"}]',
     "kiali", "--traffic-format kiali does not match the file: it looks like Linkerd "
     "`viz edges` output (--traffic-format linkerd)"),
    ("answer.json", '[{"metric": {"connection_security_policy": "none"}, '
     '"value": [1, "3"]}]', "linkerd", "it looks like a Prometheus query answer"),
    ("x.json", '{"hello": 1}', None, "cannot tell the traffic format"),
    ("x.json", "", None, "empty traffic export"),
    ("x.json", "{}", "yaml", "unknown traffic format 'yaml'"),
    ("x.json", "{oops", "kiali", "kiali export: malformed JSON"),
    # Values of the wrong type or size in a well-formed file: the file's error, never an
    # internal one (1e400 requests would count as inf, and the plaintext count as NaN).
    ("flows.jsonl", _hubble_flow(source_port="inf"), "hubble",
     "flows.jsonl:1: hubble export: l4.TCP.source_port 'inf' is not a port number"),
    ("flows.jsonl", _hubble_flow(destination_port=[1]), "hubble",
     "l4.TCP.destination_port [1] is not a port number"),
    ("flows.jsonl", _hubble_flow(destination_port=70000), "hubble",
     "l4.TCP.destination_port 70000 is not a port number"),
    ("flows.jsonl", _hubble_flow().replace('"pod_name": "web-0"', '"labels": 1.5'), "hubble",
     "flows.jsonl:1: hubble export: endpoint labels are not a list"),
    ("kiali.json", _kiali_graph(5), None, "Kiali node n2: destServices is not a list"),
    ("kiali.json", _kiali_graph([]).replace('"source": "n1"', '"source": {"a": 1}'), None,
     "Kiali edge 1 has no data.source/target naming a node"),
    ("kiali.json", _kiali_graph([]).replace('"duration": 600', '"duration": "1e400"'), None,
     "duration '1e400' is too large"),
    ("prom.json", '[{"metric": {"__name__": [1], "connection_security_policy": "none"}, '
     '"value": [1, "3"]}]', None, "series 1: label __name__ is not a string"),
    ("prom.json", '[{"metric": {"request_protocol": {}, "connection_security_policy": "none"}, '
     '"value": [1, "3"]}]', None, "series 1: label request_protocol is not a string"),
    ("bad.csv", _CSV_HEADER + "a,b,c,d,1e400,0.5\n", None, "bad.csv:2: requests '1e400' is too "
     "large"),
    ("linkerd.json", '[{"src": "a", "dst": {"x": 1}, "dst_namespace": "b"}]', None,
     "linkerd edge 1 has no dst/dst_namespace"),
])
def test_bad_files(tmp_path: Path, name: str, content: str, fmt: str | None,
                   expected: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(MetricsError) as info:
        load_traffic_export(str(path), fmt)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected in message


def test_unusable_kiali_host_percentages_leave_the_service_unknown(tmp_path: Path) -> None:
    """A host split with percentages that are no finite number is not used (the edge is
    counted as Service unknown, with a note), rather than raising a decimal error."""
    graph = json.loads(_kiali_graph([{"name": "api"}, {"name": "api-v2"}]))
    graph["elements"]["edges"][0]["data"]["traffic"]["responses"] = {
        "200": {"hosts": {"api": "NaN", "api-v2": "50"}}}
    path = tmp_path / "kiali.json"
    path.write_text(json.dumps(graph))
    snap = load_traffic_export(str(path))
    assert [e.destination_service for e in snap.edges] == [UNKNOWN]
    assert any("no host split" in note for note in snap.notes)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(MetricsError, match="cannot read traffic export"):
        load_traffic_export(str(tmp_path / "missing.json"))
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(MetricsError, match="not UTF-8"):
        load_traffic_export(str(binary))


def test_hubble_pods_resolve_through_the_inventory(tmp_path: Path) -> None:
    """Pod names (no ``workloads`` field) become the scanned Deployment and its Service; the
    reply and the second observation point of the same connection count once."""
    from planner.service import ManifestInput, TrafficSource, analyse, observe

    manifests = tmp_path / "app.yaml"
    manifests.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web, version: v1}}\n"
        "    spec: {containers: [{name: web, image: web:1}]}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: web-svc, namespace: shop}\n"
        "spec: {selector: {app: web}, ports: [{port: 80}]}\n", encoding="utf-8")
    flow = {"verdict": "FORWARDED", "IP": {"source": "10.0.0.9", "destination": "10.0.0.5"},
            "l4": {"TCP": {"source_port": 5000, "destination_port": 8080}},
            "source": {"labels": ["reserved:world"]},
            "destination": {"namespace": "shop", "pod_name": "web-6d4b-x2x9z",
                            "labels": ["k8s:app=web", "k8s:version=v1",
                                       "k8s:io.kubernetes.pod.namespace=shop"]}}
    reply = {**flow, "IP": {"source": "10.0.0.5", "destination": "10.0.0.9"},
             "l4": {"TCP": {"source_port": 8080, "destination_port": 5000}},
             "source": flow["destination"], "destination": flow["source"], "is_reply": True}
    again = {**flow, "trace_observation_point": "TO_ENDPOINT"}
    export = tmp_path / "flows.json"
    export.write_text("\n".join(json.dumps({"flow": f}) for f in (flow, reply, again)))
    analysis = observe(analyse(ManifestInput((str(manifests),))),
                       TrafficSource(traffic_file=str(export)))
    assert analysis.traffic is not None
    (edge,) = analysis.traffic.edges
    assert (edge.destination_workload, edge.destination_service, edge.total) == (
        "web", "web-svc", 1)
    assert [(m.pod, m.workload, m.via) for m in analysis.traffic.pod_mappings] == [
        ("web-6d4b-x2x9z", "Deployment/shop/web", "pod-name")]
    assert analysis.traffic.notes[-1].startswith("1 pod(s) named by the source: 1 mapped")


def _answer(*labels: dict[str, str]) -> dict[str, Any]:
    base = {"source_workload": "cart", "source_workload_namespace": "shop",
            "destination_service_name": "redis", "destination_service_namespace": "data",
            "destination_workload": "redis", "connection_security_policy": "none"}
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {**base, **extra}, "value": [1732550400, "60"]} for extra in labels]}}


def test_a_file_with_only_the_tcp_answer_counts_connections(tmp_path: Path) -> None:
    """``sum by`` drops the metric name: the TCP answer says what it is by request_protocol
    (or a kept ``__name__``), and is never read as requests."""
    envelope = tmp_path / "tcp.json"
    envelope.write_text(json.dumps(_answer({"request_protocol": "tcp"})))
    promtool = tmp_path / "promtool.json"
    promtool.write_text(json.dumps(_answer(
        {"__name__": "istio_tcp_connections_opened_total"})["data"]["result"]))
    for path in (envelope, promtool):
        (edge,) = load_traffic_export(str(path)).edges
        assert (edge.protocol, edge.connections, edge.total, edge.plaintext) == (
            "tcp", True, 60, 60)
    status = namespace_mtls_status(load_traffic_export(str(envelope)))["data"]
    assert (status.requests, status.connections) == (0, 60)


def test_the_window_of_a_saved_answer_comes_from_its_query(tmp_path: Path) -> None:
    """A bare answer cannot say its window (a note says how to give it); a combined file gives
    it by ``window`` or by the range of the query it saved; two different ranges give none."""
    query = ("sum by (source_workload) (increase(istio_tcp_connections_opened_total"
             '{reporter="destination"}[30d]))')
    combined = tmp_path / "combined.json"
    combined.write_text(json.dumps({"tcp": _answer({"request_protocol": "tcp"}),
                                    "query": query}))
    snap = load_traffic_export(str(combined))
    assert snap.window == "30d" and not snap.notes
    combined.write_text(json.dumps({"tcp": _answer({"request_protocol": "tcp"}),
                                    "queries": {"tcp": query,
                                                "requests": query.replace("30d", "7d")}}))
    assert load_traffic_export(str(combined)).window == "unknown"
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(_answer({"request_protocol": "tcp"})))
    snap = load_traffic_export(str(bare))
    assert snap.window == "unknown"
    assert snap.notes[0].startswith("a saved query answer does not say its window")
    assert "(its window unknown: the export does not say)" in plaintext_gate(snap, "data").reason


def test_a_peer_shown_by_ip_that_another_flow_names_is_that_pod(tmp_path: Path) -> None:
    """Hubble shows the far side of a flow by IP and labels only; when another flow of the
    capture names the pod at that IP, it is that pod (one seen pod, not two), and an IP seen
    with two different label sets names no one (a node's address)."""
    def flow(src: dict[str, Any], dst: dict[str, Any], sport: int) -> str:
        return json.dumps({"flow": {
            "verdict": "FORWARDED", "IP": {"source": src.pop("ip"), "destination": dst.pop("ip")},
            "l4": {"TCP": {"source_port": sport, "destination_port": 8080}},
            "source": src, "destination": dst, "is_reply": False}})

    web = {"namespace": "shop", "pod_name": "web-6d4b9c7f8-x2x9z",
           "labels": ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=shop"]}
    lines = [
        flow({**web, "ip": "10.0.0.5"}, {"ip": "10.0.0.9", "namespace": "shop",
                                          "pod_name": "api-0", "labels": ["k8s:app=api"]}, 1),
        flow({"ip": "10.0.0.5", "labels": ["k8s:app=web",
                                           "k8s:io.kubernetes.pod.namespace=shop"]},
             {"ip": "10.0.0.9", "namespace": "shop", "pod_name": "api-0"}, 2),
        flow({"ip": "10.0.0.1", "labels": ["k8s:app=web",
                                           "k8s:io.kubernetes.pod.namespace=shop"]},
             {"ip": "10.0.0.9", "namespace": "shop", "pod_name": "api-0"}, 3),
        flow({"ip": "10.0.0.1", "labels": ["k8s:app=api",
                                           "k8s:io.kubernetes.pod.namespace=shop"]},
             {"ip": "10.0.0.9", "namespace": "shop", "pod_name": "api-0"}, 4),
    ]
    export = tmp_path / "flows.json"
    export.write_text("\n".join(lines))
    snap = load_traffic_export(str(export))
    assert [(p.name, p.labels, p.ip) for p in snap.pods] == [
        ("api-0", ("app=api",), "10.0.0.9"),
        ("pod@10.0.0.1", (), "10.0.0.1"),  # two label sets: no labels to map it by
        ("web-6d4b9c7f8-x2x9z", ("app=web",), "10.0.0.5")]
    assert {e.source_workload for e in snap.edges} == {"web-6d4b9c7f8-x2x9z", "pod@10.0.0.1"}
