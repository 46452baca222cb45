"""``planner what-if``: per-call STRICT simulation on clusters whose truth is known.

The shop sample says which namespaces are enrolled (storefront, catalog, orders, data) and
which callers stay out (monitoring, payments, ingress-nginx, the opted-out CronJob); small
hand-made clusters pin Istio's precedence: port-level over workload over namespace over
mesh-wide, UNSET inheriting, the oldest of two workload policies winning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from planner.cli import cli
from planner.exit_codes import ExitCode
from planner.sinks.whatif_json import SCHEMA_VERSION, whatif_schema

ROOT = Path(__file__).resolve().parents[2]
SHOP = str(ROOT / "sample_clusters" / "shop")


def run(*args: str) -> Any:
    return CliRunner(env={"COLUMNS": "300"}).invoke(cli, ["what-if", *args])


def whatif_json(*args: str, code: int | None = None) -> dict[str, Any]:
    result = run(*args, "-o", "json")
    if code is not None:
        assert result.exit_code == code, result.output
    assert result.exit_code in (0, ExitCode.FINDINGS), result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    errors = [e.message for e in Draft202012Validator(whatif_schema()).iter_errors(doc)]
    assert not errors, errors
    assert doc["schemaVersion"] == SCHEMA_VERSION
    # Exit code and document agree.
    assert (result.exit_code == ExitCode.FINDINGS) == bool(doc["summary"]["breaking"])
    return doc


def breaking(doc: dict[str, Any]) -> set[tuple[str, str, int | None, str]]:
    return {(e["caller"], e["callee"], e["containerPort"], r["code"])
            for e in doc["edges"] if e["breaks"] for r in e["reasons"]}


def edge(doc: dict[str, Any], caller: str, callee: str, port: int) -> dict[str, Any]:
    [found] = [e for e in doc["edges"] if e["caller"] == caller and e["callee"] == callee
               and e["containerPort"] == port]
    return found


# ---------------------------------------------------------------------------------------------
# The shop sample


def test_shop_catalog_strict_breaks_exactly_the_callers_outside_the_mesh() -> None:
    doc = whatif_json("-f", SHOP, "-R", "--strict", "catalog", code=ExitCode.FINDINGS)
    assert breaking(doc) == {
        ("Deployment/monitoring/prometheus", "Deployment/catalog/catalog", 9102,
         "no-mesh-identity"),
        ("DaemonSet/monitoring/log-shipper", "Deployment/catalog/search", 9200, "host-network"),
        # bff is meshed, but its DestinationRule sends plaintext to search.
        ("Deployment/storefront/bff", "Deployment/catalog/search", 9200,
         "destination-rule-plaintext"),
    }
    # Every caller from an enrolled namespace keeps working, except through the DR.
    for e in doc["edges"]:
        caller_ns = e["caller"].split("/")[1] if e["caller"].count("/") == 2 else ""
        if caller_ns in ("storefront", "catalog", "orders", "data") and not e["breaks"]:
            assert e["note"].startswith(("caller is in the mesh", "meshed")), e
    # catalog's own PERMISSIVE policy is the one edited (the one Istio uses).
    assert doc["changes"] == ["STRICT namespace catalog (PeerAuthentication catalog/default)"]
    assert edge(doc, "Deployment/orders/cart", "Deployment/catalog/catalog", 8080)[
        "modeBefore"] == "PERMISSIVE"
    dr = edge(doc, "Deployment/storefront/bff", "Deployment/catalog/search", 9200)
    assert {"kind": "destinationrule", "source": "DestinationRule storefront/search-plaintext",
            "text": "tls.mode DISABLE", "confidence": 1.0} in dr["evidence"]


def test_shop_storefront_probe_ingress_and_nodeport() -> None:
    doc = whatif_json("-f", SHOP, "-R", "--strict", "storefront")
    assert breaking(doc) == {
        ("external:kubelet", "Deployment/storefront/assets", 8080, "probe-not-rewritten"),
        ("ingress:nginx", "Deployment/storefront/assets", 8080, "no-mesh-identity"),
        ("ingress:nginx", "Deployment/storefront/bff", 8080, "no-mesh-identity"),
        ("ingress:nginx", "Deployment/storefront/web", 8080, "no-mesh-identity"),
        ("external:internet", "Deployment/storefront/web", 8080, "no-mesh-identity"),
    }
    # web's probes are rewritten and its scrape goes to :15020: neither breaks.
    notes = {e["note"] for e in doc["edges"] if e["callee"] == "Deployment/storefront/web"
             and not e["breaks"]}
    assert any("probes are let through" in n for n in notes)
    assert any("15020" in n for n in notes)


def test_one_exception_away() -> None:
    """--workload tests the plan's question: does one exception fix it?"""
    doc = whatif_json("-f", SHOP, "-R", "--strict", "storefront",
                      "--workload", "Deployment/storefront/web")
    assert not {b for b in breaking(doc) if b[1] == "Deployment/storefront/web"}
    web = edge(doc, "ingress:nginx", "Deployment/storefront/web", 8080)
    assert web["mode"] == "PERMISSIVE"
    assert web["decidedBy"] == ("workload PeerAuthentication "
                                "storefront/meshplan-exception-web, simulated")
    assert ("ingress:nginx", "Deployment/storefront/bff", 8080, "no-mesh-identity") in \
        breaking(doc)


def test_namespace_not_enrolled_gets_one_line_and_exit_0() -> None:
    result = run("-f", SHOP, "-R", "--strict", "payments")
    assert result.exit_code == 0, result.output
    assert "namespace payments is not enrolled in the mesh" in result.stdout
    assert "STRICT would have no effect on its workloads" in result.stdout
    doc = whatif_json("-f", SHOP, "-R", "--strict", "payments", code=0)
    assert doc["edges"] == [] and [n["scope"] for n in doc["noEffect"]] == ["payments"]


def test_after_enrollment_judges_the_plans_mesh() -> None:
    """Once the plan enrolls payments, its Services enforce STRICT; only the API server (a
    webhook caller no enrollment can mesh) breaks."""
    doc = whatif_json("-f", SHOP, "-R", "--strict", "payments", "--after-enrollment")
    assert doc["enrollment"] == "after the plan's enrollment"
    assert breaking(doc) == {("external:apiserver", "Deployment/payments/payments-webhook",
                              8443, "no-mesh-identity")}


def test_mesh_wide_strict_respects_namespace_policy() -> None:
    doc = whatif_json("-f", SHOP, "-R", "--strict", "istio-system")
    assert doc["changes"] == ["STRICT mesh-wide (PeerAuthentication istio-system/default)"]
    catalog = [e for e in doc["edges"] if e["callee"].startswith("Deployment/catalog/")]
    assert catalog and all(e["mode"] == "PERMISSIVE" and not e["breaks"] for e in catalog)
    assert {e["decidedBy"] for e in catalog} == {
        "namespace-wide PeerAuthentication catalog/default"}
    assert {n["scope"] for n in doc["noEffect"]} >= {"payments", "monitoring"}


def test_output_is_deterministic_and_markdown_says_the_same() -> None:
    args = ("-f", SHOP, "-R", "--strict", "catalog")
    first, second = run(*args, "-o", "json"), run(*args, "-o", "json")
    assert first.stdout == second.stdout
    markdown = run(*args, "-o", "markdown")
    assert markdown.exit_code == ExitCode.FINDINGS
    assert "**3 of 9 call(s) would break.**" in markdown.stdout
    assert "`host-network`" in markdown.stdout


@pytest.mark.parametrize(("args", "code", "message"), [
    (("--strict", "nope"), ExitCode.INPUT_ERROR, "namespace 'nope' is not in the input"),
    (("--workload", "Deployment/x"), ExitCode.INPUT_ERROR, "expected KIND/NAMESPACE/NAME"),
    (("--workload", "Deployment/shop/none"), ExitCode.INPUT_ERROR, "no Deployment shop/none"),
    (("--workload", "Deployment/storefront/web=LOOSE"), ExitCode.INPUT_ERROR, "mode must be"),
    ((), ExitCode.USAGE, "give at least one change"),
    # One PeerAuthentication in two modes is no state to simulate (PERMISSIVE used to win).
    (("--strict", "catalog", "--permissive", "catalog"), ExitCode.USAGE,
     "--strict catalog and --permissive catalog: one namespace cannot be both"),
    (("--workload", "Deployment/storefront/web=strict", "--workload",
      "Deployment/storefront/web"), ExitCode.USAGE,
     "--workload Deployment/storefront/web is given two modes (PERMISSIVE, STRICT)"),
])
def test_bad_arguments(args: tuple[str, ...], code: int, message: str) -> None:
    result = run("-f", SHOP, "-R", *args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------------------------------------
# Precedence, on a cluster small enough to read


def _cluster(tmp_path: Path, *policies: dict[str, Any]) -> str:
    def deployment(ns: str, name: str, ports: list[int], env: dict[str, str],
                   kind: str = "Deployment") -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": kind,
                "metadata": {"name": name, "namespace": ns},
                "spec": {"selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}}, "spec": {
                             "containers": [{
                                 "name": name, "image": f"example/{name}:1",
                                 "ports": [{"containerPort": p} for p in ports],
                                 "env": [{"name": k, "value": v} for k, v in env.items()]}]}}}}

    def service(ns: str, name: str, ports: list[int], headless: bool = False) -> dict[str, Any]:
        spec: dict[str, Any] = {"selector": {"app": name},
                                "ports": [{"name": f"tcp-{p}", "port": p} for p in ports]}
        if headless:
            spec["clusterIP"] = "None"
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name + ("-headless" if headless else ""), "namespace": ns},
                "spec": spec}

    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "app", "labels": {"istio-injection": "enabled"}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "outside"}},
        deployment("app", "server", [8080, 9090], {}),
        service("app", "server", [8080, 9090]),
        deployment("app", "peer", [8000], {"SERVER": "http://server:8080"}),
        deployment("outside", "client", [], {"A": "http://server.app:8080",
                                             "B": "http://server.app:9090"}),
        deployment("app", "zk", [2181, 2888], {}, kind="StatefulSet"),
        service("app", "zk", [2181], headless=True),
        *policies,
    ]
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    return str(path)


def _pa(ns: str, name: str, mode: str | None = None, selector: dict[str, str] | None = None,
        ports: dict[int, str] | None = None, created: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if mode:
        spec["mtls"] = {"mode": mode}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {str(p): {"mode": m} for p, m in ports.items()}
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if created:
        meta["creationTimestamp"] = created
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": meta, "spec": spec}


CLIENT = "Deployment/outside/client"
SERVER = "Deployment/app/server"


def test_namespace_policy_beats_mesh_wide(tmp_path: Path) -> None:
    path = _cluster(tmp_path, _pa("istio-system", "default", "STRICT"))
    before = whatif_json("-f", path, "--strict", "app")
    assert edge(before, CLIENT, SERVER, 8080)["modeBefore"] == "STRICT"  # inherited
    doc = whatif_json("-f", path, "--permissive", "app", code=0)
    e = edge(doc, CLIENT, SERVER, 8080)
    assert (e["mode"], e["modeBefore"], e["breaks"]) == ("PERMISSIVE", "STRICT", False)
    assert e["decidedBy"] == "namespace-wide PeerAuthentication app/default, simulated"


def test_mesh_wide_strict_does_not_reach_a_permissive_namespace(tmp_path: Path) -> None:
    path = _cluster(tmp_path, _pa("app", "default", "PERMISSIVE"))
    doc = whatif_json("-f", path, "--strict", "istio-system", code=0)
    assert edge(doc, CLIENT, SERVER, 8080)["decidedBy"] == \
        "namespace-wide PeerAuthentication app/default"


def test_unset_namespace_policy_inherits_mesh_wide(tmp_path: Path) -> None:
    path = _cluster(tmp_path, _pa("app", "default"))  # no mtls: UNSET
    doc = whatif_json("-f", path, "--strict", "istio-system", code=ExitCode.FINDINGS)
    e = edge(doc, CLIENT, SERVER, 8080)
    assert e["breaks"] and e["decidedBy"] == \
        "mesh-wide PeerAuthentication istio-system/default, simulated"


def test_workload_policy_beats_namespace(tmp_path: Path) -> None:
    path = _cluster(tmp_path, _pa("app", "server-open", "PERMISSIVE", {"app": "server"}))
    doc = whatif_json("-f", path, "--strict", "app")
    assert not any(e["breaks"] for e in doc["edges"] if e["callee"] == SERVER)
    assert edge(doc, CLIENT, SERVER, 8080)["decidedBy"] == \
        "workload PeerAuthentication app/server-open"


def test_port_level_exception_opens_only_its_port(tmp_path: Path) -> None:
    path = _cluster(tmp_path, _pa("app", "server-metrics", None, {"app": "server"},
                                  {9090: "PERMISSIVE"}))
    doc = whatif_json("-f", path, "--strict", "app", code=ExitCode.FINDINGS)
    strict, open_port = edge(doc, CLIENT, SERVER, 8080), edge(doc, CLIENT, SERVER, 9090)
    assert strict["breaks"] and strict["mode"] == "STRICT"
    # The workload policy's UNSET mode inherits the namespace's simulated STRICT.
    assert strict["decidedBy"] == "namespace-wide PeerAuthentication app/default, simulated"
    assert not open_port["breaks"] and open_port["mode"] == "PERMISSIVE"
    assert open_port["decidedBy"] == \
        "port 9090 of workload PeerAuthentication app/server-metrics"
    # A meshed caller is fine on the STRICT port.
    assert not edge(doc, "Deployment/app/peer", SERVER, 8080)["breaks"]


@pytest.mark.parametrize(("older", "breaks"), [("PERMISSIVE", False), ("STRICT", True)])
def test_oldest_workload_policy_wins(tmp_path: Path, older: str, breaks: bool) -> None:
    newer = "STRICT" if older == "PERMISSIVE" else "PERMISSIVE"
    path = _cluster(tmp_path,
                    _pa("app", "b-old", older, {"app": "server"}, created="2024-01-01T00:00:00Z"),
                    _pa("app", "a-new", newer, {"app": "server"}, created="2025-01-01T00:00:00Z"))
    doc = whatif_json("-f", path, "--permissive", "app")
    e = edge(doc, CLIENT, SERVER, 8080)
    assert e["breaks"] is breaks and e["decidedBy"] == "workload PeerAuthentication app/b-old"


def test_statefulset_peer_port_outside_any_service_breaks(tmp_path: Path) -> None:
    doc = whatif_json("-f", _cluster(tmp_path), "--strict", "app")
    peers = [e for e in doc["edges"] if e["callee"] == "StatefulSet/app/zk"]
    assert [(e["containerPort"], e["breaks"], [r["code"] for r in e["reasons"]])
            for e in peers] == [(2888, True, ["pod-ip"])]
    assert peers[0]["service"] == "Service/app/zk-headless"


def test_observed_plaintext_breaks_even_a_meshed_caller(tmp_path: Path) -> None:
    path = _cluster(tmp_path)
    csv = tmp_path / "traffic.csv"
    csv.write_text("source_namespace,source_workload,destination_namespace,"
                   "destination_service,requests,mtls_share\napp,peer,app,server,200,0.75\n",
                   encoding="utf-8")
    doc = whatif_json("-f", path, "--strict", "app", "--traffic", str(csv))
    assert doc["traffic"] is True
    e = edge(doc, "Deployment/app/peer", SERVER, 8080)
    assert e["breaks"] and [r["code"] for r in e["reasons"]] == ["observed-plaintext"]
    assert e["reasons"][0]["message"].startswith("25% of 200 observed")
    assert e["observed"] == {"connections": 0.0, "mtlsShare": 0.75, "requests": 200.0}
    # Without the traffic, the same call is fine: the manifests alone cannot see it.
    assert not edge(whatif_json("-f", path, "--strict", "app"), "Deployment/app/peer",
                    SERVER, 8080)["breaks"]


def test_docs_field_table_is_current() -> None:
    from planner.sinks.schema_docs import update_docs

    docs = (ROOT / "docs" / "what-if.md").read_text(encoding="utf-8")
    assert update_docs(docs, whatif_schema()) == docs, (
        "docs/what-if.md is stale: run python -m planner.sinks.schema_docs docs/what-if.md")


def test_text_lists_every_breaking_call_and_caps_the_safe_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.sinks import whatif_text

    shown = 5
    monkeypatch.setattr(whatif_text, "SAFE_SHOWN", shown)
    result = run("-f", SHOP, "-R", "--strict", "istio-system")
    doc = whatif_json("-f", SHOP, "-R", "--strict", "istio-system")
    safe = [e for e in doc["edges"] if not e["breaks"]]
    assert len(safe) > shown
    assert result.stdout.count("\nBREAKS ") == doc["summary"]["breaking"]
    assert result.stdout.count("\nok     ") == shown + 1
    assert f"and {len(safe) - shown} more call(s) that keep working" in result.stdout


def test_a_selector_that_is_no_mapping_is_namespace_wide_in_the_plan(tmp_path: Path) -> None:
    """A hand-written PeerAuthentication whose ``matchLabels`` is a list selects no pods: the
    simulation takes it as the namespace's policy, the plan edits it, and the step's what-if
    describes it as such (it stopped with an internal error reading the list as a map)."""
    from planner.domain.whatif import describe

    change = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
              "metadata": {"name": "odd", "namespace": "tiny"},
              "spec": {"selector": {"matchLabels": ["app", "api"]},
                       "mtls": {"mode": "STRICT"}, "portLevelMtls": ["8080"]}}
    assert describe(change, "istio-system") == "STRICT namespace tiny (PeerAuthentication tiny/odd)"
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump(change), encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", "-f", str(ROOT / "sample_clusters" / "tiny"),
                                      "-f", str(tmp_path / "odd.yaml"), "-o", "json"])
    assert result.exit_code in (0, ExitCode.FINDINGS), result.output
    steps = json.loads(result.stdout)["steps"]
    assert any("PeerAuthentication tiny/odd" in json.dumps(step) for step in steps)
