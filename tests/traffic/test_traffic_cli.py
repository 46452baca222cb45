"""``planner traffic``, ``planner plan`` and ``planner graph`` with observed traffic from a real
Prometheus (the shop ground truth in shop_truth.py), an empty one, a Kiali and a CSV export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.exit_codes import ExitCode

from .promserver import PromServer, require_prometheus, tolerance
from .shop_truth import SHOP_TRUTH, write_csv, write_kiali

pytestmark = pytest.mark.slow

SHOP = str(Path(__file__).resolve().parents[2] / "sample_clusters" / "shop")
TOL = tolerance(step_s=60, span_s=7200)


@pytest.fixture(scope="module")
def shop_prom() -> Iterator[str]:
    """A real Prometheus holding SHOP_TRUTH as Istio metrics."""
    require_prometheus()
    with PromServer(list(SHOP_TRUTH)) as server:
        yield server.url


def invoke(*args: str) -> Any:
    # Wide enough that Rich tables do not wrap the names the tests look for.
    result = CliRunner(env={"COLUMNS": "300"}).invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


def traffic_json(*source: str) -> dict[str, Any]:
    out = invoke("traffic", "-f", SHOP, "-R", *source, "-o", "json").stdout
    assert out.startswith('{\n  "schemaVersion": "meshplan.io/traffic/v2",')
    data: dict[str, Any] = json.loads(out)
    return data


def check_shop(doc: dict[str, Any], data: str = "mixed") -> None:
    """The assertions every source of the shop ground truth must satisfy (``data``: the
    data namespace's status, which depends on how the source counts mixed TCP)."""
    ns = {n["namespace"]: n for n in doc["namespaces"]}
    assert {k: (ns[k]["status"], ns[k]["gate"]["status"]) for k in
            ("storefront", "catalog", "orders", "data", "payments") if k in ns} == {
        "storefront": ("mtls-only", "pass"), "catalog": ("mtls-only", "pass"),
        "orders": ("mixed", "fail"), "data": (data, "fail"),
        "payments": ("no-data", "unknown")}
    assert ns["payments"]["hasSeries"] is False
    [caller] = ns["orders"]["plaintextCallers"]
    assert caller["caller"] == "external:unknown@orders"
    assert caller["suspects"] == ["CronJob/orders/nightly-report"]
    assert ns["catalog"]["unpredicted"] == [
        "Deployment/orders/shipping -> Service/catalog/catalog"]
    edges = {e["key"]: e for e in doc["edges"]}
    assert edges["Deployment/storefront/web -> Service/storefront/bff:8080"]["origin"] == "both"
    assert edges["Deployment/orders/shipping -> Service/catalog/catalog"]["origin"] == (
        "observed")
    assert edges["Deployment/orders/orders -> Service/payments/payments:8080"]["origin"] == (
        "inferred")
    assert edges["external:unknown@orders -> Service/orders/orders"]["observed"][
        "mtlsShare"] == 0.0


def test_traffic_from_prometheus(shop_prom: str) -> None:
    doc = traffic_json("--prometheus", shop_prom)
    assert doc["source"] == f"prometheus {shop_prom}" and doc["window"] == "7d"
    check_shop(doc)
    edges = {e["key"]: e["observed"] for e in doc["edges"]}
    pg = edges["Deployment/catalog/catalog -> Service/data/postgres:5432"]
    assert pg["mtlsShare"] == pytest.approx(0.75)
    assert 40 <= pg["connections"] <= 40 * (1 + TOL)
    ns = {n["namespace"]: n for n in doc["namespaces"]}
    assert ns["orders"]["gate"]["offenders"] == [
        "unknown/unknown -> orders/orders (http)"]


def test_traffic_table(shop_prom: str) -> None:
    out = invoke("traffic", "-f", SHOP, "-R", "--prometheus", shop_prom).stdout
    # Every source shows its window, evidence level and resolution.
    for text in ("mTLS per namespace", "orders: mixed, gate fail", "external:unknown@orders",
                 "nightly-report", "unpredicted", "never observed", "payments: no-data",
                 "window 7d", "evidence: server-side", "resolution: counts are increase()"):
        assert text in out, text


def test_plan_gates_from_prometheus(shop_prom: str) -> None:
    out = invoke("plan", "-f", SHOP, "-R", "--prometheus", shop_prom, "-o", "json").stdout
    steps = {s["id"]: s for s in json.loads(out)["steps"]}
    gates = {k: s["gate"]["status"] for k, s in steps.items() if "gate" in s}
    # orders' plaintext comes only from a sidecar-less caller on the port its exception
    # keeps PERMISSIVE: let through, so left out (`planner traffic` shows the raw fail).
    assert gates == {"40-strict-storefront": "pass",
                     "40-strict-orders": "pass", "40-strict-data": "fail",
                     "40-strict-payments": "unknown", "60-mesh-strict": "fail"}
    assert "left out as the plan keeps the ports they reach PERMISSIVE" in steps[
        "40-strict-orders"]["gate"]["reason"]
    mp301 = [b for b in steps["40-strict-data"]["blockers"] if b["code"] == "MP301"]
    assert [b["subject"] for b in mp301] == ["Deployment/orders/cart"]
    assert "no series" in steps["40-strict-payments"]["gate"]["reason"]
    # Proven namespaces go STRICT first.
    order = [k for k in sorted(steps, key=lambda k: steps[k]["order"]) if k in gates]
    assert order[0] == "40-strict-storefront"
    table = invoke("plan", "-f", SHOP, "-R", "--prometheus", shop_prom).stdout
    assert "gate 40-strict-data: fail" in table and "MP301" in table


def test_graph_shows_origin_and_share(shop_prom: str) -> None:
    out = invoke("graph", "-f", SHOP, "-R", "--prometheus", shop_prom, "-o", "json").stdout
    edges = {e["key"]: e for e in json.loads(out)["edges"]}
    edge = edges["Deployment/storefront/web -> Service/storefront/bff:8080"]
    assert edge["origin"] == "both" and edge["observed"]["mtlsShare"] == 1.0
    table = invoke("graph", "-f", SHOP, "-R", "--prometheus", shop_prom).stdout
    assert "mTLS" in table and "origin" not in table
    assert "origin" in invoke("graph", "-f", SHOP, "-R", "--prometheus", shop_prom,
                              "-o", "wide").stdout


def test_empty_prometheus_every_gate_unknown(empty_prom_url: str) -> None:
    doc = traffic_json("--prometheus", empty_prom_url)
    assert doc["hasData"] is False
    assert {n["gate"]["status"] for n in doc["namespaces"]} == {"unknown"}
    assert {e["origin"] for e in doc["edges"]} == {"inferred"}
    out = invoke("plan", "-f", SHOP, "-R", "--prometheus", empty_prom_url, "-o", "json").stdout
    gates = [s["gate"] for s in json.loads(out)["steps"] if "gate" in s]
    assert gates and {g["status"] for g in gates} == {"unknown"}


def test_traffic_from_kiali_export(tmp_path: Path) -> None:
    path = write_kiali(tmp_path / "kiali.json")
    doc = traffic_json("--traffic", str(path))
    assert doc["source"] == f"kiali export {path}"
    # Kiali gives TCP a byte rate and a share that is 100 or not: mixed counts as plaintext.
    check_shop(doc, data="plaintext-only")
    # Forcing the format gives the same answer, byte for byte (deterministic output).
    forced = invoke("traffic", "-f", SHOP, "-R", "--traffic", str(path), "--traffic-format",
                    "kiali", "-o", "json").stdout
    assert forced == invoke("traffic", "-f", SHOP, "-R", "--traffic", str(path),
                            "-o", "json").stdout


def test_traffic_from_csv_export(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "traffic.csv")
    doc = traffic_json("--traffic", str(path), "--trust-declared")
    assert doc["window"] == "unknown" and doc["trustDeclared"] is True
    check_shop(doc)
    out = invoke("plan", "-f", SHOP, "-R", "--traffic", str(path), "--trust-declared",
                 "-o", "json").stdout
    steps = {s["id"]: s for s in json.loads(out)["steps"]}
    # The CSV names no destination workload; the gate, judged per call by the what-if,
    # still sees that orders' plaintext reaches the port 50-exception-orders-orders keeps
    # PERMISSIVE, as the Prometheus gate does (it used to fail here, matching workloads).
    assert steps["40-strict-orders"]["gate"]["status"] == "pass"
    assert steps["40-strict-data"]["gate"]["status"] == "fail"
    storefront = steps["40-strict-storefront"]["gate"]
    assert storefront["status"] == "pass" and "--trust-declared" in storefront["reason"]
    # Without --trust-declared the same file fails gates but passes none.
    out = invoke("plan", "-f", SHOP, "-R", "--traffic", str(path), "-o", "json").stdout
    steps = {s["id"]: s for s in json.loads(out)["steps"]}
    assert {k: steps[k]["gate"]["status"] for k in (
        "40-strict-orders", "40-strict-data", "40-strict-storefront")} == {
        "40-strict-orders": "unknown", "40-strict-data": "fail",
        "40-strict-storefront": "unknown"}
    assert traffic_json("--traffic", str(path))["trustDeclared"] is False


def test_usage_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["traffic", "-f", SHOP, "-R"])
    assert result.exit_code == ExitCode.INPUT_ERROR and "--prometheus" in result.output
    path = write_csv(tmp_path / "t.csv")
    result = CliRunner().invoke(cli, ["traffic", "-f", SHOP, "-R", "--traffic", str(path),
                                      "--prometheus", "http://127.0.0.1:9"])
    assert result.exit_code == ExitCode.INPUT_ERROR and "not both" in result.output
    result = CliRunner().invoke(cli, ["traffic", "-f", SHOP, "-R", "--traffic",
                                      str(tmp_path / "missing.csv")])
    assert result.exit_code == ExitCode.METRICS_ERROR
    assert result.output.startswith("planner: error:")


def test_a_malformed_flow_is_one_line_and_exit_6(tmp_path: Path) -> None:
    """A Hubble export whose port is no number stops every command that reads traffic with
    the file's one-line error and METRICS_ERROR, not an internal error (exit 1)."""
    path = tmp_path / "flows.json"
    path.write_text(json.dumps({"flow": {
        "verdict": "FORWARDED", "IP": {"source": "10.0.0.1", "destination": "10.0.0.2"},
        "l4": {"TCP": {"source_port": "x", "destination_port": 8080}},
        "source": {"namespace": "shop"}, "destination": {"namespace": "shop"}}}))
    for command in ("traffic", "graph", "plan", "report", "authz"):
        result = CliRunner().invoke(cli, [command, "-f", SHOP, "-R", "--traffic", str(path)])
        assert result.exit_code == ExitCode.METRICS_ERROR, result.output
        assert result.stderr == (f"planner: error: {path}:1: hubble export: "
                                 "l4.TCP.source_port 'x' is not a port number\n")


def test_an_unreadable_token_file_says_why(tmp_path: Path) -> None:
    """The reason a token file cannot be read reaches the user whole: errors pass the
    credential redaction, which took the reason after "token:" for a token."""
    for path, why in ((tmp_path / "missing", "No such file or directory"),
                      (tmp_path, "Is a directory")):
        result = CliRunner().invoke(cli, ["traffic", "-f", SHOP, "-R", "--prometheus",
                                          "http://127.0.0.1:9", "--prometheus-token-file",
                                          str(path)])
        assert result.exit_code == ExitCode.METRICS_ERROR
        assert result.stderr == (f"planner: error: {path}: cannot read the Prometheus token "
                                 f"file: {why}\n")


@pytest.mark.parametrize(("flags", "says"), [
    (["--traffic", "{csv}", "--window", "30d"], "--window is for --prometheus"),
    (["--traffic", "{csv}", "--prometheus-ca", "ca.pem"], "--prometheus-ca is for --prometheus"),
    (["--traffic", "{csv}", "--prometheus-token-file", "t"],
     "--prometheus-token-file is for --prometheus"),
    (["--prometheus", "http://127.0.0.1:9", "--trust-declared"], "--trust-declared is for "
     "--traffic"),
    (["--traffic-format", "csv"], "--traffic-format is for --traffic"),
])
def test_a_flag_of_a_source_not_given_is_refused(tmp_path: Path, flags: list[str],
                                                 says: str) -> None:
    """A flag of the traffic source not given would be ignored without a word (an export
    covers its own window, whatever --window says): one line, exit 2, before anything is
    read."""
    csv_path = str(write_csv(tmp_path / "t.csv"))
    for command in ("traffic", "plan"):
        result = CliRunner().invoke(cli, [command, "-f", SHOP, "-R",
                                          *(f.format(csv=csv_path) for f in flags)])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert result.stderr == f"planner: error: {says}, which is not given: it would be " \
                                "ignored\n"


def test_an_unknown_traffic_format_is_a_usage_error(tmp_path: Path) -> None:
    """A --traffic-format no reader has is a bad flag value like any other (exit 2, one line
    naming the flag and the formats), not an unreadable export (exit 6)."""
    csv_path = str(write_csv(tmp_path / "t.csv"))
    for command in ("traffic", "plan"):
        result = CliRunner().invoke(cli, [command, "-f", SHOP, "-R", "--traffic", csv_path,
                                          "--traffic-format", "nope"])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert result.stderr.count("\n") == 1
        assert "'--traffic-format'" in result.stderr and "'nope'" in result.stderr
        assert "'hubble'" in result.stderr and "'csv'" in result.stderr
    # A format that exists still reads the file.
    good = CliRunner().invoke(cli, ["traffic", "-f", SHOP, "-R", "--traffic", csv_path,
                                    "--traffic-format", "csv"])
    assert good.exit_code in (0, 3), good.output
