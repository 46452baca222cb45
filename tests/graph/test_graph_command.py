"""``planner graph``: formats, namespace view, --explain, and untrusted names."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from planner.cli import cli
from tests.graph.conftest import SAMPLES

TINY = str(SAMPLES / "tiny")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["graph", *args])
    return result.exit_code, result.stdout, result.stderr


def test_table_lists_edges_and_wide_adds_evidence() -> None:
    code, out, _ = run("-f", TINY)
    assert code == 0
    assert "3 calls" in out and "API_URL" not in out
    code, wide, _ = run("-f", TINY, "-o", "wide")
    assert code == 0 and "evidence" in wide and "API_URL" in wide


def test_json_is_versioned_and_deterministic() -> None:
    code, out, _ = run("-f", TINY, "-o", "json")
    assert code == 0
    data = json.loads(out)
    assert next(iter(data)) == "schemaVersion" and data["schemaVersion"] == "meshplan.io/graph/v2"
    assert [e["key"] for e in data["edges"]] == sorted(e["key"] for e in data["edges"])
    assert run("-f", TINY, "-o", "json")[1] == out


def test_namespace_view_in_every_format() -> None:
    data = json.loads(run("-f", TINY, "--namespaces", "-o", "json")[1])
    assert data["edges"] == [{"count": 3, "from": "tiny", "to": "tiny"}]
    assert '"tiny" -> "tiny" [label="3"]' in run("-f", TINY, "--namespaces", "-o", "dot")[1]
    assert '-->|"3"|' in run("-f", TINY, "--namespaces", "-o", "mermaid")[1]
    assert "tiny" in run("-f", TINY, "--namespaces")[1]


def test_explain_by_key_and_by_short_match() -> None:
    key = "Deployment/tiny/web -> Service/tiny/api:8080"
    code, out, _ = run("-f", TINY, "--explain", key)
    assert code == 0 and "env: Deployment tiny/web env API_URL: http://api:8080" in out
    assert run("-f", TINY, "--explain", "tiny/web tiny/api")[1] == out
    code, _, err = run("-f", TINY, "--explain", "nobody nothing")
    assert code != 0 and "no edge matches" in err


HOSTILE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: evil}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: c
          image: x
          env: [{name: 'API[bold]"];}_URL', value: 'http://api:80/'}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: evil}
spec: {selector: {app: api}, ports: [{port: 80}]}
"""


def test_untrusted_strings_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text(HOSTILE)
    _, table, _ = run("-f", str(path), "--explain", "web api")
    assert 'API[bold]"];}_URL' in table  # printed as text, not markup
    _, dot, _ = run("-f", str(path), "-o", "dot")
    assert '"Deployment/evil/web" -> "Service/evil/api" [label="80/http"];' in dot
    _, mermaid, _ = run("-f", str(path), "-o", "mermaid")
    assert all(line.count('"') % 2 == 0 for line in mermaid.splitlines())
