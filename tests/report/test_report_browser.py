"""The HTML and Markdown reports as people see them: in a real browser (headless Chromium) and
through the Mermaid CLI, which draws the Markdown's diagram as GitHub and GitLab do.

Marked slow: each test starts a browser. They skip without Chromium or the Mermaid CLI (fail in
CI, which installs both; see ``.ci/run``).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from planner.sinks.mermaid import flowchart
from tests.browser import FLAGS, chromium, print_to_pdf, probe
from tests.report.conftest import ROOT, SHOP_PROFILE, run_report
from tests.tools import require_tool

pytestmark = pytest.mark.slow

SHOP = ["-f", "sample_clusters/shop", "-R", *SHOP_PROFILE]

#: Measures the page: its scroll width against the window, the graph's boxes and texts, every
#: element past the right edge, and the summary's rows as the browser renders them.
MEASURE = """
const doc = document.documentElement;
const svg = document.querySelector('svg.graph');
const shapes = svg ? [...svg.querySelectorAll('rect, text')].map(e => e.getBoundingClientRect())
                   : [];
const past = [...document.body.querySelectorAll('*')]
  .filter(e => e.getBoundingClientRect().right > doc.clientWidth + 1)
  .map(e => e.tagName + ': ' + e.textContent.slice(0, 60));
return {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth,
        boxes: svg ? svg.querySelectorAll('rect').length : 0,
        left: Math.min(...shapes.map(r => r.left)), right: Math.max(...shapes.map(r => r.right)),
        past: past.slice(0, 5),
        summary: [...document.querySelectorAll('.summary tr')]
          .map(tr => [tr.cells[0].innerText, tr.cells[1].innerText])};
"""
#: Paper: A4 less the 14 mm margins of the report's @page rule, in CSS pixels (96 per inch).
PAPER_WIDTH = round((210 - 2 * 14) / 25.4 * 96)


def _report(args: list[str], fmt: str) -> str:
    result = run_report([*args, "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.stdout


def _generated(tmp: Path, namespaces: int, services: int) -> list[str]:
    out = tmp / "generated"
    subprocess.run([sys.executable, str(ROOT / "sample_clusters" / "generate.py"),
                    "--namespaces", str(namespaces), "--services", str(services), "--seed", "5",
                    "--out", str(out)], check=True, capture_output=True)
    return ["-f", str(out / "manifests"), "-R"]


def _assert_fits(measured: dict[str, Any], boxes: int) -> None:
    assert measured["scrollWidth"] <= measured["clientWidth"], measured["past"]
    assert measured["boxes"] == boxes, "every namespace and outside caller is drawn"
    assert measured["left"] >= 0 and measured["right"] <= measured["clientWidth"], \
        "no box or label of the graph is cut"


def _graph_nodes(args: list[str]) -> int:
    doc = json.loads(run_report([*args, "--json"]).stdout)
    edges = doc["graph"]["namespaceEdges"]
    return len({*doc["graph"]["namespaces"], *(n["name"] for n in doc["plan"]["namespaces"]),
                *(e["from"] for e in edges), *(e["to"] for e in edges)})


@pytest.mark.parametrize("width", [1400, 800])
def test_shop_report_fits_the_window(tmp_path: Path, width: int) -> None:
    measured = probe(_report(SHOP, "html"), MEASURE, tmp_path, width)
    _assert_fits(measured, _graph_nodes(SHOP))


def test_fifty_namespaces_fit_the_window(tmp_path: Path) -> None:
    args = _generated(tmp_path, 50, 4)
    page = _report(args, "html")
    measured = probe(page, MEASURE, tmp_path, 1400)
    _assert_fits(measured, _graph_nodes(args))
    # The overview links each namespace to its row of the namespace table.
    links = set(re.findall(r'<a href="#(ns-\d+)">', page))
    assert len(links) == 50 and all(f'<tr id="{anchor}">' in page for anchor in links)


def test_print_layout_fits_the_paper(tmp_path: Path) -> None:
    # The print rules applied on screen at the paper's width: what "Save as PDF" lays out.
    page = _report(SHOP, "html").replace("@media print{", "@media all{")
    measured = probe(page, MEASURE, tmp_path, PAPER_WIDTH)
    _assert_fits(measured, _graph_nodes(SHOP))


def test_save_as_pdf_gives_a_document(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(_report(SHOP, "html"), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    print_to_pdf(page, pdf, tmp_path)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    # One page per section at least (the print stylesheet breaks before each one).
    assert pages >= page.read_text(encoding="utf-8").count("<h2>")


def test_summary_shows_the_json_figures(tmp_path: Path) -> None:
    doc = json.loads(run_report([*SHOP, "--json"]).stdout)
    rows = dict(probe(_report(SHOP, "html"), MEASURE, tmp_path)["summary"])
    plan, assessment = doc["plan"], doc["assessment"]
    assert f"{assessment['verdict']}, score {assessment['score']}/100" in rows["verdict"]
    assert rows["rollout"].startswith(f"{len(plan['steps'])} steps")
    severities: dict[str, int] = {}
    for b in doc["blockers"]:
        if not b.get("suppressed"):
            severities[b["severity"]] = severities.get(b["severity"], 0) + 1
    assert severities and all(f"{n} {s}" in rows["blockers"] for s, n in severities.items())
    exceptions = sum(1 for s in plan["steps"] if s["phase"] == "exception")
    assert rows["exceptions"].startswith(f"{exceptions} PERMISSIVE")
    coverage = doc["graph"]["manifestCoverage"]
    assert f"({coverage['share']:.0%})" in rows["graph coverage"]
    assert f"planner apply {plan['steps'][0]['id']}" in rows["next"]
    # The Markdown opens with the same lines.
    markdown = _report(SHOP, "markdown")
    summary = markdown.split("## Summary", 1)[1].split("\n## ", 1)[0]
    for label in rows:
        assert f"- **{label}**:" in summary


def _mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, flags=re.S | re.M)


def _render_mermaid(source: str, tmp: Path) -> str:
    mmdc = require_tool("mmdc", "npm install @mermaid-js/mermaid-cli with "
                                "PUPPETEER_SKIP_DOWNLOAD=1")
    config = tmp / "puppeteer.json"
    config.write_text(json.dumps({"executablePath": chromium(), "args": list(FLAGS)}),
                      encoding="utf-8")
    (tmp / "graph.mmd").write_text(source, encoding="utf-8")
    result = subprocess.run([mmdc, "-p", str(config), "-i", str(tmp / "graph.mmd"),
                             "-o", str(tmp / "graph.svg")],
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-1500:]
    return (tmp / "graph.svg").read_text(encoding="utf-8")


def test_markdown_mermaid_block_draws(tmp_path: Path) -> None:
    blocks = _mermaid_blocks(_report(SHOP, "markdown"))
    assert len(blocks) == 1
    svg = _render_mermaid(blocks[0], tmp_path)
    doc = json.loads(run_report([*SHOP, "--json"]).stdout)
    for name in doc["graph"]["namespaces"]:
        assert f">{name}<" in svg, name


def test_mermaid_escapes_hostile_names(tmp_path: Path) -> None:
    # Every character Mermaid reads as syntax or as the start of an entity code.
    name = 'a"b<c>#d&e[f]{g}|h`i;'
    svg = _render_mermaid(flowchart([name, "b"], [(name, "b", "3", False)]), tmp_path)
    labels = [html.unescape(re.sub(r"<[^>]+>", "", t))
              for t in re.findall(r'<span class="nodeLabel"[^>]*>(.*?)</span>', svg, flags=re.S)]
    assert name in labels, labels
