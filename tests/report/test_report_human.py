"""``planner report --format markdown|html``: goldens, structure, escaping, the SVG layout."""

from __future__ import annotations

import os
import re
import shlex
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from planner.cli import cli
from planner.sinks.report_html import layout
from planner.sinks.report_markdown import fence, md
from tests.kubeapi import KubeAPIServer
from tests.report.conftest import ROOT, SHOP_PROFILE, check_golden, run_report

SHOP = ["-f", "sample_clusters/shop", "-R", *SHOP_PROFILE]
HOSTILE_NS = "<script>alert(1)</script>"
#: A namespace named like a script tag, a label with quotes and table/code characters, and a
#: caller in another namespace so the hostile name appears in the graph and the plan.
HOSTILE = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: "{HOSTILE_NS}"
  labels: {{team: 'a"b|c`d<e'}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: "web|`x`", namespace: "{HOSTILE_NS}"}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: nginx, ports: [{{containerPort: 8080}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: "web|`x`", namespace: "{HOSTILE_NS}"}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: api, namespace: other}}
spec:
  selector: {{matchLabels: {{app: api}}}}
  template:
    metadata: {{labels: {{app: api}}}}
    spec:
      containers:
      - name: api
        image: api
        env: [{{name: WEB, value: "http://web.{HOSTILE_NS}:80"}}]
"""


class _Page(HTMLParser):
    """Collects tags, attributes and text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _assert_self_contained(page: _Page) -> None:
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    names = {name for name, _ in page.attrs}
    assert not {"src", "srcset", "xmlns"} & names
    # Links only inside the page (the graph's namespaces to their table rows).
    assert all((value or "").startswith("#") for name, value in page.attrs if name == "href")
    assert not [name for name in names if name.startswith("on")], "event handler attribute"
    assert all(value in (None, "") or "://" not in value for _, value in page.attrs)


@pytest.mark.parametrize(("fmt", "golden"), [("markdown", "shop.md"), ("html", "shop.html")])
def test_shop_matches_golden(fmt: str, golden: str) -> None:
    result = run_report([*SHOP, "--format", fmt])
    assert result.exit_code == 0, result.output
    check_golden(golden, result.stdout)
    assert run_report([*SHOP, "--format", fmt]).stdout == result.stdout


def test_html_is_self_contained_with_the_namespace_graph() -> None:
    page = run_report([*SHOP, "--format", "html"]).stdout
    parsed = _parse(page)
    _assert_self_contained(parsed)
    assert parsed.tags.count("svg") == 1 and "rect" in parsed.tags and "path" in parsed.tags
    text = "".join(parsed.text)
    for expected in ("mesh-recommended", "40-strict-storefront", "kubectl rollout restart",
                     "portLevelMtls", "MP211", "Rollback", "Preconditions"):
        assert expected in text


def test_markdown_has_every_section() -> None:
    text = run_report([*SHOP, "--format", "markdown"]).stdout
    for heading in ("## Verdict", "### Factors", "## Data plane and costs",
                    "## Namespaces and their mTLS fate", "## Blockers", "## Rollout plan"):
        assert f"\n{heading}" in text
    steps = re.findall(r"\n### (\d+)\. ([^:\s]+)", text)
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    assert steps[0][1] == "10-prereq" and steps[-1][1] == "60-mesh-strict"
    assert "```yaml\n" in text and "**Rollback**" in text


@pytest.mark.parametrize("args", [SHOP, ["-f", "sample_clusters/tiny"],
                                  ["-f", "sample_clusters/gitops-gateway",
                                   "--namespace-per-folder"]])
def test_markdown_tables_read_on_80_columns(args: list[str]) -> None:
    """docs/report.md: Markdown tables hold short cells only, so they read in an 80-column
    terminal (the factor table's threshold made rows of up to 85)."""
    text = run_report([*args, "--format", "markdown"]).stdout
    wide = [line for line in text.splitlines() if line.startswith("|") and len(line) > 80]
    assert wide == []


def test_hostile_names_are_escaped(kube_api: KubeAPIServer) -> None:
    # Served by a cluster: manifests with these names are refused (Kubernetes' naming rules);
    # the test API server does not validate names, so they reach the report.
    kube_api.load([doc for doc in yaml.safe_load_all(HOSTILE) if doc])
    source = ["--kubeconfig", str(kube_api.kubeconfig)]
    page = run_report([*source, "--format", "html"])
    assert page.exit_code == 0, page.output
    parsed = _parse(page.stdout)
    _assert_self_contained(parsed)
    assert "<script" not in page.stdout
    assert HOSTILE_NS in "".join(parsed.text), "the name is shown, as text"
    assert 'a"b' not in page.stdout and "a&quot;b|c`d&lt;e" in page.stdout

    text = run_report([*source, "--format", "markdown"]).stdout
    # Inside fenced code (YAML, PromQL) text is literal; everywhere else it must be escaped.
    prose = re.sub(r"^(`{3,})[a-z]*\n.*?^\1$", "", text, flags=re.S | re.M)
    assert "yaml" in text and "<script" not in prose
    assert "&lt;script>alert(1)&lt;/script>" in text
    assert "web|`x`" not in prose
    assert any(line.startswith("| ") and "web\\|\\`x\\`" in line for line in prose.splitlines())


def test_markdown_escaping_and_fences() -> None:
    assert md("a|b`c<d>&\\ \n e") == "a\\|b\\`c&lt;d>&amp;\\\\ e"
    block = fence("x: ```\ny: ````", "yaml")
    assert block[0] == "`````yaml" and block[-1] == "`````"


def test_layout_layers_callers_before_callees_and_cycles_share_a_column() -> None:
    boxes = layout(["a", "b", "c", "d", "lone"],
                   [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d"), ("b", "b")])
    assert boxes["a"].layer == 0 and boxes["lone"].layer == 0
    assert boxes["b"].layer == boxes["c"].layer == 1 and boxes["d"].layer == 2
    assert boxes["a"].x < boxes["b"].x < boxes["d"].x
    assert boxes["b"].y < boxes["c"].y, "inside a column, by name"
    assert layout(["b", "a"], [("a", "b")]) == layout(["a", "b"], [("a", "b")])


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_counts_of_one_read_in_the_singular(fmt: str) -> None:
    """The tiny sample has one namespace and a plan of one proxy: "1 namespaces" and
    "1 proxies" would read as a template, not a sentence."""
    text = run_report(["-f", "sample_clusters/tiny", "-R", "--format", fmt]).stdout
    assert "1 namespace, 4 workloads (4 Deployment), 4 Services, 6 pods" in text
    assert "This plan: 1 proxy, " in text
    assert not re.findall(r"\b1 (?:namespaces|workloads|Services|pods|proxies|graph nodes"
                          r"|call edges|hints|entry points|coverage gaps)\b", text)


def test_the_next_step_it_names_runs_as_written(tmp_path: Path) -> None:
    """The summary's ``next`` line is a command a user copies: with the report's input (and,
    for manifests, the ``--out`` folder it asks for) it must run the dry run it promises,
    writing nothing. ``planner apply STEP`` alone refuses as read-only (exit 8)."""
    text = run_report([*SHOP, "--format", "markdown"]).stdout
    [line] = [line for line in text.splitlines() if line.startswith("- **next**: ")]
    command = shlex.split(re.split(r" on the same input| \(|;", line.removeprefix(
        "- **next**: "))[0])
    assert command[:2] == ["planner", "apply"] and "--write" not in command
    out = tmp_path / "gitops"
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(cli, [*command[1:], *SHOP, "--out", str(out)])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    assert f"step {command[2]}" in result.stderr  # what the dry run found it would do
    assert not out.exists()
