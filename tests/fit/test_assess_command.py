"""`planner assess` and `planner rules list` as a user meets them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from planner.cli import cli
from planner.exit_codes import ExitCode
from planner.rules.registry import ALL_RULES
from tests.fit.conftest import REPO, SAMPLES, write
from tests.kubeapi import KubeAPIServer


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_json_is_versioned_and_deterministic() -> None:
    args = ("assess", "-f", str(SAMPLES / "shop"), "-R", "--profile",
            str(SAMPLES / "profiles" / "shop.yaml"), "-o", "json")
    code, first, _ = invoke(*args)
    assert code == ExitCode.OK
    assert invoke(*args)[1] == first
    doc = json.loads(first)
    assert next(iter(doc)) == "schemaVersion"
    assert doc["schemaVersion"] == "meshplan.io/assessment/v1"
    assert doc["verdict"] == "mesh-recommended"
    assert doc["dataplane"]["catalog"]["mode"] == "sidecar"
    assert [o["name"] for o in doc["costs"]["options"]] == ["sidecar", "ambient", "recommended"]
    factor = doc["factors"][0]
    assert set(factor) == {"code", "title", "value", "threshold", "weight", "message",
                           "evidence", "fix"}


def test_table_shows_verdict_factors_unknowns_and_costs() -> None:
    code, out, _ = invoke("assess", "-f", str(SAMPLES / "tiny"))
    assert code == ExitCode.OK
    assert "Verdict: mesh-overkill" in out
    for text in ("MP101", "MP108", "unknown:", "Lighter alternative", "ztunnel", "assumption:"):
        assert text in out


def test_wide_says_per_cost_line_whether_the_profile_set_its_figures() -> None:
    """docs/profile.md: -o wide shows beside every cost line whether its per-proxy figures
    are the profile's or the defaults; the default table leaves that column out."""
    args = ("assess", "-f", str(SAMPLES / "tiny"), "--profile",
            str(SAMPLES / "profiles" / "example.yaml"))
    wide = CliRunner(env={"COLUMNS": "200"}).invoke(cli, [*args, "-o", "wide"])
    assert wide.exit_code == ExitCode.OK
    assert "100m CPU, 128 MiB each (profile costs)" in wide.stdout
    assert "(profile costs)" not in invoke(*args)[1]


def test_flags_answer_the_profile_questions() -> None:
    code, out, _ = invoke("assess", "-f", str(SAMPLES / "tiny"), "--compliance-mtls",
                          "--no-observability-needed", "--platform-engineers", "1", "-o", "json")
    assert code == ExitCode.OK
    doc = json.loads(out)
    assert doc["unknowns"] == []
    assert doc["profile"]["complianceMtls"] is True
    assert doc["verdict"] == "mesh-optional"


def test_cluster_strings_are_not_markup(kube_api: KubeAPIServer) -> None:
    # A cluster's names are shown as served (manifests with this name are refused: see
    # tests/cli/test_hostile_output.py); the test API server does not validate them.
    kube_api.load([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "[bold]ns[/bold]"}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": "[bold]ns[/bold]"},
         "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "x"}]}}}}])
    code, out, _ = invoke("assess", "--kubeconfig", str(kube_api.kubeconfig))
    assert code == ExitCode.OK
    assert "│ [bold]ns[/bold] │ ambient" in out


def test_bad_profile_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    profile = write(tmp_path / "p.yaml", "team:\n  platformEngineers: many\n")
    code, _, err = invoke("assess", "-f", str(SAMPLES / "tiny"), "--profile", str(profile))
    assert code == ExitCode.INPUT_ERROR
    assert err.count("\n") == 1
    assert "p.yaml: team.platformEngineers: expected a whole number" in err


def test_rules_list_shows_every_rule() -> None:
    code, out, _ = invoke("rules", "list")
    assert code == ExitCode.OK
    for r in ALL_RULES:
        assert r.info.code in out


def test_docs_rules_md_is_generated_and_current() -> None:
    code, out, _ = invoke("rules", "list", "-o", "markdown")
    assert code == ExitCode.OK
    assert all(f"| [{r.info.code}]" in out for r in ALL_RULES)
    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == out, (
        "docs/rules.md is stale: run `planner rules list -o markdown > docs/rules.md`")
