"""The cost of the mesh a plan leaves (``Plan.cost``): a sidecar for each pod the plan meshes in
a sidecar namespace, and nothing for the pods it leaves out (opt-outs, hostNetwork, namespaces
kept outside); ztunnel on every node once a namespace is ambient, with the waypoints the
assessment found; priced as the assessment's options, and shown where the options are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.domain.fit import PLAN_COST, CostOption
from planner.service import ManifestInput, analyse, assess, build_plan
from tests.fit.conftest import SAMPLES, write
from tests.fit.test_dataplane_costs import APP, RETRIES

NODES = """\
apiVersion: v1
kind: Node
metadata: {name: node-a}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
---
apiVersion: v1
kind: Node
metadata: {name: node-c}
"""

OPTED_OUT = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: NS}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      parallelism: 4
      template:
        metadata:
          annotations: {sidecar.istio.io/inject: "false"}
        spec:
          containers: [{name: report, image: example/report:1}]
          restartPolicy: Never
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: NS}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers: [{name: agent, image: example/agent:1}]
"""

PROMETHEUS = """\
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: prometheus, namespace: monitoring}
spec:
  replicas: 2
  selector: {matchLabels: {app: prometheus}}
  template:
    metadata: {labels: {app: prometheus}}
    spec:
      containers: [{name: prometheus, image: quay.io/prometheus/prometheus:v2.53.0}]
"""


def _plan_cost(*paths: Path, dataplane: str = "recommended") -> tuple[CostOption, dict[str, int]]:
    analysis = analyse(ManifestInput(tuple(str(p) for p in paths), recursive=True))
    assessment = assess(analysis)
    plan = build_plan(analysis, dataplane=dataplane, assessment=assessment)
    assert plan.cost is not None and plan.cost.name == PLAN_COST
    return plan.cost, {line.component: line.count for line in plan.cost.lines}


def test_a_sidecar_for_each_pod_the_plan_meshes_and_none_for_those_it_leaves_out(
        tmp_path: Path) -> None:
    """A labelled namespace keeps sidecars: api x3 and worker x1 get one each; the opted-out
    CronJob (4 pods) and the hostNetwork DaemonSet (one per node) get none, and neither do
    the Prometheus pods of a namespace the plan keeps outside."""
    write(tmp_path / "app.yaml", APP.replace("NS", "shop") + "---\n"
          + OPTED_OUT.replace("NS", "shop"))
    write(tmp_path / "nodes.yaml", NODES)
    write(tmp_path / "monitoring.yaml", PROMETHEUS)
    cost, counts = _plan_cost(tmp_path)
    assert counts == {"sidecar": 4, "ztunnel": 0, "waypoint": 0, "istiod": 1}
    assert cost.proxies == 4
    # Priced as the assessment's options: 100m and 128 MiB a sidecar, istiod 500m/2 GiB.
    assert (cost.cpu_millicores, cost.memory_mib) == (4 * 100 + 500, 4 * 128 + 2048)


def test_ambient_counts_ztunnel_per_node_and_the_waypoints_assessed(tmp_path: Path) -> None:
    """An unlabelled namespace with L7 retries goes ambient with --dataplane ambient: no
    sidecar, ztunnel on each of the 3 nodes, and the waypoint the assessment says the
    retries need."""
    app = APP.replace("NS", "shop").replace(", labels: {istio-injection: enabled}", "")
    write(tmp_path / "app.yaml", app + "---\n" + RETRIES.replace("NS", "shop"))
    write(tmp_path / "nodes.yaml", NODES)
    cost, counts = _plan_cost(tmp_path, dataplane="ambient")
    assert counts == {"sidecar": 0, "ztunnel": 3, "waypoint": 1, "istiod": 1}
    assert cost.proxies == 4
    _, sidecars = _plan_cost(tmp_path, dataplane="sidecar")
    assert sidecars == {"sidecar": 4, "ztunnel": 0, "waypoint": 0, "istiod": 1}


def test_the_shop_plan_lies_between_the_assessed_options_and_says_so() -> None:
    """The shop keeps four labelled namespaces on sidecars where ambient is recommended, and
    two namespaces outside: the plan's cost is neither the recommended mix nor all-sidecar,
    and every human view names it."""
    analysis = analyse(ManifestInput((str(SAMPLES / "shop"),), recursive=True))
    assessment = assess(analysis)
    plan = build_plan(analysis, assessment=assessment)
    assert plan.cost is not None
    options = {o.name: o for o in assessment.costs.options}
    assert options["recommended"].proxies < plan.cost.proxies < options["sidecar"].proxies
    words = f"{plan.cost.proxies} proxies, {plan.cost.cpu_millicores / 1000:g} vCPU"

    runner = CliRunner()
    args = ["-f", str(SAMPLES / "shop"), "-R"]
    shown = runner.invoke(cli, ["plan", *args], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert f"Cost of this plan: {words}" in shown.output
    assert "(4 kept as labelled; the rest as `planner assess` recommends" in shown.output
    report = runner.invoke(cli, ["report", "--json", *args])
    doc = json.loads(report.output)
    assert doc["plan"]["cost"]["proxies"] == plan.cost.proxies
    markdown = runner.invoke(cli, ["report", "--format", "markdown", *args]).output
    assert f"This plan: {words}" in markdown
    assert f"| this plan | {plan.cost.proxies} |" in markdown


@pytest.mark.parametrize("sample", ["shop", "tiny", "gitops-gateway"])
def test_with_sidecars_everywhere_the_plan_is_the_sidecar_option_less_what_it_leaves_out(
        sample: str) -> None:
    """``--dataplane sidecar``: the plan's sidecars are the assessment's all-sidecar count,
    less the pods of namespaces the plan keeps outside and of workloads it does not mesh."""
    analysis = analyse(ManifestInput((str(SAMPLES / sample),), recursive=True))
    assessment = assess(analysis)
    plan = build_plan(analysis, dataplane="sidecar", assessment=assessment)
    assert plan.cost is not None
    counts = {line.component: line.count for line in plan.cost.lines}
    all_sidecars = next(o for o in assessment.costs.options if o.name == "sidecar")
    outside = {f.name for f in plan.namespaces if f.mode.value == "outside"}
    kept_out = sum(c.pods for c in assessment.namespaces if c.namespace in outside)
    assert counts["sidecar"] <= all_sidecars.proxies - kept_out
    assert counts["ztunnel"] == 0 or any(f.mode.value == "ambient" for f in plan.namespaces)


def test_a_cost_that_rests_on_an_unknown_node_count_says_so(tmp_path: Path) -> None:
    """Without Node objects (manifests rarely hold them) ztunnel is counted for one node: the
    plan says so in its notes, which every view prints. A plan whose cost does not depend on
    the node count (sidecars, no DaemonSet) adds no note, nor does one that knows the nodes."""
    app = APP.replace("NS", "shop").replace(", labels: {istio-injection: enabled}", "")
    write(tmp_path / "app.yaml", app)

    def notes(dataplane: str) -> list[str]:
        analysis = analyse(ManifestInput((str(tmp_path),), recursive=True))
        plan = build_plan(analysis, dataplane=dataplane)
        return [n for n in plan.notes if "node" in n]

    [note] = notes("ambient")
    assert note.startswith("The cost counts 1 node: the input has no Node objects")
    assert note.endswith("Give --nodes N for the real figure.")
    assert notes("sidecar") == []
    # --nodes gives the count, as for assess: ztunnel on each node, and no note.
    for command in (["plan", "-o", "json"], ["report", "--json"]):
        shown = CliRunner().invoke(cli, [*command, "-f", str(tmp_path), "--dataplane", "ambient",
                                         "--nodes", "3"])
        assert shown.exit_code == 0, shown.output
        doc = json.loads(shown.stdout)
        plan = doc.get("plan", doc)
        assert {line["component"]: line["count"] for line in plan["cost"]["lines"]}["ztunnel"] == 3
        assert not [n for n in plan["notes"] if "node" in n]
    write(tmp_path / "nodes.yaml", NODES)
    assert notes("ambient") == []
