"""Suppressions with a reason, from each of the three sources: the ``meshplan.io/ignore``
annotation, ``--ignore CODE[:KIND/NS/NAME]`` and the profile's ``ignore:``. Suppressed findings
stay in the report, marked; SARIF lists them with ``suppressions``; ``--fail-on`` does not count
them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from planner.exit_codes import ExitCode
from tests.report.conftest import ROOT, run_report

SHOP = ["-f", "sample_clusters/shop", "-R"]


def report(*args: str, code: int = 0) -> dict[str, Any]:
    result = run_report([*args, "--json"])
    assert result.exit_code == code, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def marked(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    return {(b["code"], b["subject"]): b["suppressed"] for b in doc["blockers"]
            if "suppressed" in b}


def sarif_suppressions(*args: str) -> dict[tuple[str, str], list[dict[str, str]]]:
    result = run_report([*args, "--format", "sarif"])
    assert result.exit_code == 0, result.output
    return {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]):
            r["suppressions"] for r in json.loads(result.stdout)["runs"][0]["results"]
            if "suppressions" in r}


def test_annotation_on_the_object(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shutil.copytree(ROOT / "sample_clusters" / "shop", shop)
    assets = shop / "storefront" / "assets.yaml"
    text = assets.read_text(encoding="utf-8")
    annotated = text.replace(
        "  name: assets\n  namespace: storefront\n",
        "  name: assets\n  namespace: storefront\n  annotations:\n"
        '    meshplan.io/ignore: "MP213, mp201"\n'
        "    meshplan.io/ignore-reason: probes move to exec in JIRA-42\n", 1)
    assert annotated != text
    assets.write_text(annotated, encoding="utf-8")
    doc = report("-f", str(shop), "-R")
    expected = {"kind": "annotation",
                "origin": "meshplan.io/ignore on Deployment/storefront/assets",
                "reason": "probes move to exec in JIRA-42"}
    assert marked(doc) == {("MP213", "Deployment/storefront/assets"): expected,
                           ("MP201", "Deployment/storefront/assets"): expected}
    # The other MP201 findings (bff, web) are not covered; every finding is still there.
    assert len([b for b in doc["blockers"] if b["code"] == "MP201"]) == 3
    assert len(doc["blockers"]) == len(report(*SHOP)["blockers"])
    suppressions = sarif_suppressions("-f", str(shop), "-R")
    assert suppressions[("MP213", "Deployment/storefront/assets")] == [{
        "kind": "inSource", "status": "accepted",
        "justification": "probes move to exec in JIRA-42 "
                         "(meshplan.io/ignore on Deployment/storefront/assets)"}]


def test_annotation_on_a_namespace_covers_its_findings(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shutil.copytree(ROOT / "sample_clusters" / "shop", shop)
    namespaces = shop / "00-namespaces.yaml"
    text = namespaces.read_text(encoding="utf-8")
    namespaces.write_text(text.replace(
        "  name: data\n", "  name: data\n  annotations:\n    meshplan.io/ignore: MP207\n", 1),
        encoding="utf-8")
    doc = report("-f", str(shop), "-R")
    [hit] = marked(doc).items()
    assert hit[0] == ("MP207", "Service/data/postgres-headless")
    assert hit[1]["reason"] == "no reason given (meshplan.io/ignore-reason not set)"


def test_ignore_flag_by_code_and_by_object() -> None:
    doc = report(*SHOP, "--ignore", "MP211", "--ignore", "MP202:StatefulSet/data/postgres")
    assert marked(doc) == {
        ("MP211", "Deployment/payments/payments-webhook"): {
            "kind": "flag", "origin": "--ignore MP211",
            "reason": "given on the command line (--ignore)"},
        ("MP202", "StatefulSet/data/postgres"): {
            "kind": "flag", "origin": "--ignore MP202:StatefulSet/data/postgres",
            "reason": "given on the command line (--ignore)"},
    }
    # The other MP202 (orders) is not suppressed.
    assert any(b["code"] == "MP202" and "suppressed" not in b for b in doc["blockers"])
    assert sarif_suppressions(*SHOP, "--ignore", "MP211")[
        ("MP211", "Deployment/payments/payments-webhook")][0]["kind"] == "external"


def test_profile_ignore_list(tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("ignore:\n  - MP208\n  - code: MP206\n"
                       "    object: Service/data/mysql\n"
                       "    reason: clients connect with tcp- names since v2\n",
                       encoding="utf-8")
    doc = report(*SHOP, "--profile", str(profile))
    assert marked(doc) == {
        ("MP208", "Deployment/catalog/ratings"): {
            "kind": "profile", "origin": "profile profile.yaml ignore[0]",
            "reason": "no reason given"},
        ("MP206", "Service/data/mysql"): {
            "kind": "profile", "origin": "profile profile.yaml ignore[1]",
            "reason": "clients connect with tcp- names since v2"},
    }


def test_fail_on_does_not_count_suppressed_findings() -> None:
    # MP211 is the shop's only critical blocker.
    assert run_report([*SHOP, "--json", "--fail-on", "critical"]).exit_code == \
        ExitCode.FINDINGS
    assert run_report([*SHOP, "--json", "--fail-on", "critical",
                       "--ignore", "MP211"]).exit_code == 0
    # Suppressing something else does not help.
    assert run_report([*SHOP, "--json", "--fail-on", "critical",
                       "--ignore", "MP213"]).exit_code == ExitCode.FINDINGS


def test_bad_ignore_values_are_one_line_errors(tmp_path: Path) -> None:
    result = run_report([*SHOP, "--ignore", "nope"])
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert "expected CODE[:KIND/NAMESPACE/NAME]" in result.output
    result = run_report([*SHOP, "--ignore", "MP205:postgres"])
    assert result.exit_code == ExitCode.INPUT_ERROR
    profile = tmp_path / "p.yaml"
    profile.write_text("ignore: [{code: MP205, because: x}]\n", encoding="utf-8")
    result = run_report([*SHOP, "--profile", str(profile)])
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert "ignore[0].because: unknown field" in result.output


def test_a_code_no_rule_has_is_refused(tmp_path: Path) -> None:
    """An --ignore or profile entry for a code no rule has (a typo, MP2O5 read as MP205)
    suppresses nothing: it is refused in one line, exit 4, rather than accepted silently."""
    result = run_report([*SHOP, "--ignore", "MP999"])
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert result.stderr == ("planner: error: --ignore MP999: no rule has the code MP999 "
                             "(planner rules list shows them)\n")
    profile = tmp_path / "p.yaml"
    profile.write_text("ignore: [MP207, {code: MP998, reason: x}]\n", encoding="utf-8")
    result = run_report([*SHOP, "--profile", str(profile)])
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert "ignore[1]: no rule has the code MP998" in result.stderr
