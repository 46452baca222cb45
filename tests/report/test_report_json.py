"""``planner report --json``: golden files, the committed JSON Schema, docs, exit codes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from planner.exit_codes import ExitCode
from planner.sinks.report_json import SCHEMA_VERSION, report_schema
from planner.sinks.schema_docs import fields, update_docs
from tests.report.conftest import (
    ROOT,
    SHOP_PROFILE,
    check_golden,
    corpus_case,
    run_report,
)
from tests.shared_data import CORPUS_CASES


def _cases() -> list[Any]:
    # Deferred paths: corpus_case skips when the shared corpus is not checked out.
    return [
        pytest.param("shop", lambda: ["-f", "sample_clusters/shop", "-R", *SHOP_PROFILE],
                     id="shop"),
        pytest.param("online-boutique",
                     lambda: ["-f", corpus_case("online-boutique"), "-R"], id="online-boutique"),
        pytest.param("travel-portal",
                     lambda: ["-f", corpus_case("kiali-travels", "travel-portal"),
                              "-n", "travel-portal"], id="travel-portal"),
        pytest.param("sock-shop-multi-namespace",
                     lambda: ["-f", corpus_case("sock-shop-multi-namespace"), "-R"],
                     id="sock-shop-multi-namespace"),
    ]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = report_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(validator: Draft202012Validator, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


@pytest.mark.parametrize(("name", "args"), _cases())
def test_json_matches_golden_and_schema(name: str, args: Any,
                                        validator: Draft202012Validator) -> None:
    argv = [*args(), "--json"]
    result = run_report(argv)
    assert result.exit_code == 0, result.output
    check_golden(f"{name}.json", result.stdout)
    assert run_report(argv).stdout == result.stdout, "not byte-identical across runs"
    doc = json.loads(result.stdout)
    assert next(iter(doc)) == "schemaVersion" and doc["schemaVersion"] == SCHEMA_VERSION
    assert "assessment" in doc
    assert not _errors(validator, doc)
    # Relative paths in, relative paths out: no path of this machine in the report.
    assert str(ROOT) not in result.stdout and str(Path.home()) not in result.stdout


@pytest.mark.parametrize("case", CORPUS_CASES)
def test_every_corpus_case_validates(validator: Draft202012Validator, case: str) -> None:
    result = run_report(["-f", corpus_case(case), "-R", "--json"])
    assert result.exit_code in (0, ExitCode.INVALID_INPUT), (case, result.output)
    assert not _errors(validator, json.loads(result.stdout)), case


def test_schema_identity_and_closed_objects() -> None:
    schema = report_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://meshplan.io/schemas/report-v2.json"
    assert schema["properties"]["schemaVersion"]["const"] == SCHEMA_VERSION
    open_objects = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "properties" in node and node.get("additionalProperties") is not False:
                open_objects.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(schema, "#")
    assert not open_objects, f"objects the report defines must be closed: {open_objects}"


def test_a_field_the_schema_does_not_describe_fails(validator: Draft202012Validator) -> None:
    """The stale-schema guard: new output fields must be added to the schema (and the docs)."""
    result = run_report(["-f", "sample_clusters/shop", "-R", "--json"])
    doc = json.loads(result.stdout)
    assert not _errors(validator, doc)
    for path in (("plan", "steps", 0), ("assessment", "costs"), ("graph",), ("inventory",),
                 ("blockers", 0), ()):
        mutated = copy.deepcopy(doc)
        target: Any = mutated
        for key in path:
            target = target[key]
        target["newField"] = 1
        assert _errors(validator, mutated), f"schema accepts an undescribed field at {path}"


def test_docs_field_table_is_generated_from_the_schema() -> None:
    docs = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    assert update_docs(docs, report_schema()) == docs, (
        "docs/report.md is stale: run python -m planner.sinks.schema_docs docs/report.md")
    paths = [path for path, _, _ in fields(report_schema())]
    assert len(paths) == len(set(paths))
    for path in ("schemaVersion", "assessment.verdict", "plan.steps[].rollback",
                 "assessment.dataplane.<namespace>.waypoint.scope", "blockers[].severity"):
        assert f"| `{path}` |" in docs


@pytest.mark.parametrize("fmt", ["json", "markdown", "html"])
def test_fail_on_exits_findings_in_every_format(fmt: str, tmp_path: Path) -> None:
    base = ["-f", "sample_clusters/shop", "-R", "--format", fmt]
    assert run_report(base).exit_code == 0
    failing = run_report([*base, "--fail-on", "critical"])
    assert failing.exit_code == ExitCode.FINDINGS
    assert failing.stdout == run_report(base).stdout, "the report is written in full anyway"
    out = tmp_path / "sub" / f"report.{fmt}"
    written = run_report([*base, "--fail-on", "error", "--out", str(out)])
    assert written.exit_code == ExitCode.FINDINGS and written.stdout == ""
    assert out.read_text(encoding="utf-8") == failing.stdout


def test_fail_on_passes_below_the_threshold(tmp_path: Path) -> None:
    # travel-portal alone has no blocker at all.
    args = ["-f", corpus_case("kiali-travels", "travel-portal"), "-n", "travel-portal"]
    assert run_report([*args, "--fail-on", "info"]).exit_code == 0


def test_invalid_input_wins_over_findings(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    shop = (ROOT / "sample_clusters" / "shop" / "payments").resolve()
    bad.write_text("kind: [not, a, kind\n", encoding="utf-8")
    result = run_report(["-f", str(shop), "-R", "-f", str(bad), "--fail-on", "info"])
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert json.loads(result.stdout)["inventory"]["invalidDocuments"] == 1


def test_json_alias_and_format_conflict() -> None:
    base = ["-f", "sample_clusters/shop", "-R"]
    assert run_report([*base, "--json"]).stdout == run_report([*base, "--format", "json"]).stdout
    assert run_report([*base]).stdout == run_report([*base, "--json"]).stdout
    conflict = run_report([*base, "--json", "--format", "html"])
    assert conflict.exit_code == ExitCode.USAGE


def test_out_is_atomic_and_unwritable_out_is_an_input_error(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old", encoding="utf-8")
    result = run_report(["-f", "sample_clusters/shop", "-R", "--out", str(out)])
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["schemaVersion"] == SCHEMA_VERSION
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"], "temp file left"
    blocked = tmp_path / "file"
    blocked.write_text("x", encoding="utf-8")
    failed = run_report(["-f", "sample_clusters/shop", "-R", "--out", str(blocked / "r.json")])
    assert failed.exit_code == ExitCode.INPUT_ERROR
    assert "cannot write" in failed.stderr
