"""Istio's gateways are mesh clients, in the input or not: no exception, no MP201, and one plan
note (not a finding per route) when only the routes show the gateway."""

from __future__ import annotations

from pathlib import Path

from planner.domain.plan import Action, Plan
from planner.service import ManifestInput, analyse, build_plan

RULES = Path(__file__).resolve().parents[1] / "rules" / "MP201"


def _plan(tmp_path: Path, text: str) -> Plan:
    path = tmp_path / "app.yaml"
    path.write_text(text, encoding="utf-8")
    return build_plan(analyse(ManifestInput((str(path),))), dataplane="sidecar")


def _app(name: str) -> str:
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: app, image: example/{name}:1, ports: [{{containerPort: 8080}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: shop}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
"""


def _routed(names: list[str]) -> str:
    routes = "".join(f"""
    - match: [{{uri: {{prefix: /{n}}}}}]
      route: [{{destination: {{host: {n}}}}}]""" for n in names)
    return "".join(_app(n) for n in names) + f"""---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: public, namespace: shop}}
spec:
  hosts: ["*"]
  gateways: [istio-system/public]
  http:{routes}
"""


GATEWAY = """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-ingress}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata:
      labels: {istio: ingressgateway, app: istio-ingressgateway}
      annotations: {inject.istio.io/templates: gateway}
    spec:
      containers: [{name: istio-proxy, image: auto, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-ingress}
spec:
  type: LoadBalancer
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080}]
"""


def test_gateway_outside_the_input_needs_no_exception_and_gets_one_note(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _routed(["cart", "catalog", "web"]))
    assert not [b for b in plan.blockers if b.code == "MP201"]
    assert not [s for s in plan.steps if s.id.startswith("50-exception")]
    assert plan.step("40-strict-shop").why.endswith("(no other namespace calls it).")
    # One note for the three routed Services, naming the route that shows the gateway.
    assert len(plan.notes) == 1
    assert plan.notes[0].startswith("Calls to 3 Service(s) enter through an Istio gateway "
                                    "whose workload is not in the input "
                                    "(VirtualService shop/public)")


def test_gateway_in_the_input_is_a_mesh_client_and_is_not_enrolled(tmp_path: Path) -> None:
    plan = _plan(tmp_path, _routed(["web"]) + GATEWAY)
    assert plan.notes == ()
    assert not plan.blockers  # neither the route nor the internet into the gateway's Service
    fates = {f.name: f for f in plan.namespaces}
    assert fates["istio-ingress"].final == "outside"
    assert fates["istio-ingress"].reason == (
        "holds only Istio gateways (istio-ingressgateway), proxies of the mesh themselves: "
        "nothing to enroll")
    restarted = [c.object["metadata"]["name"] for s in plan.steps for c in s.apply
                 if c.action is Action.RESTART]
    assert restarted == ["web"]


def test_gateway_beside_applications_is_not_restarted(tmp_path: Path) -> None:
    beside = GATEWAY.replace("namespace: istio-ingress", "namespace: shop")
    plan = _plan(tmp_path, _routed(["web"]) + beside)
    enroll = plan.step("30-enroll-shop")
    assert [c.object["metadata"]["name"] for c in enroll.apply
            if c.action is Action.RESTART] == ["web"]
    assert not plan.blockers


def test_other_gateway_classes_still_need_their_exception(tmp_path: Path) -> None:
    text = (RULES / "fail-gateway-api-other-class.yaml").read_text(encoding="utf-8")
    plan = _plan(tmp_path, text)
    assert [(b.code, b.subject) for b in plan.blockers] == [("MP201", "Deployment/default/api")]
    step = plan.step("50-exception-default-api")
    assert step.forced_by == ("ingress:envoy-gateway",)
    assert plan.notes == ()
