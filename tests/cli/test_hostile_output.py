"""Names, labels and annotations from a cluster are untrusted data: every output escapes them.

A manifest set no API server validated carries Rich markup, ANSI/OSC escape sequences, BEL,
bidi overrides, emoji, 5,000-character values, and names with ``|``, backticks, quotes,
backslashes, ``/`` and ``<``. Every command runs through the real CLI (``python -m planner``
from the repo root) on it and on ``sample_clusters/generate.py --hostile``, and each output
format is checked by its own rules: human formats never emit a raw ESC or BEL and show markup
literally, DOT and Mermaid stay syntactically valid, HTML holds only the report's own elements,
Markdown tables keep one row per line, JSON round-trips every string exactly.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kubeapi import KubeAPIServer

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "sample_clusters" / "tiny"

NS = "[bold red]x[/]"  # a namespace name that is Rich markup
NS_ESC = "esc\x1b[31mns\x07\u202e"  # ANSI colour, BEL and a right-to-left override
NS_HTML = "<img src=x onerror=alert(1)>|&amp;"  # HTML and a table pipe in a name
MARKUP = "[link=http://127.0.0.1]x[/link] [/]"
ANSI = "\x1b[31mred\x1b[0m \x1b]8;;http://evil\x07link\x1b]8;;\x07"
LONG = "L" * 5000
UNICODE = "\u202eevil\u202c \U0001f600"
SVC_PIPE = "pipe|`tick`"
SVC_QUOTE = 'dq"back\\slash'
HOSTILE_WORKLOAD = "evil\x1b[31mwl\x07[/]"

LABELS = {"note": MARKUP, "ansi": ANSI, "uni": UNICODE}
ANNOTATIONS = {"desc": MARKUP, "ansi": ANSI, "long": LONG, "uni": UNICODE}


# --- the hostile cluster -------------------------------------------------------------------


def _deployment(ns: str, name: str, app: str, env: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app, **LABELS},
                     "annotations": ANNOTATIONS},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": app}},
                 "template": {"metadata": {"labels": {"app": app}, "annotations": ANNOTATIONS},
                              "spec": {"containers": [{
                                  "name": "c", "image": "img:1",
                                  "ports": [{"containerPort": 8080}], "env": env,
                                  "resources": {"requests": {"cpu": "50m",
                                                             "memory": "64Mi"}}}]}}},
    }


def _service(ns: str, name: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": LABELS,
                         "annotations": ANNOTATIONS},
            "spec": {"selector": {"app": app},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def _namespace(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, **meta}}


def hostile_documents() -> list[dict[str, Any]]:
    """Three namespaces whose names are markup, escapes and HTML, with calls between
    workloads whose names hold ``|``, backticks, ``"`` and ``\\``."""
    banner = {"name": "BANNER", "value": MARKUP + ANSI + UNICODE + LONG}
    return [
        _namespace(NS, labels=LABELS, annotations=ANNOTATIONS),
        _deployment(NS, "web", "web", [{"name": "API_URL", "value": "http://api:80"}, banner,
                                       {"name": "EVIL_URL", "value": f"http://{SVC_PIPE}:80"}]),
        _service(NS, "web", "web"),
        _deployment(NS, "api", "api", [{"name": "X", "value": ANSI}]),
        _service(NS, "api", "api"),
        _deployment(NS, SVC_QUOTE, "dq", [{"name": "API", "value": "http://api:80"}]),
        _service(NS, SVC_QUOTE, "dq"),
        _deployment(NS, SVC_PIPE, "pipe", [{"name": "API", "value": "http://api:80"}]),
        _service(NS, SVC_PIPE, "pipe"),
        _namespace(NS_ESC),
        _deployment(NS_ESC, "w\x1b[1mx", "w", [{"name": "U", "value": "http://s2:80"}]),
        _service(NS_ESC, "s2", "w"),
        _namespace(NS_HTML, annotations={"html": "<script>alert(1)</script>"}),
        _deployment(NS_HTML, "h", "h", [{"name": "U", "value": f"http://web.{NS}:80"}]),
        _service(NS_HTML, "h", "h"),
    ]


@pytest.fixture(scope="module")
def hostile_manifests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A manifest folder with :func:`hostile_documents`."""
    folder = tmp_path_factory.mktemp("hostile") / "manifests"
    folder.mkdir()
    (folder / "hostile.yaml").write_text(
        yaml.safe_dump_all(hostile_documents(), allow_unicode=True, width=10**6),
        encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ...]]:
    """The input flags of a cluster serving :func:`hostile_documents`. Manifests with these
    names are refused (Kubernetes' naming rules, see the last test); a cluster's names are
    taken as served, so they are where hostile names still reach the outputs (the test API
    server, like a misbehaving aggregated API, does not validate them)."""
    server = KubeAPIServer(tmp_path_factory.mktemp("kubeapi")).start()
    try:
        server.load(hostile_documents())
        yield ("--kubeconfig", str(server.kubeconfig))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``generate.py --hostile``'s manifests."""
    out = tmp_path_factory.mktemp("generated")
    subprocess.run([sys.executable, "sample_clusters/generate.py", "--hostile", "--namespaces",
                    "2", "--services", "4", "--seed", "1", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True)
    return out / "manifests"


@pytest.fixture(scope="module")
def traffic_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV traffic export whose workload and namespace names are hostile."""
    path = tmp_path_factory.mktemp("traffic") / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["source_namespace", "source_workload", "destination_namespace",
                         "destination_service", "requests", "mtls_share"])
        writer.writerow([NS, "web", NS, "api", "100", "0.5"])
        writer.writerow([NS, HOSTILE_WORKLOAD, NS, "api", "10", "0"])
        writer.writerow([NS_ESC, MARKUP, NS, SVC_PIPE, "5", "0"])
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # A wide terminal, so a table cell is not wrapped in the middle of a name we look for.
    env = {**os.environ, "COLUMNS": "400"}
    return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True,
                          text=True, cwd=ROOT, encoding="utf-8", env=env)


def assert_inert(result: subprocess.CompletedProcess[str]) -> None:
    """No raw ESC, BEL or C1 CSI anywhere in what a terminal would print."""
    for stream in (result.stdout, result.stderr):
        for char in ("\x1b", "\x07", "\x9b"):
            assert char not in stream, f"raw {char!r} in output: {stream[:2000]!r}"


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return result


def strings(value: Any) -> Iterator[str]:
    """Every string (keys too) in a JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


# --- human formats -------------------------------------------------------------------------

HUMAN_COMMANDS = [
    ("scan",),
    ("scan", "-v"),
    ("graph",),
    ("graph", "--hints"),
    ("graph", "--namespaces"),
    ("assess",),
    ("plan",),
    ("report", "--format", "markdown"),
    ("report", "--format", "html"),
]


@pytest.mark.parametrize("args", HUMAN_COMMANDS, ids=" ".join)
def test_human_outputs_emit_no_control_characters(hostile: tuple[str, ...], generated: Path,
                                                  args: tuple[str, ...]) -> None:
    for source in (hostile, ("-f", str(generated), "-R")):
        assert_inert(ok(*args, *source))


@pytest.mark.parametrize("args", [("scan",), ("graph",), ("graph", "--namespaces"), ("assess",),
                                  ("plan",)], ids=" ".join)
def test_tables_show_markup_literally_and_escapes_visibly(hostile: tuple[str, ...],
                                                          args: tuple[str, ...]) -> None:
    out = ok(*args, *hostile).stdout
    assert NS in out  # verbatim: Rich did not interpret it
    if args != ("graph", "--namespaces"):  # no call leaves these namespaces
        assert NS_HTML in out
        assert "esc\\x1b[31mns\\x07\\u202e" in out  # the tampering shows, it does not act


def test_graph_explain_and_rules_list(hostile: tuple[str, ...]) -> None:
    result = ok("graph", *hostile, "--explain", "web api")
    assert_inert(result)
    assert f"Deployment/{NS}/web -> Service/{NS}/api:80" in result.stdout
    assert_inert(ok("rules", "list"))


def test_traffic_export_with_hostile_workloads(hostile: tuple[str, ...], traffic_csv: Path) -> None:
    table = ok("traffic", *hostile, "--traffic", str(traffic_csv))
    assert_inert(table)
    assert f"observed:{NS}/evil\\x1b[31mwl\\x07[/]" in table.stdout
    assert MARKUP in table.stdout
    graph = ok("graph", *hostile, "--traffic", str(traffic_csv))
    assert_inert(graph)
    doc = json.loads(ok("traffic", *hostile, "--traffic", str(traffic_csv),
                        "-o", "json").stdout)
    found = "\n".join(strings(doc))
    assert HOSTILE_WORKLOAD in found and MARKUP in found


def test_plan_out_keeps_files_inside_the_folder(hostile: tuple[str, ...], tmp_path: Path) -> None:
    out = tmp_path / "gitops"
    assert_inert(ok("plan", *hostile, "--out", str(out)))
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written
    for path in written:
        relative = path.relative_to(out)
        # one folder per step, then the step's files (and rollback/): a name with "/" in it
        # must not have made deeper folders, and nothing carries a control character.
        assert len(relative.parts) <= 3, relative
        assert re.fullmatch(r"[A-Za-z0-9._/-]+", str(relative)), relative
    enroll = [p for p in out.iterdir() if "enroll" in p.name]
    assert len(enroll) == 3  # three hostile namespaces, three distinct folders
    # the YAML inside still names the real namespace
    texts = "".join(p.read_text(encoding="utf-8") for p in written)
    assert any(doc and doc.get("metadata", {}).get("namespace") == NS_ESC
               for p in written if p.suffix == ".yaml"
               for doc in yaml.safe_load_all(p.read_text(encoding="utf-8")))
    assert "\x1b" not in texts  # YAML escapes it


# --- diagrams ------------------------------------------------------------------------------

_DOT_STRING = r'"(?:[^"\\\n]|\\.)*"'
_DOT_LINE = re.compile(rf"  {_DOT_STRING}( -> {_DOT_STRING})?( \[[^\n]*\])?;")


@pytest.mark.parametrize("namespaces", [False, True])
def test_dot_quotes_every_string(hostile: tuple[str, ...], namespaces: bool) -> None:
    result = ok("graph", *hostile, "-o", "dot", *(["--namespaces"] * namespaces))
    assert_inert(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("digraph ") and lines[0].endswith("{") and lines[-1] == "}"
    for line in lines[2:-1]:
        assert _DOT_LINE.fullmatch(line), line
    if not namespaces:
        assert '"Deployment/[bold red]x[/]/dq\\"back\\\\slash"' in result.stdout
        assert '"Service/[bold red]x[/]/pipe|`tick`"' in result.stdout


_MERMAID_LABEL = r'"[^"\[\]{}|`<>\n\x00-\x1f]*"'
_MERMAID_NODE = re.compile(rf"  n\d+\[{_MERMAID_LABEL}\]")
_MERMAID_EDGE = re.compile(rf"  n\d+ (-->|-\.->)\|{_MERMAID_LABEL}\| n\d+")


@pytest.mark.parametrize("namespaces", [False, True])
def test_mermaid_labels_stay_valid(hostile: tuple[str, ...], namespaces: bool) -> None:
    result = ok("graph", *hostile, "-o", "mermaid", *(["--namespaces"] * namespaces))
    assert_inert(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart LR"
    for line in lines[1:]:
        assert _MERMAID_NODE.fullmatch(line) or _MERMAID_EDGE.fullmatch(line), line
    assert "#91;bold red#93;x#91;/#93;" in result.stdout
    assert "#lt;img src=x onerror=alert(1)#gt;" in result.stdout
    if not namespaces:
        assert "pipe#124;#96;tick#96;" in result.stdout and "dq#quot;back" in result.stdout


# --- reports -------------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse_html(text: str) -> _Collector:
    parser = _Collector()
    parser.feed(text)
    parser.close()
    return parser


def test_html_report_holds_only_its_own_elements(hostile: tuple[str, ...]) -> None:
    result = ok("report", *hostile, "--format", "html")
    assert_inert(result)
    page = _parse_html(result.stdout)
    # What the report itself makes, from a benign cluster: the hostile one adds no element
    # and no attribute (an <img onerror> or <script> would).
    benign = _parse_html(ok("report", "-f", str(TINY), "--format", "html").stdout)
    allowed_tags = benign.tags | {"ul", "li", "td", "tr", "table", "thead", "tbody", "th",
                                  "pre", "code", "p", "g", "path", "rect", "text", "title"}
    assert page.tags <= allowed_tags, page.tags - allowed_tags
    assert page.attributes <= benign.attributes | {"class"}, page.attributes - benign.attributes
    assert "script" not in page.tags and "img" not in page.tags
    text = "".join(page.text)
    assert NS_HTML in text and NS in text  # shown as text, escaped in the source
    assert "&lt;img src=x onerror=alert(1)&gt;|&amp;amp;" in result.stdout
    assert "<img" not in result.stdout


def _cells(line: str) -> int:
    """Cell separators in a Markdown table row, skipping backslash escapes."""
    count, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        count += line[i] == "|"
        i += 1
    return count


def test_markdown_tables_keep_one_row_per_line(hostile: tuple[str, ...]) -> None:
    result = ok("report", *hostile, "--format", "markdown")
    assert_inert(result)
    lines = result.stdout.splitlines()
    tables = 0
    for i, line in enumerate(lines):
        if not re.fullmatch(r"\|(---\|)+", line):
            continue
        tables += 1
        width = _cells(lines[i - 1])
        assert width == line.count("|")
        for row in lines[i + 1:]:
            if not row.startswith("|"):
                break
            assert _cells(row) == width and row.endswith("|"), row
    assert tables >= 3
    assert "&lt;img src=x onerror=alert(1)>\\|&amp;amp;" in result.stdout  # pipe escaped
    assert f"| {NS} |" in result.stdout  # markup is no Markdown syntax: left as it is
    # Code fences hold YAML and commands literally; outside them no raw HTML may appear.
    prose = re.sub(r"^(`{3,})[^\n]*\n.*?^\1$", "", result.stdout, flags=re.S | re.M)
    assert "&lt;img" in prose and "<img" not in prose


def test_json_round_trips_hostile_strings_exactly(hostile: tuple[str, ...],
                                                 generated: Path) -> None:
    report = json.loads(ok("report", *hostile, "--format", "json").stdout)
    found = set(strings(report))
    for name in (NS, NS_ESC, NS_HTML):
        assert name in found
    joined = "\n".join(found)
    assert SVC_PIPE in joined and SVC_QUOTE in joined
    inventory = json.loads(ok("scan", *hostile, "-o", "json").stdout)
    values = set(strings(inventory))
    for value in (MARKUP, ANSI, LONG, UNICODE, MARKUP + ANSI + UNICODE + LONG):
        assert value in values
    graph = json.loads(ok("graph", *hostile, "-o", "json").stdout)
    assert f"Deployment/{NS}/{SVC_QUOTE}" in set(strings(graph))
    # the generator's hostile values survive too
    expected = set()
    for path in generated.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                expected.update((doc["metadata"].get("annotations") or {}).values())
    assert expected
    generated_inventory = json.loads(ok("scan", "-f", str(generated), "-R", "-o", "json").stdout)
    assert expected <= set(strings(generated_inventory))
    for args in (("plan", "-o", "json"), ("assess", "-o", "json"), ("graph", "-o", "json")):
        json.loads(ok(*args, *hostile).stdout)  # valid JSON whatever the names


# --- errors --------------------------------------------------------------------------------


def test_syntax_error_in_a_file_named_with_an_escape(tmp_path: Path) -> None:
    bad = tmp_path / "evil\x1b[31mname.yaml"
    bad.write_text("apiVersion: v1\nkind: [oops\n", encoding="utf-8")
    result = run("scan", "-f", str(tmp_path), "-o", "json")
    assert result.returncode != 0
    assert_inert(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "evil" in lines[0] and "name.yaml" in lines[0] and "syntax" in lines[0].lower()
    strict = run("scan", "-f", str(tmp_path), "--strict")
    assert strict.returncode != 0
    assert_inert(strict)
    assert len(strict.stderr.splitlines()) == 1, strict.stderr


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_what_if_shows_hostile_names_inertly(hostile: tuple[str, ...], fmt: str) -> None:
    for ns in (NS, NS_ESC, NS_HTML):
        result = run("what-if", *hostile, "--strict", ns, "--after-enrollment",
                     "-o", fmt)
        assert result.returncode in (0, 10), result.stderr
        assert_inert(result)


def test_hostile_names_in_manifests_are_refused_one_line_each(hostile_manifests: Path) -> None:
    """No API server would take these names; from manifests each document is refused with a
    diagnostic naming file, document and field, and the name shown inertly (all are invalid
    here: exit 4)."""
    result = run("scan", "-f", str(hostile_manifests), "-o", "json")
    assert result.returncode == 4, result.stderr
    assert_inert(result)
    *lines, last = result.stderr.splitlines()
    assert len(lines) == len(hostile_documents()) and "no usable document" in last
    assert all("hostile.yaml" in line and "(document " in line for line in lines)
    assert "metadata.namespace: '[bold red]x[/]' is not a valid namespace name" in lines[1]
    assert any("metadata.name: 'pipe|`tick`' is not a valid Service name" in line
               for line in lines)
