"""``planner report --format sarif``: SARIF 2.1.0 that Microsoft's SARIF multitool accepts, one
result per finding, located at the file and line of the object for manifests and at the
object itself for a live cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.exit_codes import ExitCode
from planner.rules.registry import CATALOGUE
from tests.kubeapi import KubeAPIServer
from tests.report.conftest import ROOT, SHOP_PROFILE, run_report
from tests.tools import require_tool

SHOP = ["-f", "sample_clusters/shop", "-R"]
#: Where a user publishes meshplan's docs/ folder (a tag of their fork, say).
DOCS = "https://git.example.com/platform/meshplan/blob/v0.1.0/docs"


def sarif(*args: str) -> dict[str, Any]:
    result = run_report([*args, "--format", "sarif"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def validate(path: Path) -> list[dict[str, Any]]:
    """Problems ``sarif-multitool validate`` finds in ``path`` (its results)."""
    tool = require_tool("sarif-multitool", "npm install @microsoft/sarif-multitool; .ci/run "
                                           "installs it under .ci/node")
    out = path.with_suffix(".validation.sarif")
    done = subprocess.run([tool, "validate", str(path), "-o", str(out), "--log",
                           "ForceOverwrite"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    results: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))["runs"][0][
        "results"]
    return results


def test_shop_sarif_is_valid_and_complete(tmp_path: Path) -> None:
    doc = sarif(*SHOP, *SHOP_PROFILE, "--help-base-uri", DOCS + "/")
    path = tmp_path / "shop.sarif"
    path.write_text(json.dumps(doc), encoding="utf-8")
    problems = validate(path)
    assert problems == [], [p["message"] for p in problems]

    report = json.loads(run_report([*SHOP, *SHOP_PROFILE, "--json"]).stdout)
    [run] = doc["runs"]
    results = run["results"]
    # One result per blocker, and one per fit factor that points at objects.
    factors = [f for f in report["assessment"]["factors"] if f["evidence"]]
    assert len(results) == len(report["blockers"]) + len(factors)
    assert [r["ruleId"] for r in results[:len(report["blockers"])]] == [
        b["code"] for b in report["blockers"]]
    levels = {"info": "note", "warning": "warning", "error": "error", "critical": "error"}
    assert [r["level"] for r in results[:len(report["blockers"])]] == [
        levels[b["severity"]] for b in report["blockers"]]
    # Rules: every rule with a result, in code order, with its metadata and docs anchor.
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({r["ruleId"] for r in results})
    info = {i.code: i for i in CATALOGUE}["MP213"]
    [mp213] = [r for r in rules if r["id"] == "MP213"]
    assert mp213["name"] == "ProbesWithRewriteAppHTTPProbersOff"
    assert mp213["shortDescription"]["text"] == info.title
    assert mp213["fullDescription"]["text"] == info.why
    assert info.fix in mp213["help"]["text"]
    assert mp213["helpUri"] == f"{DOCS}/rules.md#mp213"
    assert run["tool"]["driver"]["informationUri"] == DOCS
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)
    # docs/rules.md has the section the anchor points at.
    assert "\n## MP213\n" in (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")


def test_manifest_results_point_at_the_file_and_line() -> None:
    doc = sarif(*SHOP)
    by_rule = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    where = by_rule["MP212"]["locations"][0]
    uri = where["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "sample_clusters/shop/storefront/destinationrule-search.yaml"
    line = where["physicalLocation"]["region"]["startLine"]
    # The line is where the object's document starts: `apiVersion:` of that very object.
    text = (ROOT / uri).read_text(encoding="utf-8").splitlines()
    assert text[line - 1].startswith("apiVersion:")
    assert any(row.strip() == "name: search-plaintext" for row in text[line - 1:line + 4])
    assert where["logicalLocations"] == [{
        "fullyQualifiedName": "DestinationRule/storefront/search-plaintext",
        "kind": "resource", "name": "search-plaintext"}]


def test_live_cluster_results_have_logical_locations(kube_api: KubeAPIServer,
                                                     tmp_path: Path) -> None:
    from planner.sources.manifests import load_manifests

    loaded = load_manifests([str(ROOT / "sample_clusters" / "shop")], recursive=True)
    served = {(rt.group, rt.kind) for rt in kube_api.types}
    kube_api.load([d.body for d in loaded.documents
                   if (d.body["apiVersion"].rpartition("/")[0], d.body["kind"]) in served])
    result = CliRunner().invoke(cli, ["report", "--kubeconfig", kube_api.kubeconfig,
                                      "--format", "sarif"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    results = doc["runs"][0]["results"]
    assert results
    for r in results:
        [where] = r["locations"]
        assert "physicalLocation" not in where
        assert where["logicalLocations"][0]["fullyQualifiedName"].count("/") >= 1
    path = tmp_path / "live.sarif"
    path.write_text(result.stdout, encoding="utf-8")
    assert _problems(path) == NO_DOCS_URI


def test_fail_on_still_exits_10_with_sarif() -> None:
    result = run_report([*SHOP, "--format", "sarif", "--fail-on", "critical"])
    assert result.exit_code == ExitCode.FINDINGS
    assert json.loads(result.stdout)["version"] == "2.1.0"


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_locations_show_in_json_and_markdown(fmt: str) -> None:
    out = run_report([*SHOP, "--format", fmt]).stdout
    assert "sample_clusters/shop/storefront/assets.yaml" in out


def test_plan_findings_from_observed_traffic(tmp_path: Path) -> None:
    """With --traffic, STRICT steps whose namespace saw plaintext carry MP301 (a plan
    finding); SARIF reports it like any other finding, and validates."""
    from tests.traffic.shop_truth import write_csv

    csv = write_csv(tmp_path / "shop.csv")
    doc = sarif(*SHOP, "--traffic", str(csv))
    mp301 = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "MP301"]
    assert mp301 and all(r["level"] == "error" for r in mp301)
    assert "MP301" in {r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    report = json.loads(run_report([*SHOP, "--traffic", str(csv), "--json"]).stdout)
    assert len(mp301) == len([b for b in report["blockers"] if b["code"] == "MP301"])
    # The steps' what-ifs count the observed plaintext as evidence too.
    reasons = {r["code"] for s in report["plan"]["steps"] if "whatIf" in s
               for e in s["whatIf"]["breaking"] for r in e["reasons"]}
    assert "observed-plaintext" in reasons
    path = tmp_path / "traffic.sarif"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert _problems(path) == NO_DOCS_URI


#: What the multitool says of a log with no docs location: a guideline (SARIF2005, a
#: warning), that the driver has no informationUri. meshplan has no site to name.
NO_DOCS_URI = [("SARIF2005", "Warning_ProvideToolnformationUri")]


def _problems(path: Path) -> list[tuple[str, str]]:
    return [(p["ruleId"], p["message"]["id"]) for p in validate(path)]


def test_without_a_docs_location_help_uri_is_left_out(tmp_path: Path) -> None:
    """SARIF needs helpUri absolute (the multitool refuses docs/rules.md#mp213 with SARIF1005)
    and meshplan has no site: without --help-base-uri, and with no Documentation URL in the
    package metadata, helpUri and informationUri are left out, never invented; the help text
    names the section instead."""
    doc = sarif(*SHOP)
    driver = doc["runs"][0]["tool"]["driver"]
    assert "informationUri" not in driver
    assert driver["rules"] and not [r for r in driver["rules"] if "helpUri" in r]
    [mp213] = [r for r in driver["rules"] if r["id"] == "MP213"]
    assert "See MP213 in docs/rules.md" in mp213["help"]["text"]
    assert "`MP213` in docs/rules.md" in mp213["help"]["markdown"]
    assert "https://meshplan.io" not in json.dumps(doc)
    path = tmp_path / "shop.sarif"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert _problems(path) == NO_DOCS_URI


@pytest.mark.parametrize("bad", ["docs/", "rules.md", "ftp://host/docs",
                                 "https://host/docs#rules", "https:///docs"])
def test_help_base_uri_must_be_absolute_http(bad: str) -> None:
    result = run_report([*SHOP, "--format", "sarif", "--help-base-uri", bad])
    assert result.exit_code == ExitCode.USAGE
    assert f"--help-base-uri {bad!r}: expected an absolute http(s) URL" in result.output
    result = run_report([*SHOP, "--format", "markdown", "--help-base-uri", DOCS])
    assert result.exit_code == ExitCode.USAGE and "is for --format sarif" in result.output


def test_documentation_url_from_the_package_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build whose pyproject has [project.urls] Documentation gets helpUri from it;
    --help-base-uri wins over it."""
    import planner.commands.report as command

    monkeypatch.setattr(command, "_documentation_url", lambda: "https://docs.example.org/mp/")
    rules = sarif(*SHOP)["runs"][0]["tool"]["driver"]["rules"]
    assert rules[0]["helpUri"] == f"https://docs.example.org/mp/rules.md#{rules[0]['id'].lower()}"
    rules = sarif(*SHOP, "--help-base-uri", DOCS)["runs"][0]["tool"]["driver"]["rules"]
    assert rules[0]["helpUri"].startswith(DOCS + "/rules.md#")
    monkeypatch.setattr(command, "_documentation_url", lambda: "not a url")
    assert "helpUri" not in sarif(*SHOP)["runs"][0]["tool"]["driver"]["rules"][0]
