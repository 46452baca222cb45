"""The plan for sample_clusters/shop: order, exceptions, rollbacks, CRD validity, outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from planner.cli import cli
from planner.domain.plan import Action, Phase, Plan
from planner.errors import InputError
from planner.exit_codes import ExitCode
from planner.service import Analysis
from planner.sinks.gitops import write_gitops
from tests.plan.conftest import SHOP, assert_strict_is_safe, crd_schemas, istio_objects


def ids(plan: Plan) -> list[str]:
    return [s.id for s in plan.steps]


def test_phases_and_order(shop: tuple[Analysis, Plan]) -> None:
    _, plan = shop
    steps = ids(plan)
    assert steps[:2] == ["10-prereq", "20-mesh-permissive"]
    assert steps[-1] == "60-mesh-strict"
    enroll = [s for s in steps if s.startswith("30-enroll-")]
    # Callers before the Services they call: storefront -> orders -> catalog/payments -> data.
    assert enroll == ["30-enroll-storefront", "30-enroll-orders", "30-enroll-catalog",
                      "30-enroll-payments", "30-enroll-data"]
    strict = [s for s in steps if s.startswith("40-strict-")]
    # catalog stays PERMISSIVE: Prometheus scrapes port 9102, which no Service binds.
    assert strict == ["40-strict-storefront", "40-strict-orders", "40-strict-payments",
                      "40-strict-data"]
    assert max(steps.index(s) for s in enroll) < min(steps.index(s) for s in strict)


def test_exceptions_name_their_callers(shop: tuple[Analysis, Plan]) -> None:
    _, plan = shop
    exceptions = {s.id: s.forced_by for s in plan.steps if s.phase is Phase.EXCEPTION}
    assert exceptions["50-exception-storefront-bff"] == ("ingress:nginx",)
    assert exceptions["50-exception-catalog"] == ("Deployment/monitoring/prometheus",)
    assert exceptions["50-exception-payments-payments-webhook"] == ("external:apiserver",)
    assert exceptions["50-exception-orders-orders"] == ("CronJob/orders/nightly-report",)
    for step in plan.steps:
        if step.phase is Phase.EXCEPTION:
            assert step.forced_by
            if step.target.scope == "workload":
                assert plan.steps.index(step) < ids(plan).index(
                    f"40-strict-{step.target.namespace}")


def test_strict_never_precedes_callers(shop: tuple[Analysis, Plan]) -> None:
    assert_strict_is_safe(*shop)


def test_every_change_has_a_rollback_and_namespaces_appear(shop: tuple[Analysis, Plan]) -> None:
    analysis, plan = shop
    for step in plan.steps:
        if step.apply:
            assert step.rollback, step.id
    assert {f.name for f in plan.namespaces} == {
        ns.name for ns in analysis.scan.inventory.namespaces}
    fates = {f.name: f for f in plan.namespaces}
    assert fates["monitoring"].final == "outside" and "Prometheus" in fates["monitoring"].reason


def test_existing_policies_are_edited_and_restored(shop: tuple[Analysis, Plan]) -> None:
    _, plan = shop
    kept = plan.step("50-exception-catalog")
    assert kept.apply[0].object["metadata"]["name"] == "default"
    assert kept.apply[0].object["spec"]["mtls"] == {"mode": "PERMISSIVE"}
    assert kept.rollback[0].action is Action.APPLY
    assert kept.rollback[0].object["spec"] == {"mtls": {"mode": "PERMISSIVE"}}
    new = plan.step("40-strict-orders")
    assert new.rollback[0].action is Action.DELETE
    mesh = plan.step("60-mesh-strict")
    assert mesh.rollback[0].object["spec"]["mtls"]["mode"] == "PERMISSIVE"
    enroll = plan.step("30-enroll-payments")
    labels = enroll.apply[0].object["metadata"]["labels"]
    # assess recommends ambient for payments; the revision label would make the revision's
    # sidecar injector win over ambient, so it is left off although istiod runs 1-24.
    assert labels["istio.io/dataplane-mode"] == "ambient"
    assert "istio.io/rev" not in labels
    assert enroll.rollback[0].object["metadata"]["labels"] == {
        "compliance": "pci", "team": "payments"}


def test_strict_preconditions_carry_promql(shop: tuple[Analysis, Plan]) -> None:
    _, plan = shop
    step = plan.step("40-strict-data")
    assert any("istio_requests_total" in q and 'destination_service_namespace="data"' in q
               and 'connection_security_policy!="mutual_tls"' in q and "[7d]" in q
               for q in step.promql)
    assert any("istio_tcp_connections_opened_total" in q for q in step.promql)
    assert "30-enroll-data" in step.requires


def _cel_port_level_requires_selector(spec: dict[str, Any]) -> bool:
    """The CRD's CEL rule, evaluated by hand."""
    if "portLevelMtls" not in spec:
        return True
    return bool((spec.get("selector") or {}).get("matchLabels") or {})


@pytest.mark.parametrize("granularity", ["namespace", "workload"])
def test_istio_objects_validate_against_crds(shop: tuple[Analysis, Plan],
                                             granularity: str) -> None:
    from planner.service import build_plan

    plan = build_plan(shop[0], granularity=granularity)
    schemas = crd_schemas()
    seen = 0
    for obj in istio_objects(plan):
        schema = schemas[(obj["apiVersion"], obj["kind"])]
        jsonschema.validate({"spec": obj["spec"]}, schema)
        assert _cel_port_level_requires_selector(obj["spec"])
        for port in obj["spec"].get("portLevelMtls", {}):
            assert 0 < int(port) <= 65535
        seen += 1
    assert seen


def test_workload_granularity_stages_per_workload(shop: tuple[Analysis, Plan]) -> None:
    from planner.service import build_plan

    plan = build_plan(shop[0], granularity="workload")
    steps = ids(plan)
    assert "40-strict-payments-fraud" in steps
    assert steps.index("40-strict-payments-fraud") < steps.index("40-strict-payments")
    webhook = plan.step("50-exception-payments-payments-webhook").apply[0].object["spec"]
    assert webhook["mtls"] == {"mode": "STRICT"}
    assert webhook["portLevelMtls"] == {"8443": {"mode": "PERMISSIVE"}}


def test_gitops_tree(shop: tuple[Analysis, Plan], tmp_path: Path) -> None:
    _, plan = shop
    out = write_gitops(plan, tmp_path / "rollout")
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == sorted(ids(plan))  # a step's folder is its id, as apply --out writes
    assert yaml.safe_load((out / "steps.yaml").read_text())["steps"] == ids(plan)
    for folder in (p for p in out.iterdir() if p.is_dir()):
        kust = yaml.safe_load((folder / "kustomization.yaml").read_text())
        for resource in kust["resources"]:
            assert (folder / resource).is_file()
        assert (folder / "rollback" / "kustomization.yaml").is_file()
    assert (out / "40-strict-orders" / "rollback" / "delete.yaml").is_file()
    with pytest.raises(InputError, match="not empty"):
        write_gitops(plan, out)
    write_gitops(plan, out, force=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_plan_and_report(tmp_path: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["plan", "-f", str(SHOP), "-R"])
    assert table.exit_code == 0, table.output
    assert "40-strict-data" in table.output
    first = runner.invoke(cli, ["report", "-f", str(SHOP), "-R", "--json"])
    second = runner.invoke(cli, ["report", "-f", str(SHOP), "-R", "--json"])
    assert first.exit_code == 0 and first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert next(iter(doc)) == "schemaVersion" and doc["schemaVersion"] == "meshplan.io/report/v2"
    assert {"inventory", "graph", "plan", "blockers"} <= set(doc)
    failing = runner.invoke(cli, ["report", "-f", str(SHOP), "-R", "--json",
                                  "--fail-on", "critical"])
    assert failing.exit_code == ExitCode.FINDINGS
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("x")
    refused = runner.invoke(cli, ["plan", "-f", str(SHOP), "-R", "--out", str(out)])
    assert refused.exit_code == ExitCode.INPUT_ERROR
    assert (out / "keep").read_text() == "x"
