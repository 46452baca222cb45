"""The plan against its specification, on small hand-built clusters: existing policies and
precedence, mesh already STRICT, ambient, port exceptions (container ports bound to a Service,
selectors that isolate one workload), cycles, rollbacks, a custom root namespace and PromQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from planner.cli import cli
from planner.domain.plan import Action, Phase, Plan
from planner.service import ManifestInput, analyse, build_plan

#: client/caller (meshed once enrolled) and client/agent (hostNetwork, never meshed) call
#: app/web through Service web port 80, whose named targetPort ``http`` is container port 8080.
BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system}
spec:
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec: {containers: [{name: discovery, image: docker.io/istio/pilot:1.24.0}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: client, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: app, labels: {team: b}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: caller, namespace: client}
spec:
  selector: {matchLabels: {app: caller}}
  template:
    metadata: {labels: {app: caller}}
    spec:
      containers:
      - {name: c, image: caller:1, env: [{name: WEB_ADDR, value: "http://web.app:80"}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: client}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers:
      - {name: c, image: agent:1, env: [{name: WEB_URL, value: "http://web.app:80"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: web:1
        ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 9000}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


def _pa(name: str, namespace: str, mode: str, *, created: str = "",
        extra: str = "") -> str:
    stamp = f", creationTimestamp: '{created}'" if created else ""
    return f"""---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: {name}, namespace: {namespace}, labels: {{owner: sec}},
           annotations: {{note: kept}}{stamp}}}
spec: {{mtls: {{mode: {mode}}}{extra}}}
"""


def _plan(tmp_path: Path, text: str, *, root: str = "istio-system",
          dataplane: dict[str, str] | None = None, granularity: str = "namespace") -> Plan:
    path = tmp_path / "cluster.yaml"
    path.write_text(text, encoding="utf-8")
    analysis = analyse(ManifestInput((str(path),)), root_namespace=root)
    # These cases are about sidecar enrollment unless they map namespaces to ambient.
    return build_plan(analysis, dataplane=dataplane or "sidecar", granularity=granularity)


def _objects(changes: Any, kind: str) -> list[dict[str, Any]]:
    return [dict(c.object) for c in changes if c.object["kind"] == kind]


def _inventory_object(name: str, namespace: str, mode: str) -> dict[str, Any]:
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": namespace, "labels": {"owner": "sec"},
                         "annotations": {"note": "kept"}},
            "spec": {"mtls": {"mode": mode}}}


# (a) an existing namespace-wide policy: precedence said, rollback exact


def test_existing_namespace_strict_in_enrolled_namespace_is_kept_and_restored(
        tmp_path: Path) -> None:
    text = BASE.replace("{name: app, labels: {team: b}}",
                        "{name: app, labels: {team: b, istio-injection: enabled}}")
    plan = _plan(tmp_path, text + _pa("locked", "app", "STRICT"))
    enroll = plan.step("30-enroll-app")
    assert not _objects(enroll.apply, "PeerAuthentication")  # already STRICT: not lowered
    assert "overrides the mesh-wide policy" in enroll.why and "narrowest" in enroll.why
    strict = plan.step("40-strict-app")
    assert strict.apply[0].object["metadata"]["name"] == "locked"
    assert strict.rollback[0].action is Action.APPLY
    assert strict.rollback[0].object == _inventory_object("locked", "app", "STRICT")


def test_existing_namespace_strict_goes_permissive_while_the_namespace_joins(
        tmp_path: Path) -> None:
    plan = _plan(tmp_path, BASE + _pa("locked", "app", "STRICT"))
    enroll = plan.step("30-enroll-app")
    [pinned] = _objects(enroll.apply, "PeerAuthentication")
    assert pinned["metadata"]["name"] == "locked" and pinned["spec"]["mtls"]["mode"] == "PERMISSIVE"
    assert "overrides the mesh-wide policy" in enroll.why and "40-strict-app" in enroll.why
    assert _objects(enroll.rollback, "PeerAuthentication") == [
        _inventory_object("locked", "app", "STRICT")]
    strict = plan.step("40-strict-app")
    assert strict.apply[0].object["spec"]["mtls"] == {"mode": "STRICT"}
    assert strict.rollback[0].object == _inventory_object("locked", "app", "PERMISSIVE")


def test_existing_namespace_disable_steps_through_permissive(tmp_path: Path) -> None:
    plan = _plan(tmp_path, BASE + _pa("open", "app", "DISABLE"))
    enroll = plan.step("30-enroll-app")
    assert "DISABLE -> PERMISSIVE -> STRICT" in enroll.why
    assert "narrowest policy wins" in enroll.why
    assert _objects(enroll.rollback, "PeerAuthentication") == [
        _inventory_object("open", "app", "DISABLE")]
    assert plan.step("40-strict-app").rollback[0].object == _inventory_object(
        "open", "app", "PERMISSIVE")


# (b) two namespace-wide policies: the oldest counts


def test_oldest_namespace_policy_wins_and_is_restored(tmp_path: Path) -> None:
    text = (BASE + _pa("default", "app", "PERMISSIVE", created="2024-05-01T10:00:00Z")
            + _pa("older", "app", "PERMISSIVE", created="2023-01-01T10:00:00Z"))
    plan = _plan(tmp_path, text)
    assert any("app/default is ignored" in p and "app/older is older" in p
               for p in plan.step("10-prereq").preconditions)
    strict = plan.step("40-strict-app")
    assert [c.object["metadata"]["name"] for c in strict.apply] == ["older"]
    assert strict.rollback[0].object == _inventory_object("older", "app", "PERMISSIVE")


# (c) a mesh already STRICT is not lowered


def test_mesh_already_strict_is_kept_and_namespaces_are_pinned(tmp_path: Path) -> None:
    plan = _plan(tmp_path, BASE + _pa("mesh", "istio-system", "STRICT"))
    first = plan.step("20-mesh-permissive")
    assert not first.apply and "not lowered" in first.why
    for step in plan.steps:
        for change in step.apply:
            obj = change.object
            assert not (obj["metadata"].get("namespace") == "istio-system"
                        and obj["spec"].get("mtls", {}).get("mode") == "PERMISSIVE"), step.id
    enroll = plan.step("30-enroll-app")
    [pinned] = _objects(enroll.apply, "PeerAuthentication")
    assert pinned["metadata"] == {"name": "default", "namespace": "app",
                                  "labels": {"app.kubernetes.io/managed-by": "meshplan"}}
    assert pinned["spec"] == {"mtls": {"mode": "PERMISSIVE"}}
    assert "inherits STRICT" in enroll.why
    assert plan.step("40-strict-app").rollback[0].object["spec"] == {
        "mtls": {"mode": "PERMISSIVE"}}
    mesh = plan.step("60-mesh-strict")
    assert mesh.rollback[0].object["spec"]["mtls"]["mode"] == "STRICT"
    assert "before the plan" in mesh.why


# (d) ambient


def test_ambient_enrollment_flags_disable(tmp_path: Path) -> None:
    text = (BASE + _pa("open", "app", "DISABLE")
            + _pa("web-ports", "app", "PERMISSIVE",
                  extra=", selector: {matchLabels: {app: web}}, "
                        "portLevelMtls: {'9000': {mode: DISABLE}}"))
    plan = _plan(tmp_path, text, dataplane={"app": "ambient", "client": "ambient"})
    enroll = plan.step("30-enroll-app")
    assert not [c for c in enroll.apply if c.action is Action.RESTART]
    labels = _objects(enroll.apply, "Namespace")[0]["metadata"]["labels"]
    assert labels == {"istio.io/dataplane-mode": "ambient", "team": "b"}
    assert "ambient does not support DISABLE" in enroll.why  # the namespace-wide one
    assert any("incompatible with ambient" in p and "app/web-ports" in p
               and "port 9000 DISABLE" in p for p in enroll.preconditions)
    assert _objects(enroll.rollback, "Namespace")[0]["metadata"]["labels"] == {"team": "b"}


# (e) port exceptions: container ports, per workload, bound to a Service

TWO_BACKENDS = """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-alt, namespace: app}
spec:
  selector: {matchLabels: {app: web-alt}}
  template:
    metadata: {labels: {app: web-alt, serves: web}}
    spec:
      containers:
      - {name: c, image: web:2, ports: [{name: http, containerPort: 7070}]}
"""


def test_exception_ports_are_each_backends_container_ports(tmp_path: Path) -> None:
    # Service web now selects web (http = 8080) and web-alt (http = 7070).
    text = (BASE.replace("template:\n    metadata: {labels: {app: web}}",
                         "template:\n    metadata: {labels: {app: web, serves: web}}")
            .replace("  selector: {app: web}\n", "  selector: {serves: web}\n")
            + TWO_BACKENDS)
    plan = _plan(tmp_path, text)
    ports = {s.id: list(s.apply[0].object["spec"]["portLevelMtls"]) for s in plan.steps
             if s.phase is Phase.EXCEPTION}
    assert ports == {"50-exception-app-web": ["8080"], "50-exception-app-web-alt": ["7070"]}


def test_exception_on_a_port_no_service_binds_keeps_the_namespace_permissive(
        shop: tuple[Any, Plan]) -> None:
    _, plan = shop
    ids = [s.id for s in plan.steps]
    assert "50-exception-catalog-catalog" not in ids and "40-strict-catalog" not in ids
    kept = plan.step("50-exception-catalog")
    assert "9102 not bound to a Service" in kept.why
    assert kept.forced_by == ("Deployment/monitoring/prometheus",)
    assert {f.name: f.final for f in plan.namespaces}["catalog"] == "PERMISSIVE"


# (f) a selector must not widen to another workload


def test_shared_pod_labels_fall_back_to_permissive(tmp_path: Path) -> None:
    # web-canary's pods carry every label of web's pods, so {app: web} selects both.
    canary = TWO_BACKENDS.replace("web-alt", "web-canary").replace(
        "{app: web-canary, serves: web}", "{app: web, track: canary}").replace(
        "matchLabels: {app: web-canary}", "matchLabels: {app: web, track: canary}")
    plan = _plan(tmp_path, BASE + canary)
    ids = [s.id for s in plan.steps]
    assert "50-exception-app-web" not in ids and "40-strict-app" not in ids
    kept = plan.step("50-exception-app")
    assert "also select Deployment/app/web-canary" in kept.why
    assert kept.forced_by == ("DaemonSet/client/agent",)


# (g) a cycle between namespaces


def test_cycle_is_enrolled_back_to_back_before_any_strict(tmp_path: Path) -> None:
    back = """---
apiVersion: v1
kind: Service
metadata: {name: caller, namespace: client}
spec:
  selector: {app: caller}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""
    text = (BASE.replace("image: web:1\n", "image: web:1\n        env: [{name: CALLBACK, "
                         "value: 'http://caller.client:80'}]\n") + back)
    plan = _plan(tmp_path, text)
    ids = [s.id for s in plan.steps]
    enroll = [i for i, s in enumerate(ids) if s.startswith("30-enroll-")]
    assert [ids[i] for i in enroll] == ["30-enroll-app", "30-enroll-client"]
    assert enroll[1] == enroll[0] + 1
    assert max(enroll) < min(i for i, s in enumerate(ids) if s.startswith("40-strict-"))
    assert "in a cycle" in plan.step("30-enroll-app").why
    for ns in ("app", "client"):
        assert {"30-enroll-app", "30-enroll-client"} <= set(plan.step(f"40-strict-{ns}").requires)


# (h) rollbacks of the mesh-wide STRICT and of enrollment


def test_rollbacks_restore_permissive_and_previous_labels(tmp_path: Path) -> None:
    plan = _plan(tmp_path, BASE)
    mesh = plan.step("60-mesh-strict")
    assert mesh.rollback[0].action is Action.APPLY
    assert mesh.rollback[0].object == plan.step("20-mesh-permissive").apply[0].object
    assert mesh.rollback[0].object["spec"] == {"mtls": {"mode": "PERMISSIVE"}}
    enroll = plan.step("30-enroll-client")
    assert _objects(enroll.apply, "Namespace")[0]["metadata"]["labels"] == {
        "istio-injection": "enabled", "team": "a"}
    # The label did not exist: the exact previous set leaves it out, so it is removed.
    assert _objects(enroll.rollback, "Namespace")[0]["metadata"]["labels"] == {"team": "a"}
    assert [c.object["metadata"]["name"] for c in enroll.rollback
            if c.action is Action.RESTART] == ["caller"]


# (i) a custom root namespace


def test_custom_root_namespace_gets_every_mesh_wide_object(tmp_path: Path) -> None:
    text = (BASE.replace("name: istio-system", "name: mesh-root")
            + _pa("mesh", "mesh-root", "PERMISSIVE")
            + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n")
    path = tmp_path / "cluster.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["plan", "-f", str(path), "--root-namespace", "mesh-root",
                                      "-o", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    steps = {s["id"]: s for s in doc["steps"]}
    for step_id in ("20-mesh-permissive", "60-mesh-strict"):
        step = steps[step_id]
        assert step["target"]["namespace"] == "mesh-root"
        for change in (*step["apply"], *step["rollback"]):
            assert change["object"]["metadata"] == {
                "name": "mesh", "namespace": "mesh-root", "labels": {"owner": "sec"},
                "annotations": {"note": "kept"}}
    namespaces = {n["name"]: n for n in doc["namespaces"]}
    assert namespaces["mesh-root"]["final"] == "outside"
    assert "30-enroll-mesh-root" not in steps


# (j) PromQL


_MATCHER = re.compile(r'^[a-z_]+(=|!=|=~|!~)"(?:[^"\\]|\\.)*"$')


def _check_promql(query: str) -> list[list[str]]:
    """Balanced brackets outside string literals and every label matcher quoted; returns the
    matchers of each selector."""
    stack: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)  # string literals emptied
    assert '"' not in outside.replace('""', ""), query
    for ch in outside:
        if ch in "({[":
            stack.append(ch)
        elif ch in pairs:
            assert stack and stack.pop() == pairs[ch], query
    assert not stack, query
    selectors = []
    for body in re.findall(r"\{([^{}]*)\}", query):
        matchers = [m.strip() for m in re.split(r',(?=\s*[a-z_]+(?:=|!=|=~|!~)")', body)]
        assert all(_MATCHER.match(m) for m in matchers), matchers
        selectors.append(matchers)
    return selectors


def test_promql_excludes_only_callers_without_sidecar_into_excepted_workloads(
        tmp_path: Path) -> None:
    # A Deployment name may hold dots, which are regex metacharacters.
    plan = _plan(tmp_path, BASE.replace("kind: Deployment\nmetadata: {name: web,",
                                        "kind: Deployment\nmetadata: {name: web.v1,"))
    step = plan.step("40-strict-app")
    assert step.promql and len(step.promql) == 2
    for query in step.promql:
        rest, excepted = _check_promql(query)
        assert 'destination_workload!~"web\\\\.v1"' in rest
        assert 'destination_workload=~"web\\\\.v1"' in excepted
        assert 'source_workload!="unknown"' in excepted
        assert 'destination_service_namespace="app"' in rest + excepted
        assert " or " in query
    for step in plan.steps:
        for query in (*step.promql, *(v for v in step.verify if "{" in v)):
            _check_promql(query)

