"""The importers on real exports, as the tools themselves wrote them (../shared/traffic-samples,
origin in its SOURCE.md): one test per file saying what is parsed, how many edges, which
evidence level, and which gate the file allows. Skipped when ../shared is absent."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planner.domain.analysis import Analysis
from planner.domain.traffic import (
    PRESENCE,
    PROOF,
    ROUNDED,
    TCP,
    UDP,
    UNKNOWN,
    TrafficSnapshot,
    plaintext_gate,
)
from planner.errors import MetricsError
from planner.sources.exports import detect_format, load_traffic_export
from tests.shared_data import require_shared

SAMPLES = ("traffic-samples",)
FIXTURES = Path(__file__).parent / "fixtures"


def sample(folder: str, name: str) -> Path:
    """A real export; skips the test when ../shared is absent."""
    return require_shared(*SAMPLES, folder, name)


def _total(snap: TrafficSnapshot, protocol: str) -> float:
    return sum(e.total for e in snap.edges if e.protocol == protocol)


@dataclass(frozen=True)
class Expected:
    """What one real file gives: its format, edge count, evidence level, and the gate of
    every destination namespace (egress is never one)."""

    fmt: str
    edges: int
    evidence: str
    gates: dict[str, str]
    check: Callable[[TrafficSnapshot], None] | None = None


def _kiali_services(snap: TrafficSnapshot) -> None:
    # Services from destServices / service nodes, never invented from workload names.
    services = {e.destination_service for e in snap.edges if not e.is_egress}
    assert {"deposit", "pricing", "details", "productpage", "ratings", "reviews"} <= services
    assert not {s for s in services if s.endswith(("-v1", "-v2", "-v3"))}
    # The node Kiali could not resolve (404, NR) is egress, not a namespace "unknown".
    assert [e.destination_service for e in snap.egress()] == [UNKNOWN]
    assert UNKNOWN not in snap.namespaces()
    # TCP rates are bytes/s: one connection at least per edge, never 300 "connections".
    assert all(e.total == 1 and e.at_least for e in snap.edges if e.protocol == TCP)
    assert any("securityPolicy" in note for note in snap.notes)


def _kiali_ambient(snap: TrafficSnapshot) -> None:
    # The edge into the waypoint is split by its hosts; the hops out of it are not counted
    # again; a waypoint is not a caller.
    assert {(e.source_workload, e.destination_service) for e in snap.edges} == {
        ("productpage-v1", "details"), ("productpage-v1", "reviews")}
    assert {e.source_workload for e in snap.edges} == {"productpage-v1"}


def _hubble_tcp(snap: TrafficSnapshot) -> None:
    # 400 flows: one count per connection (5-tuple), replies and the extra observation points
    # dropped; L7 requests counted as requests.
    assert (_total(snap, TCP), _total(snap, "http")) == (28, 33)
    # Pods are kept with their IP, to be mapped through the inventory's Pods.
    assert ("bookinfo", "productpage-v1-6b746f74dc-9rcxx", "10.244.0.177") in {
        (p.namespace, p.name, p.ip) for p in snap.pods}
    # The URL host names the Service of an L7 request.
    assert {e.destination_service for e in snap.edges if e.protocol == "http"} == {
        "details", "productpage", "ratings", "reviews"}


def _hubble_icmp(snap: TrafficSnapshot) -> None:
    assert snap.has_data and not snap.edges
    assert snap.notes == ("18 ICMPv4 flows (not TCP/UDP) not counted",)


def _hubble_udp(snap: TrafficSnapshot) -> None:
    assert {e.protocol for e in snap.edges} == {UDP} and _total(snap, UDP) == 111


def _linkerd(snap: TrafficSnapshot) -> None:
    assert {e.destination_service for e in snap.edges} == {UNKNOWN}  # dst is a workload
    assert all(e.mtls == 0 and e.tls_unknown == 1 for e in snap.edges)
    assert any("client side" in note for note in snap.notes)


def _passthrough(snap: TrafficSnapshot) -> None:
    (edge,) = snap.edges
    assert edge.is_egress and edge.destination_service == "PassthroughCluster"
    assert (edge.source_workload, edge.protocol, edge.evidence) == ("sleep", TCP, PRESENCE)
    assert snap.namespaces() == [] and snap.window == "unknown"
    assert plaintext_gate(snap, "default").status == "unknown"


KIALI = {"bankapp": "unknown", "bookinfo": "unknown"}
REAL: dict[tuple[str, str], Expected] = {
    ("kiali", "kiali-test_workload_graph.json"): Expected(
        "kiali", 18, PRESENCE, KIALI, _kiali_services),
    ("kiali", "kiali-test_app_graph.json"): Expected("kiali", 14, PRESENCE, KIALI, _kiali_services),
    ("kiali", "kiali-test_versioned_app_graph.json"): Expected(
        "kiali", 18, PRESENCE, KIALI, _kiali_services),
    ("kiali", "kiali-test_service_graph.json"): Expected(
        "kiali", 13, PRESENCE, KIALI, _kiali_services),
    ("kiali", "kiali-test_ambient_graph.json"): Expected(
        "kiali", 4, PRESENCE, {"bookinfo": "unknown"}, _kiali_ambient),
    ("linkerd", "edges_one_output_json.json"): Expected(
        "linkerd", 4, PRESENCE, {"emojivoto": "unknown", "linkerd": "unknown"}, _linkerd),
    ("linkerd", "direct_edges_filled.json"): Expected(
        "linkerd", 3, PRESENCE, {"edges-test": "unknown"}, _linkerd),
    ("hubble", "basic-sample-10-flows.json"): Expected(
        "hubble", 5, PRESENCE,
        {"bookinfo": "unknown", "istio-system": "unknown", "kube-system": "unknown"}),
    ("hubble", "basic-sample-330-dns-flows.json"): Expected(
        "hubble", 8, PRESENCE, {"kube-system": "unknown"}),
    ("hubble", "basic-sample-348-http-flows.json"): Expected(
        "hubble", 12, PRESENCE,
        {"bookinfo": "unknown", "istio-system": "unknown", "kube-system": "unknown"}),
    ("hubble", "basic-sample-400-icmpv4-flows.json"): Expected(
        "hubble", 0, PRESENCE, {}, _hubble_icmp),
    ("hubble", "basic-sample-400-l7-redirected-flows.json"): Expected(
        "hubble", 9, PRESENCE, {"bookinfo": "unknown", "kube-system": "unknown"}),
    ("hubble", "basic-sample-400-tcp-flows.json"): Expected(
        "hubble", 18, PRESENCE, {"bookinfo": "unknown", "jaeger": "unknown"}, _hubble_tcp),
    ("hubble", "basic-sample-400-udp-flows.json"): Expected(
        "hubble", 6, PRESENCE, {"kube-system": "unknown"}, _hubble_udp),
    ("hubble", "basic-sample-5-dns-flows.json"): Expected(
        "hubble", 1, PRESENCE, {"kube-system": "unknown"}),
    ("hubble", "basic-sample-5-http-flows.json"): Expected(
        "hubble", 3, PRESENCE, {"kube-system": "unknown"}),
    ("prometheus", "istio-io-blog-passthrough-tcp-closed.json"): Expected(
        "prometheus", 1, PRESENCE, {}, _passthrough),
}


@pytest.mark.parametrize(("folder", "name"), list(REAL), ids=[n for _, n in REAL])
def test_real_export(folder: str, name: str) -> None:
    path = sample(folder, name)
    expected = REAL[(folder, name)]
    assert detect_format(str(path), path.read_text(encoding="utf-8")) == expected.fmt
    snap = load_traffic_export(str(path))
    assert len(snap.edges) == expected.edges
    assert snap.evidence == expected.evidence
    assert {e.evidence for e in snap.edges} <= {expected.evidence}
    gates = {ns: plaintext_gate(snap, ns) for ns in snap.namespaces()}
    assert {ns: g.status for ns, g in gates.items()} == expected.gates
    for gate in gates.values():
        # Nothing here can prove Istio mTLS: every gate says so and what to run instead.
        assert gate.evidence == PRESENCE and "--prometheus" in gate.proof
    if expected.check is not None:
        expected.check(snap)


@pytest.mark.parametrize("name", ["stat_all_output_json.json", "stat_one_output_json.json",
                                  "stat_one_ts_output_json.json"])
@pytest.mark.parametrize("fmt", [None, "linkerd"])
def test_linkerd_stat_is_refused_naming_edges(name: str, fmt: str | None) -> None:
    path = sample("linkerd", name)
    with pytest.raises(MetricsError) as info:
        load_traffic_export(str(path), fmt)
    assert str(info.value).startswith(str(path))
    assert "`viz stat` output is not supported" in str(info.value)
    assert "linkerd viz edges" in str(info.value)


def test_the_linkerd_golden_no_longer_passes_emojivoto() -> None:
    """The issue's false pass: linkerd2's own edges golden said "gate pass" for emojivoto."""
    snap = load_traffic_export(str(sample("linkerd", "edges_one_output_json.json")))
    gate = plaintext_gate(snap, "emojivoto")
    assert gate.status == "unknown"
    assert "not whether it was Istio mutual TLS" in gate.reason


def test_pretty_printed_hubble_reads_like_json_lines(tmp_path: Path) -> None:
    """`jq .` output: one pretty-printed object after the other."""
    path = sample("hubble", "basic-sample-400-tcp-flows.json")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    pretty = tmp_path / "flows.json"
    pretty.write_text("\n".join(json.dumps(doc, indent=2) for doc in lines), encoding="utf-8")
    single = tmp_path / "one-flow.json"
    single.write_text(json.dumps(lines[0], indent=2), encoding="utf-8")
    assert load_traffic_export(str(pretty)).edges == load_traffic_export(str(path)).edges
    assert detect_format(str(single), single.read_text(encoding="utf-8")) == "hubble"
    load_traffic_export(str(single))


def test_promtool_bare_array_reads_like_the_envelope(tmp_path: Path) -> None:
    """`promtool query instant --format=json` prints data.result only."""
    path = sample("prometheus", "istio-io-blog-passthrough-tcp-closed.json")
    bare = tmp_path / "promtool.json"
    bare.write_text(json.dumps(json.loads(path.read_text())["data"]["result"]))
    assert detect_format(str(bare), bare.read_text()) == "prometheus"
    assert load_traffic_export(str(bare)).edges == load_traffic_export(str(path)).edges


def _with_security(path: Path, out: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """The real Kiali graph as the securityPolicy appender would have left it: ``edit`` sets
    isMTLS (and rates) on its edges."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["duration"] = 604800  # a week, as the plan's gate reads
    for edge in doc["elements"]["edges"]:
        edit(edge["data"])
    out.write_text(json.dumps(doc), encoding="utf-8")
    return out


def test_kiali_with_security_appender_proves_within_its_rounding(tmp_path: Path) -> None:
    path = sample("kiali", "kiali-test_workload_graph.json")

    def all_mtls(data: dict[str, Any]) -> None:
        data["isMTLS"] = "100"

    snap = load_traffic_export(str(_with_security(path, tmp_path / "g.json", all_mtls)))
    assert snap.evidence == ROUNDED and snap.window == "7d"
    bankapp = plaintext_gate(snap, "bankapp")
    assert bankapp.status == "pass" and bankapp.evidence == ROUNDED
    assert "at least 99.5%" in bankapp.reason
    # 20.00/s over a week, computed exactly: no float noise in counts.
    assert {e.total for e in snap.edges if e.destination_service == "pricing"} == {12096000}


def test_kiali_rate_rounded_to_zero_is_not_zero(tmp_path: Path) -> None:
    """Up to ~3 requests a week print as "0.00000": at least one request, never dropped and
    never counted as all-mTLS; without isMTLS (0 %) it is plaintext, so the gate fails."""
    path = sample("kiali", "kiali-test_workload_graph.json")

    def rare(data: dict[str, Any]) -> None:
        data["isMTLS"] = "100"
        if data["traffic"]["rates"].get("grpc"):  # reviews-v3 -> deposit, the bankapp caller
            data["traffic"]["rates"]["grpc"] = "0.00000"

    snap = load_traffic_export(str(_with_security(path, tmp_path / "rare.json", rare)))
    deposit = plaintext_gate(snap, "bankapp")
    assert deposit.status == "unknown" and "below the printed resolution" in deposit.reason
    assert "6.048 requests over 7d" in snap.resolution

    def rare_plaintext(data: dict[str, Any]) -> None:
        rare(data)
        if data["traffic"]["rates"].get("grpc") == "0.00000":
            del data["isMTLS"]

    snap = load_traffic_export(str(_with_security(path, tmp_path / "plain.json",
                                                  rare_plaintext)))
    failed = plaintext_gate(snap, "bankapp")
    assert failed.status == "fail" and ">=1 requests/connections" in failed.reason
    assert [e.source_workload for e in failed.offenders] == ["reviews-v3"]


def test_kiali_share_below_100_is_never_all_mtls(tmp_path: Path) -> None:
    path = sample("kiali", "kiali-test_workload_graph.json")

    def almost(data: dict[str, Any]) -> None:
        data["isMTLS"] = "99" if data["traffic"]["protocol"] == "grpc" else "100"

    snap = load_traffic_export(str(_with_security(path, tmp_path / "g.json", almost)))
    gate = plaintext_gate(snap, "bankapp")
    assert gate.status == "fail" and gate.evidence == ROUNDED


def test_server_side_prometheus_is_proof(tmp_path: Path) -> None:
    """The contrast: the same shape with reporter=destination and a real policy proves."""
    path = sample("prometheus", "istio-io-blog-passthrough-tcp-closed.json")
    doc = json.loads(path.read_text())
    metric = doc["data"]["result"][0]["metric"]
    metric.update({"reporter": "destination", "connection_security_policy": "mutual_tls",
                   "destination_service_name": "httpbin",
                   "destination_service_namespace": "default",
                   "__name__": "istio_tcp_connections_opened_total"})
    own = tmp_path / "server.json"
    own.write_text(json.dumps({"tcp": doc, "window": "7d"}))
    snap = load_traffic_export(str(own))
    gate = plaintext_gate(snap, "default")
    assert (snap.window, gate.status, gate.evidence) == ("7d", "pass", PROOF)


def _bookinfo_hubble(*extra: str) -> Analysis:
    """The real 400-TCP-flow capture over bookinfo's manifests (as namespace bookinfo, as in
    the capture), plus ``extra`` inputs."""
    from planner.service import ManifestInput, TrafficSource, analyse, observe

    manifests = require_shared("corpus", "bookinfo", "bookinfo.yaml")
    flows = sample("hubble", "basic-sample-400-tcp-flows.json")
    return observe(analyse(ManifestInput((str(manifests), *extra), namespace="bookinfo")),
                   TrafficSource(traffic_file=str(flows)))


def _ways(analysis: Analysis) -> dict[str, tuple[str, str]]:
    assert analysis.traffic is not None
    return {f"{m.namespace}/{m.pod}": (m.workload, m.via or m.reason)
            for m in analysis.traffic.pod_mappings}


def test_hubble_pods_map_by_their_names_without_pods_in_the_input() -> None:
    """Real Hubble names pods; with only bookinfo's manifests, each pod follows its
    Deployment's naming (<deployment>-<hash>-<id>), a peer shown by IP and labels maps by its
    labels, and what the input does not hold stays unmapped, named with its count."""
    analysis = _bookinfo_hubble()
    ways = _ways(analysis)
    assert len(ways) == 11
    assert ways["bookinfo/reviews-v2-7bf8c9648f-r7bs2"] == (
        "Deployment/bookinfo/reviews-v2", "pod-name")
    assert sorted(v[1] for v in ways.values()).count("pod-name") == 6
    assert ways["bookinfo/pod@10.244.1.29"] == ("Deployment/bookinfo/reviews-v3", "labels")
    # Seen with productpage's and with ratings' labels: names no one.
    assert ways["bookinfo/pod@10.244.0.148"][0] == ""
    assert ways["jaeger/jaeger-default-6f5845c4b7-7r5r6"] == (
        "", "the input has nothing in this namespace")
    assert analysis.traffic is not None
    assert analysis.traffic.notes[-1] == (
        "11 pod(s) named by the source: 7 mapped to their workloads through the scanned "
        "inventory (6 by pod name, 1 by labels); 4 unmapped keep their names: "
        "bookinfo/pod@10.244.0.148 (20), jaeger/jaeger-default-6f5845c4b7-7r5r6 (3), "
        "kube-system/otelcol-hubble-collector-fwc6m (2), "
        "kube-system/otelcol-hubble-collector-2t8z4 (1)")
    callers = {e.source_workload for e in analysis.traffic.edges
               if e.source_namespace == "bookinfo"}
    assert {"productpage-v1", "ratings-v1", "reviews-v2"} <= callers
    assert not {c for c in callers if c.startswith(("productpage-v1-", "reviews-v2-"))}
    observed = {e.key for e in analysis.graph.edges if e.observed is not None}
    assert "Deployment/bookinfo/productpage-v1 -> Service/bookinfo/reviews" in observed
    assert "Deployment/bookinfo/reviews-v2 -> Service/bookinfo/ratings" in observed
    assert not [k for k in observed if "Service/unknown/" in k]


def test_hubble_pods_map_by_owner_references_and_ips_with_a_pods_dump() -> None:
    """With a ``kubectl get pods -o yaml`` of the capture's pods next to the manifests, every
    named pod maps through its own ownerReferences (the dump holds no ReplicaSets: the
    pod-template-hash names the Deployment), and the two peers shown by IP only stay
    unmapped: no pod holds those IPs (they are nodes' addresses), so their labels prove
    nothing."""
    analysis = _bookinfo_hubble(str(FIXTURES / "hubble-400-tcp-pods.yaml"))
    ways = _ways(analysis)
    assert sorted(v[1] for v in ways.values()).count("owner-references") == 9
    assert ways["bookinfo/reviews-v2-7bf8c9648f-r7bs2"] == (
        "Deployment/bookinfo/reviews-v2", "owner-references")
    # The DaemonSet is not in the input: the Pod is the workload as far as the input knows.
    assert ways["kube-system/otelcol-hubble-collector-2t8z4"] == (
        "Pod/kube-system/otelcol-hubble-collector-2t8z4", "owner-references")
    gone = "no Pod of the input holds this IP (a node's address, or a pod gone)"
    assert ways["bookinfo/pod@10.244.1.29"] == ("", gone)
    assert ways["bookinfo/pod@10.244.0.148"] == ("", gone)
    assert analysis.scan.inventory.folded["Pod"] == 6  # into bookinfo's Deployments
    observed = {e.key for e in analysis.graph.edges if e.observed is not None}
    assert "Deployment/bookinfo/reviews-v3 -> Service/bookinfo/ratings" not in observed
    assert "observed:bookinfo/pod@10.244.1.29 -> Service/bookinfo/ratings" in observed
    assert "Deployment/bookinfo/productpage-v1 -> Service/bookinfo/reviews" in observed


def test_traffic_command_says_per_pod_which_way_it_was_mapped() -> None:
    """``planner traffic -o json`` lists every pod the capture named with its workload, the
    way it was mapped and its count; ``-o wide`` shows the same as a table."""
    from click.testing import CliRunner

    from planner.cli import cli

    manifests = require_shared("corpus", "bookinfo", "bookinfo.yaml")
    flows = sample("hubble", "basic-sample-400-tcp-flows.json")
    args = ["traffic", "-f", str(manifests), "-f", str(FIXTURES / "hubble-400-tcp-pods.yaml"),
            "-n", "bookinfo", "--traffic", str(flows)]
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(cli, [*args, "-o", "json"])
    assert result.exit_code == 0, result.output
    pods = {p["pod"]: p for p in json.loads(result.stdout)["pods"]}
    assert pods["productpage-v1-6b746f74dc-9rcxx"] == {
        "namespace": "bookinfo", "pod": "productpage-v1-6b746f74dc-9rcxx",
        "workload": "Deployment/bookinfo/productpage-v1", "via": "owner-references",
        "count": 39, "reason": ""}
    assert (pods["pod@10.244.0.148"]["via"], pods["pod@10.244.0.148"]["count"]) == ("", 20)
    wide = runner.invoke(cli, [*args, "-o", "wide"])
    assert wide.exit_code == 0, wide.output
    assert "Pods named by the source -> workloads of the input" in wide.stdout
    assert "Deployment/productpage-v1" in wide.stdout


def test_traffic_of_unknown_security_never_reads_as_plaintext() -> None:
    """Hubble shows traffic, not its security: the summary says ``unknown of 33``, never
    ``0% of 33`` (which reads as all plaintext), the JSON splits the unknown part per protocol,
    and the graph's mTLS column says ``unknown``, not ``-`` (not observed) or ``idle``."""
    from click.testing import CliRunner

    from planner.cli import cli

    manifests = require_shared("corpus", "bookinfo", "bookinfo.yaml")
    flows = sample("hubble", "basic-sample-400-tcp-flows.json")
    args = ["-f", str(manifests), "-n", "bookinfo", "--traffic", str(flows)]
    runner = CliRunner(env={"COLUMNS": "200"})
    table = runner.invoke(cli, ["traffic", *args]).stdout
    assert "unknown of 33" in table and "0% of 33" not in table
    doc = json.loads(runner.invoke(cli, ["traffic", *args, "-o", "json"]).stdout)
    bookinfo = {n["namespace"]: n for n in doc["namespaces"]}["bookinfo"]
    assert bookinfo["requests"] == {"total": 33, "mtls": 0, "tlsUnknown": 33}
    assert bookinfo["connections"]["tlsUnknown"] == bookinfo["connections"]["total"] > 0
    graph = runner.invoke(cli, ["graph", *args]).stdout
    row = next(line for line in graph.splitlines()
               if "Deployment/bookinfo/productpage-v1" in line and "Service/bookinfo/reviews"
               in line)
    assert "unknown" in row
