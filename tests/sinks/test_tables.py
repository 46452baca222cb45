"""Every human table at 80 and 200 columns: nothing past the edge, nothing cropped, and the
cells that decide something (steps, namespaces, states, blockers, gates) all there, whole and
in order; ``-o wide`` adds columns and still fits."""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from planner.cli import cli
from planner.rules.registry import CATALOGUE
from planner.service import (
    Analysis,
    ManifestInput,
    TrafficSource,
    analyse,
    assess,
    build_plan,
    gate_plan,
    namespace_report,
    observe,
)
from planner.sinks.assessment_table import render_assessment
from planner.sinks.graph_render import render_namespace_table, render_table
from planner.sinks.inventory_table import render_inventory
from planner.sinks.plan_table import render_plan
from planner.sinks.tables import Id
from planner.sinks.traffic_table import render_traffic
from tests.shared_data import corpus, require_shared

ROOT = Path(__file__).resolve().parents[2]
SHOP = str(ROOT / "sample_clusters" / "shop")
WIDTHS = (80, 200)

#: The longest names Kubernetes allows (63-character labels), so ids must fold at 80 columns.
LONG_NS = "ledger-" + "x" * 56
LONG_APP = "reconciliation-" + "y" * 48
LONG = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {LONG_NS}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {LONG_APP}, namespace: {LONG_NS}}}
spec:
  selector: {{matchLabels: {{app: {LONG_APP}}}}}
  template:
    metadata: {{labels: {{app: {LONG_APP}}}}}
    spec:
      containers:
        - name: app
          image: example/app:1
          ports: [{{containerPort: 8080}}]
          env:
            - {{name: PAYMENTS_URL, value: "http://payments.payments:8080"}}
            - {{name: SELF_URL, value: "http://{LONG_APP}:8080"}}
---
apiVersion: v1
kind: Service
metadata: {{name: {LONG_APP}, namespace: {LONG_NS}}}
spec:
  selector: {{app: {LONG_APP}}}
  ports: [{{port: 8080, targetPort: 8080}}]
"""


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    folder = tmp_path_factory.mktemp("long")
    (folder / "long.yaml").write_text(LONG, encoding="utf-8")
    return analyse(ManifestInput((SHOP, str(folder)), True, False, "default"))


def render(width: int, draw: Callable[[Console], None]) -> str:
    """What ``draw`` prints on a ``width``-column console like the CLI's (markup off)."""
    out = io.StringIO()
    console = Console(file=out, width=width, markup=False, highlight=False, emoji=False,
                      color_system=None)
    draw(console)
    text = out.getvalue()
    for line in text.splitlines():
        assert cell_len(line) <= width, f"past column {width}: {line!r}"
    assert "…" not in text, "a cell was cropped"
    return text


def columns(text: str, title: str) -> dict[str, str]:
    """The table whose title starts with ``title``, read back column by column: header ->
    every fragment of the column's cells joined top to bottom with whitespace removed
    (wrapping and folding only move text to the next line, so whole cells come back whole)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
    block = lines[start + 1:end]
    rule = next(line for line in block if line.startswith("┡"))
    bounds = [i for i, ch in enumerate(rule) if ch in "┡╇┩"]

    def read(prefix: str) -> list[str]:
        parts = ["" for _ in bounds[1:]]
        for line in block:
            if line.startswith(prefix):
                for n, (a, b) in enumerate(itertools.pairwise(bounds)):
                    parts[n] += "".join(line[a + 1:b].split())
        return parts

    return dict(zip(read("┃"), read("│"), strict=True))


def squeeze(values: list[str]) -> str:
    return "".join("".join(v.split()) for v in values)


def shows_wide(text: str, title: str, header: str) -> bool:
    """Whether the ``-o wide`` column ``header`` of the table ``title`` is shown: in the
    table, or, on a console too narrow for it, as ``header:`` lines after it."""
    squeezed = "".join(header.split())
    if squeezed in columns(text, title):
        return True
    after = text.split(f"{title}: the -o wide columns, by row\n", 1)
    return len(after) == 2 and f" {header}: " in after[1].split("\n\n")[0]


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_keeps_steps_namespaces_blockers_and_gates(analysis: Analysis, tmp_path: Path,
                                                        width: int) -> None:
    csv = tmp_path / "traffic.csv"
    csv.write_text("source_namespace,source_workload,destination_namespace,"
                   "destination_service,requests,mtls_share\n"
                   "storefront,web,orders,orders,100,1\n", encoding="utf-8")
    observed = observe(analysis, TrafficSource(traffic_file=str(csv)))
    plan, gates = gate_plan(observed, build_plan(analysis))
    assert any(len(step.id) > 70 for step in plan.steps), "the fixture has long step ids"
    text = render(width, lambda c: render_plan(c, plan, gates))
    table = columns(text, "Rollout plan (root namespace istio-system)")
    assert set(table) == {"step", "namespace", "changes", "blockers", "gate"}
    assert table["step"] == squeeze([s.id for s in plan.steps])
    assert table["namespace"] == squeeze([s.target.namespace or "-" for s in plan.steps])
    codes = [code for s in plan.steps for code in dict.fromkeys(f.code for f in s.blockers)]
    assert codes and re.findall(r"MP\d{3}", table["blockers"]) == codes
    assert table["gate"] == squeeze([gates[s.id].status for s in plan.steps if s.id in gates])
    fates = columns(text, "Namespaces")
    assert fates["namespace"] == squeeze([f.name for f in plan.namespaces])
    assert fates["ends"] == squeeze([f.final for f in plan.namespaces])

    wide = render(width, lambda c: render_plan(c, plan, gates, wide=True))
    table = columns(wide, "Rollout plan (root namespace istio-system)")
    assert all(shows_wide(wide, "Rollout plan (root namespace istio-system)", header)
               for header in ("what", "target"))
    assert table["step"] == squeeze([s.id for s in plan.steps])
    assert re.findall(r"MP\d{3}", table["blockers"]) == codes


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_without_traffic_says_which_gates_cannot_run(analysis: Analysis,
                                                         width: int) -> None:
    from planner.domain.plan import GATED_PHASES, Phase
    from planner.sinks.plan_json import plan_body

    plan = build_plan(analysis, authz=True)
    text = render(width, lambda c: render_plan(c, plan))
    table = columns(text, "Rollout plan (root namespace istio-system)")
    gated = [s for s in plan.steps if s.phase in GATED_PHASES]
    assert {Phase.MESH_STRICT, Phase.AUTHZ_ENFORCE} <= {s.phase for s in gated}
    # STRICT steps say what the manifests prove; the others cannot be judged at all. No
    # gated step's cell is blank.
    assert table["gate"] == squeeze(["ready" if s.proof == "manifests" else "unproven"
                                     if s.proof else "no source" for s in gated])
    assert " ".join(text.split()).count("no traffic source: the gates of "
                                        f"{len(gated)} step(s) cannot run") == 1
    tail = "".join(text.split()).split("notrafficsource:")[1]
    assert all(s.id in tail for s in gated if s.phase is Phase.AUTHZ_ENFORCE)
    # JSON: a gate only where one ran (none without a source), the manifests' proof as status.
    steps = plan_body(plan)["steps"]
    assert not any("gate" in step for step in steps)
    assert {step["id"] for step in steps if "status" in step} == {
        s.id for s in plan.steps if s.proof}


def test_plan_changes_keep_each_count_beside_its_verb() -> None:
    """At 80 columns a step's changes read "1 apply" over "3 restart": the count never sits
    on a line of its own above its verb."""
    plan = build_plan(analyse(ManifestInput((SHOP,), True, False, "default")))
    from planner.domain.plan import Action

    assert any(c.action is Action.RESTART for s in plan.steps for c in s.apply)
    text = render(80, lambda c: render_plan(c, plan))
    block = text.split("Rollout plan", 1)[1].split("└", 1)[0]
    start = next(i for i, line in enumerate(block.splitlines()) if line.startswith("┡"))
    cells = [line.split("│")[3].strip() for line in block.splitlines()[start + 1:]]
    assert any(re.fullmatch(r"\d+ restart", cell) for cell in cells)
    assert all(re.fullmatch(r"(\d+ (apply|restart))?", cell) for cell in cells), cells


@pytest.mark.parametrize("width", WIDTHS)
def test_graph_keeps_callers_callees_and_ports(analysis: Analysis, width: int) -> None:
    graph = analysis.graph
    assert any(LONG_APP in e.caller for e in graph.edges)
    for wide in (False, True):
        text = render(width, lambda c, w=wide: render_table(c, graph, wide=w))
        table = columns(text, "Call graph")
        assert shows_wide(text, "Call graph", "evidence") is wide
        assert table["caller"] == squeeze([e.caller for e in graph.edges])
        assert table["callee"] == squeeze([e.callee for e in graph.edges])
        assert table["port"] == squeeze(["" if e.port is None else str(e.port)
                                         for e in graph.edges])
    text = render(width, lambda c: render_namespace_table(c, graph))
    edges = graph.namespace_graph.edges()
    table = columns(text, "Namespace graph")
    assert table["from"] == squeeze([a for a, _, _ in edges])
    assert table["to"] == squeeze([b for _, b, _ in edges])


@pytest.mark.parametrize("width", WIDTHS)
def test_scan_keeps_namespaces_and_enrollment(analysis: Analysis, width: int) -> None:
    inventory = analysis.scan.inventory
    for wide in (False, True):
        text = render(width, lambda c, w=wide: render_inventory(
            c, analysis.scan, wide=w))
        table = columns(text, "Namespaces")
        assert shows_wide(text, "Namespaces", "labels") is wide
        assert table["namespace"] == squeeze([ns.name for ns in inventory.namespaces])
        assert table["enrollment"] == squeeze([ns.enrollment for ns in inventory.namespaces])


@pytest.mark.parametrize("width", WIDTHS)
def test_assess_keeps_factors_and_data_planes(analysis: Analysis, width: int) -> None:
    result = assess(analysis)
    for wide in (False, True):
        text = render(width, lambda c, w=wide: render_assessment(
            c, result, "src", wide=w))
        factors = columns(text, "Factors")
        assert shows_wide(text, "Factors", "evidence") is wide
        assert factors["code"] == squeeze([f.code for f in result.factors])
        assert factors["weight"] == squeeze([f"{f.weight:+g}" for f in result.factors])
        planes = columns(text, "Data plane per namespace")
        assert shows_wide(text, "Data plane per namespace", "reasons") is wide
        assert planes["namespace"] == squeeze([n.namespace for n in result.namespaces])
        assert planes["mode"] == squeeze([n.mode for n in result.namespaces])


@pytest.mark.parametrize("width", WIDTHS)
def test_traffic_keeps_namespaces_status_and_gates(analysis: Analysis, tmp_path: Path,
                                                   width: int) -> None:
    csv = tmp_path / "traffic.csv"
    csv.write_text("source_namespace,source_workload,destination_namespace,"
                   f"destination_service,requests,mtls_share\n"
                   f"{LONG_NS},{LONG_APP},payments,payments,100,0.5\n", encoding="utf-8")
    observed = observe(analysis, TrafficSource(traffic_file=str(csv)))
    entries = namespace_report(observed)
    for wide in (False, True):
        text = render(width, lambda c, w=wide: render_traffic(
            c, observed.traffic, entries, wide=w))
        table = columns(text, "mTLS per namespace")
        assert shows_wide(text, "mTLS per namespace", "connections mTLS") is wide
        assert table["namespace"] == squeeze([e.namespace for e in entries])
        assert table["status"] == squeeze([e.status for e in entries])
        assert table["gate"] == squeeze([e.gate.status for e in entries])
        payments = columns(text, "payments: mixed, gate fail")
        assert f"{LONG_NS}/{LONG_APP}->" in payments["edge"].replace("Deployment/", "")


@pytest.mark.parametrize("width", WIDTHS)
def test_cli_tables_fit_the_terminal(tmp_path: Path, width: int) -> None:
    """The commands themselves, at $COLUMNS: rules list and status (and plan, as typed)."""
    runner = CliRunner(env={"COLUMNS": str(width)})
    rules = runner.invoke(cli, ["rules", "list"])
    assert rules.exit_code == 0
    render(width, lambda c: c.out(rules.stdout, end=""))
    assert columns(rules.stdout, "Rules")["code"] == squeeze([i.code for i in CATALOGUE])
    status = runner.invoke(cli, ["status", "-f", SHOP, "-R", "--out", str(tmp_path / "out"),
                                 "--journal", str(tmp_path / "journal.json")])
    assert status.exit_code == 0, status.output
    render(width, lambda c: c.out(status.stdout, end=""))
    table = columns(status.stdout, "Rollout status")
    assert table["state"].startswith("pending") and "40-strict-payments" in table["step"]
    plan = runner.invoke(cli, ["plan", "-f", SHOP, "-R", "-o", "wide"])
    assert plan.exit_code == 0
    render(width, lambda c: c.out(plan.stdout, end=""))
    assert "50-exception-payments-payments-webhook" in columns(
        plan.stdout, "Rollout plan (root namespace istio-system)")["step"]


def test_ids_break_between_parts_and_fold_only_a_part_too_wide() -> None:
    def lines(value: str, width: int) -> list[str]:
        out = io.StringIO()
        Console(file=out, width=width, color_system=None).print(Id(value))
        return out.getvalue().splitlines()

    assert lines("Service/data/postgres", 14) == ["Service/data/", "postgres"]
    assert lines("50-exception-payments", 13) == ["50-exception-", "payments"]
    assert lines("a/" + "z" * 10, 4) == ["a/", "zzzz", "zzzz", "zz"]
    assert lines("web -> Service/x/api", 12) == ["web -> ", "Service/x/", "api"]
    assert lines("\x1b[31mred", 20) == ["\\x1b[31mred"], "control characters stay visible"


def test_shares_are_of_the_known_part() -> None:
    """The summary's share is the mTLS part of the traffic whose security is known, and says
    how much is not: ``unknown`` must never read as plaintext."""
    from planner.sinks.traffic_table import share

    assert share(0, 33, 33) == "unknown of 33"
    assert share(60, 300, 240) == "100% of 60 +240 unknown"
    assert share(45, 100) == "45% of 100"
    assert share(0, 0) == "-"



# --- every command's tables at 80 columns, as a user runs them ---------------------------

#: Where a cell may move to the next line without a space: after an id's separator.
_ID_BREAKS = ("/", "-", ".", ":", "=", ",")


def _tables(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every box table of ``text``: its title, its headers (squeezed) and its body lines, each
    a list of its cells' text (stripped)."""
    lines = text.splitlines()
    found = []
    for start, line in enumerate(lines):
        if not line.startswith("┏"):
            continue
        end = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
        pairs = list(itertools.pairwise(i for i, ch in enumerate(line) if ch in "┏┳┓"))
        heads = ["" for _ in pairs]
        body: list[list[str]] = []
        for row in lines[start + 1:end]:
            cells = [row[a + 1:b].strip() for a, b in pairs]
            if row.startswith("┃"):
                heads = [h + "".join(c.split()) for h, c in zip(heads, cells, strict=True)]
            elif row.startswith("│"):
                body.append(cells)
        found.append((lines[start - 1].strip() if start else "", heads, body))
    return found


def _rows(body: list[list[str]], firsts: list[str]) -> list[list[list[str]]]:
    """The body lines grouped into rows, each a list of its cells' fragments: a row starts
    where its first cell (``firsts``: each row's first cell, whole) starts."""
    rows: list[list[list[str]]] = []
    left = ""
    for cells in body:
        if cells[0] and not left:
            left = "".join(firsts[len(rows)].split())
            rows.append([[] for _ in cells])
        left = left.removeprefix("".join(cells[0].split()))
        for fragments, cell in zip(rows[-1], cells, strict=True):
            if cell:
                fragments.append(cell)
    return rows


def mid_word_folds(narrow: str, unbounded: str) -> list[str]:
    """The cells of ``narrow`` (a command's output on a narrow console) that went on to the
    next line inside a word: compared with the same cell of ``unbounded`` (the same output
    with room for every cell on one line), each line break must fall on a space or after an
    id's separator. A table of ``narrow`` is matched by title, its columns by header."""
    whole = {}
    for title, heads, body in _tables(unbounded):
        # Unbounded, a first cell is one line: every line with one starts a row.
        whole[title] = heads, _rows(body, [cells[0] for cells in body if cells[0]])
    folds: list[str] = []
    for title, heads, body in _tables(narrow):
        assert title in whole, f"table {title!r} not in the unbounded output"
        wide_heads, wide_rows = whole[title]
        first = wide_heads.index(heads[0])
        rows = _rows(body, [" ".join(row[first]) for row in wide_rows])
        assert len(rows) == len(wide_rows), f"{title}: rows differ"
        for n, head in enumerate(heads):
            column = wide_heads.index(head)
            for row, wide_row in zip(rows, wide_rows, strict=True):
                text = " ".join(wide_row[column])
                at = 0
                for fragment, following in itertools.pairwise(row[n]):
                    at = text.find(fragment, at)
                    assert at >= 0, f"{title} / {head}: {fragment!r} not in {text!r}"
                    at += len(fragment)
                    if text[at:at + 1] != " " and not fragment.endswith(_ID_BREAKS):
                        folds.append(f"{title} / {head}: {fragment!r} + {following!r}")
    return folds


def _commands() -> list[tuple[str, list[str]]]:
    shop = ["-f", SHOP, "-R"]
    bookinfo = ["-f", str(corpus("bookinfo")), "-R"]
    hubble = ["--traffic", str(require_shared("traffic-samples", "hubble",
                                              "basic-sample-348-http-flows.json"))]
    found = []
    for name, source in (("shop", shop), ("bookinfo", bookinfo)):
        for command in (["scan"], ["graph"], ["assess"], ["plan"], ["plan", "--authz"]):
            for view in ([], ["-o", "wide"]):
                found.append((f"{' '.join(command)} {name} {' '.join(view)}",
                              [*command, *source, *view]))
    for view in ([], ["-o", "wide"]):
        found.append((f"traffic bookinfo {' '.join(view)}",
                      ["traffic", *bookinfo, *hubble, *view]))
        found.append((f"plan bookinfo --traffic {' '.join(view)}",
                      ["plan", *bookinfo, *hubble, *view]))
    found.append(("rules list", ["rules", "list"]))
    return found


def test_every_command_table_reads_at_80_columns(tmp_path: Path) -> None:
    """At COLUMNS=80, on the sample clusters: no line past column 80, no cell cropped, no
    cell broken inside a word (``namespa`` / ``ce``) where a wider console shows it whole, and
    no line ending in spaces."""
    problems: list[str] = []
    commands = [*_commands(), ("status shop", ["status", "-f", SHOP, "-R", "--out",
                                               str(tmp_path / "out"), "--journal",
                                               str(tmp_path / "journal.json")])]
    for name, args in commands:
        outputs = []
        for width in (80, 1000):
            result = CliRunner(env={"COLUMNS": str(width)}).invoke(cli, args)
            assert result.exit_code in (0, 3), f"{name}: {result.output}"
            outputs.append(result.stdout)
        narrow, unbounded = outputs
        problems += [f"{name}: past column 80: {line!r}" for line in narrow.splitlines()
                     if cell_len(line) > 80]
        problems += [f"{name}: cropped" for _ in range(narrow.count("…"))][:1]
        # Output kept in a file must pass whitespace checks: no line ends in a space.
        problems += [f"{name}: trailing space: {line!r}" for line in narrow.splitlines()
                     if line != line.rstrip()][:1]
        problems += [f"{name}: {fold}" for fold in mid_word_folds(narrow, unbounded)]
    assert not problems, "\n".join(problems)
