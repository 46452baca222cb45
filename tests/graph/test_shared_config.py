"""An address a workload gets only from a ConfigMap that several workloads take wholesale (a
common "all endpoints" ConfigMap) is weaker evidence than its own env var, says so, and
``--min-confidence`` can drop it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from planner.cli import cli
from planner.domain.graph import CallGraph
from planner.domain.graph_builder import CONF_EXPLICIT, CONF_SHARED
from tests.graph.conftest import graph_of


def _deployment(name: str, extra: str) -> str:
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: app
          image: example/{name}:1
          ports: [{{containerPort: 8080}}]
{extra}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: shop}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 8080, targetPort: 8080}}]
"""


ENV_FROM = "          envFrom: [{configMapRef: {name: endpoints}}]"
APP = """---
apiVersion: v1
kind: ConfigMap
metadata: {name: endpoints, namespace: shop}
data:
  CART_URL: http://cart:8080
  CATALOG_URL: http://catalog:8080
---
apiVersion: v1
kind: ConfigMap
metadata: {name: checkout-only, namespace: shop}
data:
  PAYMENT_URL: http://payment:8080
""" + (
    # web and checkout both take every endpoint; web also names catalog in its own env var.
    _deployment("web", ENV_FROM + "\n          env: [{name: CATALOG_ADDR, value: 'catalog:8080'}]")
    + _deployment("checkout", ENV_FROM.replace("]", ", {configMapRef: {name: checkout-only}}]"))
    + _deployment("cart", "")
    + _deployment("catalog", "")
    + _deployment("payment", ""))


def _graph(tmp_path: Path) -> CallGraph:
    (tmp_path / "app.yaml").write_text(APP, encoding="utf-8")
    return graph_of(tmp_path)


def _edges(graph: CallGraph) -> dict[str, float]:
    return {f"{e.caller.rsplit('/', 1)[1]}->{e.callee.rsplit('/', 1)[1]}":
            max(ev.confidence for ev in e.evidence) for e in graph.edges}


def test_shared_config_map_addresses_count_less_than_own_variables(tmp_path: Path) -> None:
    assert _edges(_graph(tmp_path)) == {
        "web->cart": CONF_SHARED,          # only from the shared ConfigMap
        "web->catalog": CONF_EXPLICIT,     # its own env var too
        "checkout->cart": CONF_SHARED,
        "checkout->catalog": CONF_SHARED,
        "checkout->payment": CONF_EXPLICIT,  # a ConfigMap only checkout takes
    }
    assert CONF_SHARED < CONF_EXPLICIT


def test_the_evidence_names_the_shared_config_map_and_its_other_users(tmp_path: Path) -> None:
    graph = _graph(tmp_path)
    edge = next(e for e in graph.edges if e.key == "Deployment/shop/web -> Service/shop/cart:8080")
    assert [ev.source for ev in edge.evidence] == [
        "ConfigMap shop/endpoints key CART_URL (shared ConfigMap shop/endpoints, also used by "
        "Deployment/shop/checkout)"]


def test_min_confidence_drops_them(tmp_path: Path) -> None:
    from planner.service import ManifestInput, analyse

    _graph(tmp_path)
    graph = analyse(ManifestInput((str(tmp_path),)), min_confidence=0.7).graph
    assert _edges(graph) == {"web->catalog": CONF_EXPLICIT, "checkout->payment": CONF_EXPLICIT}
    result = CliRunner().invoke(cli, ["graph", "-f", str(tmp_path), "--min-confidence", "0.7",
                                      "-o", "json"])
    assert result.exit_code == 0, result.output
    assert [e["key"] for e in json.loads(result.stdout)["edges"]] == [
        "Deployment/shop/checkout -> Service/shop/payment:8080",
        "Deployment/shop/web -> Service/shop/catalog:8080"]
