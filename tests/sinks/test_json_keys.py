"""Every JSON document the planner writes has camelCase keys (docs/wire-format.md): each command
with a JSON output, run on the sample clusters, and a guard that no such command is missed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from planner.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
SHOP = ["-f", "sample_clusters/shop", "-R"]
GITOPS = ["-f", "sample_clusters/gitops-gateway", "--namespace-per-folder"]
TINY = ["-f", "sample_clusters/tiny"]
FIXTURES = "tests/traffic/fixtures"
KIALI = ["--traffic", f"{FIXTURES}/kiali-graph.json"]
HUBBLE = ["--traffic", f"{FIXTURES}/hubble-flows.jsonl"]

#: Maps whose keys come from the input, not from the planner: labels, annotations, selectors,
#: ConfigMap data and the specs copied from manifests may hold any key Kubernetes allows.
FREE_FORM = frozenset({"labels", "annotations", "podLabels", "podAnnotations", "selector",
                       "matchLabels", "data", "spec"})

#: (command, arguments) for every JSON document, on each sample cluster it applies to.
CASES: list[tuple[str, list[str]]] = [
    *[("scan", [*sample, "-o", "json"]) for sample in (SHOP, GITOPS, TINY)],
    ("graph", [*SHOP, *KIALI, "-o", "json"]),
    ("graph", [*GITOPS, "--namespaces", "-o", "json"]),
    ("traffic", [*SHOP, *KIALI, "-o", "json"]),
    ("traffic", [*SHOP, *HUBBLE, "-o", "json"]),
    ("assess", [*SHOP, "--profile", "sample_clusters/profiles/shop.yaml", "-o", "json"]),
    ("plan", [*SHOP, "-o", "json"]),
    ("plan", [*SHOP, *KIALI, "-o", "json"]),
    ("plan", [*GITOPS, "-o", "json"]),
    ("what-if", [*SHOP, "--strict", "payments", "--workload", "Deployment/storefront/web",
                 "-o", "json"]),
    ("authz", [*SHOP, *KIALI, "-o", "json"]),
    ("report", [*SHOP, *KIALI, "--json"]),
    ("report", [*GITOPS, "--json"]),
    ("status", [*TINY, "--out", "{tmp}/gitops", "-o", "json"]),
]


def _snake_keys(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if "_" in key:
                yield f"{path}.{key}"
            if key not in FREE_FORM:
                yield from _snake_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _snake_keys(item, f"{path}[]")


@pytest.mark.parametrize(("command", "args"), CASES, ids=[" ".join([c[0], c[1][1]])
                                                          for c in CASES])
def test_no_snake_case_key_in_a_json_document(command: str, args: list[str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, [command, *(a.format(tmp=tmp_path) for a in args)])
    assert result.exit_code in (0, 10), result.output  # 10: blockers found (report, plan)
    doc = json.loads(result.stdout)
    assert next(iter(doc)) == "schemaVersion"
    assert sorted(set(_snake_keys(doc))) == []


def test_the_key_check_sees_a_snake_case_key_and_skips_labels() -> None:
    doc = {"steps": [{"forced_by": [], "object": {"metadata": {"labels": {"a_b": "x"}}}}]}
    assert list(_snake_keys(doc)) == [".steps[].forced_by"]


def _writes_json(command: click.Command) -> bool:
    for param in command.params:
        if isinstance(param, click.Option) and "--json" in param.opts:
            return True
        if isinstance(param.type, click.Choice) and "json" in param.type.choices:
            return True
    return False


def test_every_command_with_a_json_output_is_checked() -> None:
    group = cli
    assert isinstance(group, click.Group)
    context = click.Context(group)
    with_json = {name for name in COMMANDS
                 if _writes_json(group.get_command(context, name))}  # type: ignore[arg-type]
    assert with_json == {command for command, _ in CASES}
