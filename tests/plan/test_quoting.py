"""Commands and queries the plan prints stay well-formed whatever a namespace is called:
manifests are not validated by an API server, so names may hold shell or PromQL syntax."""

from __future__ import annotations

from pathlib import Path

from planner.service import ManifestInput, analyse, build_plan

HOSTILE_NS = 'team a;rm -rf "x"'
MANIFESTS = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: '{HOSTILE_NS}', labels: {{istio-injection: enabled}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: '{HOSTILE_NS}'}}
spec:
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: web, ports: [{{containerPort: 8080}}]}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: '{HOSTILE_NS}'}}
spec: {{selector: {{app: web}}, ports: [{{name: http, port: 80, targetPort: 8080}}]}}
"""


def test_verify_commands_quote_the_namespace_and_promql_escapes_it(tmp_path: Path) -> None:
    path = tmp_path / "ns.yaml"
    path.write_text(MANIFESTS, encoding="utf-8")
    plan = build_plan(analyse(ManifestInput((str(path),))))
    strict = next(s for s in plan.steps if s.id.startswith("40-strict-"))
    commands = [v for s in plan.steps for v in s.verify if f"-n {HOSTILE_NS}" in v]
    assert not commands, commands
    assert any("-n 'team a;rm -rf \"x\"'" in v for s in plan.steps for v in s.verify)
    assert strict.promql
    for query in strict.promql:
        assert 'destination_service_namespace="team a;rm -rf \\"x\\""' in query
