"""``--namespace-per-folder``: a GitOps tree laid out one folder per namespace is read with each
immediate subfolder as the namespace of the objects in it that have none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from planner.cli import cli
from planner.exit_codes import ExitCode


def _app(name: str, env: str = "", namespace: str = "") -> str:
    ns = f", namespace: {namespace}" if namespace else ""
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}{ns}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: example/{name}:1
          ports: [{{containerPort: 8080}}]
          env: [{env}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}{ns}}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 8080, targetPort: 8080}}]
"""


def _tree(root: Path) -> Path:
    """gitops/shop/web.yaml, gitops/shop/overlays/api.yaml, gitops/payments/api.yaml (the same
    names in two namespaces), gitops/payments/audit.yaml (namespace given), gitops/common.yaml
    (directly in the root: the default namespace)."""
    tree = root / "gitops"
    (tree / "shop" / "overlays").mkdir(parents=True)
    (tree / "payments").mkdir()
    (tree / "shop" / "web.yaml").write_text(
        _app("web", "{name: API_URL, value: 'http://api:8080'}, "
                    "{name: PAY_URL, value: 'http://api.payments:8080'}"), encoding="utf-8")
    (tree / "shop" / "overlays" / "api.yaml").write_text(_app("api"), encoding="utf-8")
    (tree / "payments" / "api.yaml").write_text(_app("api"), encoding="utf-8")
    (tree / "payments" / "audit.yaml").write_text(_app("audit", namespace="compliance"),
                                                  encoding="utf-8")
    (tree / "common.yaml").write_text(_app("status"), encoding="utf-8")
    return tree


def _graph(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["graph", *args, "-o", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_each_subfolder_is_the_namespace_of_its_objects(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    graph = _graph("-f", str(tree), "--namespace-per-folder")  # no -R: the flag implies it
    workloads = sorted(n["id"] for n in graph["nodes"] if n["kind"] == "workload")
    assert workloads == ["Deployment/compliance/audit", "Deployment/default/status",
                         "Deployment/payments/api", "Deployment/shop/api",
                         "Deployment/shop/web"]
    assert sorted(e["key"] for e in graph["edges"] if e["caller"] == "Deployment/shop/web") == [
        "Deployment/shop/web -> Service/payments/api:8080",
        "Deployment/shop/web -> Service/shop/api:8080"]
    # -n still names the namespace of files directly in the directory.
    graph = _graph("-f", str(tree), "--namespace-per-folder", "-n", "ops")
    assert "Deployment/ops/status" in {n["id"] for n in graph["nodes"]}


def test_without_the_flag_the_namespaces_collide(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["graph", "-f", str(_tree(tmp_path)), "-R", "-o", "json"])
    assert "duplicate Deployment default/api" in result.stderr
    workloads = {n["id"] for n in json.loads(result.stdout)["nodes"] if n["kind"] == "workload"}
    assert "Deployment/shop/web" not in workloads and "Deployment/default/web" in workloads


def test_a_folder_that_cannot_be_a_namespace_is_an_input_error(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    (tree / "Team_B").mkdir()
    (tree / "Team_B" / "x.yaml").write_text(_app("x"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["scan", "-f", str(tree), "--namespace-per-folder"])
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert "--namespace-per-folder: folder" in result.stderr
    assert "Team_B' is not a valid namespace name" in result.stderr


def test_a_live_cluster_has_its_namespaces() -> None:
    result = CliRunner().invoke(cli, ["scan", "--namespace-per-folder", "--context", "x"])
    assert result.exit_code == 2
    assert "--namespace-per-folder reads -f directories" in result.output
