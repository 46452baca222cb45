"""Coverage as a figure and a gate: blind workloads are listed and counted, a STRICT step near
them needs observed traffic (unproven without it), and addresses naming a missing Service are
reported as dangling with the workload and the variable."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from planner.cli import cli
from planner.service import ManifestInput, analyse, build_plan


def _workload(ns: str, name: str, env: str = "", image: str = "example/app:1") -> str:
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: {image}
          ports: [{{containerPort: 8080}}]
          env: [{env}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 8080, targetPort: 8080}}]
"""


#: ``shop``: web -> api -> postgres (a datastore, not counted), web names a missing ``cache``
#: and an external API; ``worker`` calls nothing the manifests show (blind). ``tools``: a
#: ``report`` job calling api; ``ledger`` in ``finance`` is blind but nobody's neighbour.
APP = (
    _workload("shop", "web", "{name: API_URL, value: 'http://api:8080'}, "
                             "{name: CACHE_ADDR, value: 'cache:6379'}, "
                             "{name: STRIPE_URL, value: 'https://api.stripe.com'}, "
                             "{name: KUBE, value: 'https://kubernetes.default.svc:443'}")
    + _workload("shop", "api", "{name: DB_URL, value: 'postgres://postgres.shop:5432/app'}")
    + _workload("shop", "postgres", image="postgres:16")
    + _workload("shop", "worker")
    + _workload("tools", "report", "{name: API_URL, value: 'http://api.shop:8080'}")
    + _workload("finance", "ledger")
)


def _analysis(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "app.yaml"
    path.write_text(APP, encoding="utf-8")
    return analyse(ManifestInput((str(path),)))


def test_coverage_counts_application_workloads_and_lists_the_blind(tmp_path: Path) -> None:
    coverage = _analysis(tmp_path).graph.manifest_coverage
    # postgres is a datastore: it serves and calls nothing, so it is no blind spot.
    assert coverage.applications == 5
    assert coverage.blind == ("Deployment/finance/ledger", "Deployment/shop/worker")
    assert coverage.share == 0.6
    assert [(d.workload, d.source, d.host) for d in coverage.dangling] == [
        ("Deployment/shop/web", "Deployment shop/web env CACHE_ADDR", "cache")]


def test_strict_next_to_blind_workloads_needs_observed_traffic(tmp_path: Path) -> None:
    plan = build_plan(_analysis(tmp_path), dataplane="sidecar")
    shop = plan.step("40-strict-shop")
    assert (shop.proof, shop.blind) == ("observed traffic", ("Deployment/shop/worker",))
    assert shop.preconditions[-1].startswith(
        "proof from observed traffic: the manifests show no outbound call of "
        "Deployment/shop/worker, so they cannot show every caller of shop: enroll in "
        "PERMISSIVE (30-enroll-shop)")
    tools = plan.step("40-strict-tools")  # only report, which calls what it calls in env
    assert (tools.proof, tools.blind) == ("manifests", ())
    assert not any(p.startswith("proof from") for p in tools.preconditions)


def test_cli_marks_unproven_steps_and_prints_the_figure(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(APP, encoding="utf-8")
    runner = CliRunner()
    plan = json.loads(runner.invoke(cli, ["plan", "-f", str(tmp_path), "-o", "json"]).stdout)
    status = {s["id"]: s.get("status") for s in plan["steps"]}
    assert status["40-strict-shop"] == status["40-strict-finance"] == "unproven"
    assert status["40-strict-tools"] == "ready"
    assert status["30-enroll-shop"] is None
    table = runner.invoke(cli, ["plan", "-f", str(tmp_path)]).stdout.splitlines()
    gate = {cells[1]: cells[-1] for line in table if line.startswith("│ 40-strict")
            for cells in [[c.strip() for c in line.split("│")[:-1]]]}
    assert gate == {"40-strict-finance": "unproven", "40-strict-shop": "unproven",
                    "40-strict-tools": "ready"}
    assert ("unproven 40-strict-shop: 1 blind workload(s) (Deployment/shop/worker); the "
            "manifests cannot show every caller: enroll, observe traffic (--prometheus or "
            "--traffic), then STRICT") in " ".join(" ".join(table).split())
    graph = runner.invoke(cli, ["graph", "-f", str(tmp_path)]).stdout
    assert ("manifest coverage: 3 of 5 application workloads (60%) show an outbound call; "
            "2 blind") in graph
    assert ("dangling: cache is no Service in the input (a missing dependency or an external "
            "name); named by Deployment shop/web env CACHE_ADDR") in graph
    report = json.loads(runner.invoke(cli, ["report", "-f", str(tmp_path), "--json"]).stdout)
    assert report["graph"]["manifestCoverage"] == {
        "applications": 5, "share": 0.6,
        "blind": ["Deployment/finance/ledger", "Deployment/shop/worker"],
        "dangling": [{"workload": "Deployment/shop/web", "host": "cache", "text": "cache:6379",
                      "source": "Deployment shop/web env CACHE_ADDR"}]}


def test_a_traffic_source_gates_instead(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(APP, encoding="utf-8")
    traffic = tmp_path / "traffic.csv"
    traffic.write_text("source_namespace,source_workload,destination_namespace,"
                       "destination_service,requests,mtls_share\n"
                       "shop,worker,shop,api,100,1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", "-f", str(tmp_path), "--traffic", str(traffic),
                                      "-o", "json"])
    assert result.exit_code == 0, result.output
    steps = {s["id"]: s for s in json.loads(result.stdout)["steps"]}
    assert "status" not in steps["40-strict-shop"] and "gate" in steps["40-strict-shop"]
