"""The ambient readiness rules (MP215-MP220) decide two things: ``assess`` does not recommend
ambient for a namespace with a finding (except what the recommended waypoint resolves, which
the reasons name), and the plan blocks that namespace's ambient enrollment step with it."""

from __future__ import annotations

from pathlib import Path

from planner.domain.analysis import Analysis
from planner.domain.fit import DataplaneChoice
from planner.service import ManifestInput, analyse, assess, build_plan

APP = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: LABELS}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: api, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec: {selector: {app: api}, ports: [{name: http, port: 80, targetPort: 8080}]}
"""
ENVOY_FILTER = """---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: lua, namespace: shop}
spec: {configPatches: []}
"""
SIDECAR = """---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec: {egress: [{hosts: ["./*"]}]}
"""
L7_POLICY = """---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: api-get, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  rules: [{to: [{operation: {methods: [GET]}}]}]
"""


def _analysis(tmp_path: Path, extra: str = "", labels: str = "{}") -> Analysis:
    path = tmp_path / "app.yaml"
    path.write_text(APP.replace("LABELS", labels) + extra, encoding="utf-8")
    return analyse(ManifestInput((str(path),)))


def _shop(analysis: Analysis) -> DataplaneChoice:
    [choice] = [c for c in assess(analysis).namespaces if c.namespace == "shop"]
    return choice


def test_a_clean_namespace_is_recommended_ambient(tmp_path: Path) -> None:
    choice = _shop(_analysis(tmp_path))
    assert choice.mode == "ambient"
    assert choice.ambient_blockers == ()


def test_an_envoyfilter_keeps_the_namespace_on_sidecars(tmp_path: Path) -> None:
    choice = _shop(_analysis(tmp_path, ENVOY_FILTER))
    assert choice.mode == "sidecar"
    [blocker] = choice.ambient_blockers
    assert blocker.startswith("MP216 EnvoyFilter/shop/lua")
    assert "ambient cannot take: MP216" in choice.reasons[0]


def test_an_existing_sidecar_namespace_is_judged_too(tmp_path: Path) -> None:
    # The plan keeps a labelled sidecar namespace on sidecars, so its rules stay quiet; the
    # assessment still says what stands in the way of moving it.
    analysis = _analysis(tmp_path, SIDECAR, labels="{istio-injection: enabled}")
    choice = _shop(analysis)
    assert choice.mode == "sidecar"
    assert [b[:5] for b in choice.ambient_blockers] == ["MP217"]
    assert not [f for f in build_plan(analysis).blockers if f.code == "MP217"]


def test_a_waypoint_resolves_l7_policies_and_the_reasons_say_what_changes(
        tmp_path: Path) -> None:
    choice = _shop(_analysis(tmp_path, L7_POLICY))
    assert choice.mode == "ambient"
    assert choice.waypoint is not None
    assert choice.ambient_blockers == ()
    [change] = [r for r in choice.reasons if r.startswith("before enrolling it in ambient")]
    assert "MP219 AuthorizationPolicy/shop/api-get" in change


def test_the_plan_blocks_the_ambient_enrollment_step(tmp_path: Path) -> None:
    analysis = _analysis(tmp_path, ENVOY_FILTER)
    plan = build_plan(analysis, dataplane="ambient")
    enroll, strict = plan.step("30-enroll-shop"), plan.step("40-strict-shop")
    assert [(f.code, f.subject) for f in enroll.blockers] == [("MP216", "EnvoyFilter/shop/lua")]
    assert not [f for f in strict.blockers if f.code == "MP216"]
    # As recommended, the namespace stays on sidecars and nothing blocks it.
    recommended = build_plan(analysis)
    assert recommended.step("30-enroll-shop").title == "Enroll shop (sidecar)"
    assert not [f for f in recommended.blockers if f.code == "MP216"]
