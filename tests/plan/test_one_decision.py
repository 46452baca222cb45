"""One data-plane decision and the verdict first: assess, plan (table, JSON, GitOps) and report
say the same thing about the shop (the TUI's side is in tests/tui/test_traffic_journey.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from planner.cli import cli

SHOP = ["-f", "sample_clusters/shop", "-R", "--profile", "sample_clusters/profiles/shop.yaml"]
TINY = ["-f", "sample_clusters/tiny", "-R"]


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _json(*args: str) -> Any:
    return json.loads(_run(*args))


def test_plan_report_and_gitops_enroll_as_assess_recommends(tmp_path: Path) -> None:
    assessed = _json("assess", *SHOP, "-o", "json")
    recommended = {ns: choice["mode"] for ns, choice in assessed["dataplane"].items()}
    plan = _json("plan", *SHOP, "-o", "json")
    report = _json("report", *SHOP, "--json")
    assert plan["dataplane"] == report["plan"]["dataplane"] == "recommended"
    assert report["assessment"]["dataplane"] == assessed["dataplane"]
    for fates in (plan["namespaces"], report["plan"]["namespaces"]):
        new = {f["name"]: f for f in fates if not f["already"] and f["mode"] != "outside"}
        assert set(new) == {"payments"}  # the others are labelled already, or kept outside
        assert new["payments"]["mode"] == recommended["payments"] == "ambient"
        assert new["payments"]["reason"].startswith("ambient, as assess recommends: ")
    _run("plan", *SHOP, "--out", str(tmp_path / "out"))
    enroll = next((tmp_path / "out").glob("*30-enroll-payments"))
    labels = {k: v for doc in (yaml.safe_load(p.read_text()) for p in enroll.glob("*.yaml"))
              if doc and doc.get("kind") == "Namespace"
              for k, v in doc["metadata"]["labels"].items()}
    assert labels["istio.io/dataplane-mode"] == "ambient"
    assert "istio-injection" not in labels


def test_the_flag_overrides_and_says_so() -> None:
    plan = _json("plan", *SHOP, "--dataplane", "sidecar", "-o", "json")
    assert plan["dataplane"] == "sidecar"
    payments = next(f for f in plan["namespaces"] if f["name"] == "payments")
    assert (payments["mode"], payments["reason"]) == (
        "sidecar", "sidecar, chosen with --dataplane sidecar (assess recommends ambient)")
    ambient = _json("plan", *SHOP, "--dataplane", "ambient", "-o", "json")
    payments = next(f for f in ambient["namespaces"] if f["name"] == "payments")
    assert (payments["mode"], payments["reason"]) == (
        "ambient", "ambient, chosen with --dataplane ambient")


def test_plan_and_report_open_with_the_verdict_of_assess() -> None:
    assessed = _json("assess", *SHOP, "-o", "json")
    plan = _json("plan", *SHOP, "-o", "json")
    assert (plan["fit"]["verdict"], plan["fit"]["score"]) == (
        assessed["verdict"], assessed["score"]) == ("mesh-recommended", 100)
    text = _run("plan", *SHOP).splitlines()
    assert text[0] == "Verdict: mesh-recommended  score 100/100"
    assert text[1].startswith("A mesh fits this cluster (Compliance requires mTLS")
    markdown = _run("report", *SHOP, "--format", "markdown")
    # The summary opens the report with the verdict; the Verdict section follows it.
    summary, verdict = markdown.split("\n## ")[1:3]
    assert summary.startswith("Summary\n\n- **verdict**: mesh-recommended, score 100/100")
    assert verdict.startswith("Verdict\n\n**mesh-recommended**, score 100/100")


def test_mesh_overkill_still_plans_but_leads_with_the_lighter_alternative() -> None:
    plan = _json("plan", *TINY, "-o", "json")
    fit = plan["fit"]
    assert fit["verdict"] == "mesh-overkill"
    names = [a["name"] for a in fit["alternatives"]]
    assert names[0] == "NetworkPolicy plus application-level TLS"
    assert "proceed anyway" in fit["summary"] and names[0] in fit["summary"]
    assert [s["id"] for s in plan["steps"]][-1] == "60-mesh-strict"  # the plan is still there
    lines = _run("plan", *TINY).splitlines()
    assert lines[0].startswith("Verdict: mesh-overkill  score ")
    table = next(i for i, line in enumerate(lines) if line.startswith("Rollout plan"))
    assert any(line.startswith("  lighter: NetworkPolicy plus application-level TLS: ")
               for line in lines[:table])
    markdown = _run("report", *TINY, "--format", "markdown")
    verdict = markdown.split("\n## Verdict\n", 1)[1].split("\n## ", 1)[0]
    assert verdict.index("### Lighter alternatives") < verdict.index("### Factors")
