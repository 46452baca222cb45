"""Blocker rules judge the mesh the plan builds: with a data-plane choice, a namespace the plan
puts in ambient is treated as ambient (MP215 fires), and without one it is a sidecar one."""

from __future__ import annotations

from pathlib import Path

from planner.service import ManifestInput, analyse, build_plan

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: legacy}
spec:
  template:
    metadata: {labels: {app: app}}
    spec: {containers: [{name: app, image: app, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: legacy}
spec: {selector: {app: app}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: legacy}
spec: {mtls: {mode: DISABLE}}
"""


def test_mp215_follows_the_plans_data_plane(tmp_path: Path) -> None:
    path = tmp_path / "legacy.yaml"
    path.write_text(MANIFESTS, encoding="utf-8")
    analysis = analyse(ManifestInput((str(path),)))

    sidecar = build_plan(analysis)
    assert not [f for f in sidecar.blockers if f.code == "MP215"]

    ambient = build_plan(analysis, dataplane={"legacy": "ambient"})
    [finding] = [f for f in ambient.blockers if f.code == "MP215"]
    assert finding.namespace == "legacy"
    assert "PeerAuthentication/legacy/default" in finding.objects
