"""Commands and queries the plan prints stay well-formed whatever a namespace is called: a
cluster's names are taken as served (only manifests are checked against Kubernetes' naming
rules), so names may hold shell or PromQL syntax. The test API server validates none."""

from __future__ import annotations

import yaml

from planner.service import ClusterInput, analyse, build_plan
from tests.kubeapi import KubeAPIServer

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


def test_verify_commands_quote_the_namespace_and_promql_escapes_it(
        kube_api: KubeAPIServer) -> None:
    kube_api.load([doc for doc in yaml.safe_load_all(MANIFESTS) if doc])
    plan = build_plan(analyse(ClusterInput(str(kube_api.kubeconfig))))
    strict = next(s for s in plan.steps if s.id.startswith("40-strict-"))
    commands = [v for s in plan.steps for v in s.verify if f"-n {HOSTILE_NS}" in v]
    assert not commands, commands
    assert any("-n 'team a;rm -rf \"x\"'" in v for s in plan.steps for v in s.verify)
    assert strict.promql
    for query in strict.promql:
        assert 'destination_service_namespace="team a;rm -rf \\"x\\""' in query
