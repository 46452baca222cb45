"""Data plane per namespace (ambient default, sidecar for complex L7 or DISABLE, waypoints with
the features that triggered them) and the cost model's arithmetic."""

from __future__ import annotations

from pathlib import Path

from planner.domain.fit import AMBIENT, SIDECAR
from tests.fit.conftest import SAMPLES, assessment_of, write

APP = """\
apiVersion: v1
kind: Namespace
metadata: {name: NS, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: NS}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      serviceAccountName: api
      containers: [{name: api, image: example/api:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: NS}
spec:
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      serviceAccountName: worker
      containers: [{name: worker, image: example/worker:1}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: NS}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80}]
"""

RETRIES = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: NS}
spec:
  hosts: [api]
  http:
    - route: [{destination: {host: api}}]
      retries: {attempts: 3}
"""


def test_shop_catalog_keeps_sidecars_the_rest_goes_ambient() -> None:
    a = assessment_of(SAMPLES / "shop")
    modes = {ns: choice.mode for ns, choice in a.dataplane.items()}
    assert modes["catalog"] == SIDECAR
    assert {ns for ns, m in modes.items() if m == AMBIENT} == {
        "data", "ingress-nginx", "monitoring", "orders", "payments", "storefront"}
    assert "istio-system" not in modes
    assert "sidecar is the safer choice" in a.dataplane["catalog"].reasons[0]


def test_waypoint_only_for_the_service_account_that_needs_l7(tmp_path: Path) -> None:
    write(tmp_path / "app.yaml", (APP + "---\n" + RETRIES).replace("NS", "shop"))
    a = assessment_of(tmp_path)
    choice = a.namespaces[0]
    assert choice.mode == AMBIENT
    assert choice.waypoint is not None
    assert choice.waypoint.service_accounts == ("api",)
    assert choice.waypoint.features == ("MP106 Retries, timeouts or circuit breaking",)
    assert any("waypoint for service accounts api" in r for r in choice.reasons)


def test_ingress_gateway_routes_need_no_waypoint(tmp_path: Path) -> None:
    gateway_vs = RETRIES.replace("spec:\n", "spec:\n  gateways: [public]\n", 1)
    write(tmp_path / "app.yaml", (APP + "---\n" + gateway_vs).replace("NS", "shop"))
    a = assessment_of(tmp_path)
    assert a.namespaces[0].waypoint is None
    assert "MP106" in {f.code for f in a.factors}


def test_peerauthentication_disable_is_flagged_for_ambient(tmp_path: Path) -> None:
    disable = ("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
               "metadata: {name: legacy, namespace: shop}\n"
               "spec:\n  portLevelMtls:\n    '9000': {mode: DISABLE}\n")
    write(tmp_path / "app.yaml", APP.replace("NS", "shop") + "---\n" + disable)
    choice = assessment_of(tmp_path).namespaces[0]
    assert choice.mode == SIDECAR
    [blocker] = choice.ambient_blockers
    assert blocker.startswith("MP215 PeerAuthentication/shop/legacy sets port 9000 DISABLE")
    assert "change it to move to ambient" in choice.reasons[0]


def test_costs_from_replicas_daemonsets_and_nodes(tmp_path: Path) -> None:
    daemonset = ("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: shop}\n"
                 "spec:\n  selector: {matchLabels: {app: agent}}\n  template:\n"
                 "    metadata: {labels: {app: agent}}\n"
                 "    spec: {containers: [{name: agent, image: example/agent:1}]}\n")
    write(tmp_path / "app.yaml", APP.replace("NS", "shop") + "---\n" + daemonset)
    a = assessment_of(tmp_path, overrides={"nodes": 4})
    costs = a.costs
    assert (costs.pods, costs.meshed_pods, costs.nodes) == (3 + 1 + 4, 8, 4)
    sidecar, ambient, mix = costs.options
    assert sidecar.name == "sidecar" and sidecar.proxies == 8
    assert sidecar.cpu_millicores == 8 * 100 + 500
    assert sidecar.memory_mib == 8 * 128 + 2048
    assert ambient.proxies == 4  # ztunnel per node, no waypoint needed
    assert ambient.cpu_millicores == 4 * 200 + 500
    assert mix.name == "recommended"
    assert (mix.cpu_millicores, mix.memory_mib) == (ambient.cpu_millicores, ambient.memory_mib)
    assert "nodes: 4 (--nodes or profile cluster.nodes)" in costs.assumptions


def test_costs_follow_the_profile_and_say_so(tmp_path: Path) -> None:
    write(tmp_path / "app.yaml", APP.replace("NS", "shop"))
    profile = write(tmp_path / "p.yaml", "costs:\n  sidecar: {cpu: 50m, memory: 64Mi}\n")
    a = assessment_of(tmp_path / "app.yaml", profile=profile)
    line = a.costs.options[0].lines[0]
    assert (line.count, line.cpu_millicores, line.memory_mib) == (4, 200, 256)
    assert "profile costs" in line.assumption
    assert "counted as 1" in a.costs.nodes_source  # no Node objects and no --nodes
