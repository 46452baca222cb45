"""Credentials in manifests never reach an output: every command and format, the GitOps tree,
the TUI, error messages; and the call graph still finds the calls they were part of."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.service import ManifestInput, analyse
from tests.tui.conftest import SIZE, journey, ready
from tui.app import MeshplanApp
from tui.options import TuiOptions
from tui.screens.graph import EdgeScreen, NamespaceScreen

SECRETS = ("S3cr3t-pg", "hunter2-env", "tok-query-1", "tok-flag-2", "pw-flag-3", "cm-prop-4",
           "cm-key-5", "cm-yaml-6", "bearer-7", "lastapplied-8", "istio-9")
MANIFESTS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"spec":{"template":{"spec":{"containers":[{"env":[{"name":"X","value":"lastapplied-8"}]}]}}}}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: example/api:1
          command: [sh, -c, "curl -H 'Authorization: Bearer bearer-7' http://search.shop:9200"]
          args: ["--token", "tok-flag-2", "--db-password=pw-flag-3",
                 "--upstream=http://cache.shop:6379/?access_token=tok-query-1"]
          env:
            - {name: DATABASE_URL, value: "postgres://admin:S3cr3t-pg@db.shop:5432/app"}
            - {name: DB_PASSWORD, value: hunter2-env}
          envFrom: [{configMapRef: {name: settings}}]
          volumeMounts: [{name: cfg, mountPath: /etc/app}]
      volumes: [{name: cfg, configMap: {name: files}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {API_KEY: cm-key-5, QUEUE_URL: "amqp://queue.shop:5672"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: files, namespace: shop}
data:
  app.properties: |
    ledger.url=http://ledger.shop:8080
    ledger.password=cm-prop-4
  app.yaml: |
    mail:
      password: cm-yaml-6 and more
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: shop}
spec:
  hosts: [partner.example.com]
  endpoints: [{address: "https://u:istio-9@partner.example.com"}]
"""
SERVICES = "".join(f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: shop}}
spec: {{selector: {{app: {name}}}, ports: [{{port: {port}}}]}}
""" for name, port in (("db", 5432), ("cache", 6379), ("search", 9200), ("ledger", 8080),
                       ("queue", 5672)))


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("creds")
    (folder / "app.yaml").write_text(MANIFESTS + SERVICES, encoding="utf-8")
    return folder


def _assert_clean(text: str, where: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{where} shows {leaked}"


COMMANDS = [
    ["scan", "-o", "wide"], ["scan", "-o", "json"], ["scan", "-o", "yaml"],
    ["graph", "-o", "wide"], ["graph", "-o", "json"], ["graph", "-o", "dot"],
    ["graph", "-o", "mermaid"], ["graph", "--explain", "api db"],
    ["assess", "-o", "wide"], ["assess", "-o", "json"],
    ["plan", "-o", "wide"], ["plan", "-o", "json"], ["plan", "-o", "yaml"],
    ["report", "--json"], ["report", "--format", "markdown"], ["report", "--format", "html"],
    ["report", "--format", "sarif"], ["what-if", "--strict", "shop", "-o", "json"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_no_output_shows_a_credential(manifests: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "-f", str(manifests)])
    assert result.exit_code in (0, 10), result.output
    _assert_clean(result.stdout + result.stderr, " ".join(args))


def test_gitops_tree_has_no_credential(manifests: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["plan", "-f", str(manifests), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    files = [p for p in (tmp_path / "o").rglob("*") if p.is_file()]
    assert files
    for path in files:
        _assert_clean(path.read_text(encoding="utf-8"), str(path))


def test_calls_found_through_redacted_values(manifests: Path) -> None:
    graph = analyse(ManifestInput((str(manifests),))).graph
    callees = {e.callee for e in graph.edges if e.caller == "Deployment/shop/api"}
    assert callees == {f"Service/shop/{n}" for n in ("db", "cache", "search", "ledger", "queue")}
    texts = [ev.text for e in graph.edges for ev in e.evidence]
    assert "postgres://admin:REDACTED@db.shop:5432/app" in texts


def test_error_lines_redact_what_they_quote(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: ConfigMap\nmetadata: {name: x}\ndata:\n  url: postgres://a:S3cr3t-pg@db\n"
                      "  bad: [unclosed\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["scan", "-f", str(broken), "--strict"])
    assert result.exit_code != 0
    _assert_clean(result.stderr, "stderr")


@journey
async def test_tui_edge_evidence_is_redacted(manifests: Path) -> None:
    app = MeshplanApp(TuiOptions(ManifestInput((str(manifests),))))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("2", "colon", *"ns shop", "enter")
        assert isinstance(app.screen, NamespaceScreen)
        seen = [html.unescape(app.export_screenshot())]
        await pilot.press("enter")
        assert isinstance(app.screen, EdgeScreen)
        seen.append(html.unescape(app.export_screenshot()))
        assert any("REDACTED" in shot for shot in seen)
        for shot in seen:
            _assert_clean(shot, "the TUI")
