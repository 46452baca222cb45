"""Hostile input costs bounded work: names and kinds are held to Kubernetes' rules, diagnostics
are capped per file, long text renders in linear work, and files that are not files are
refused. Every check counts work or sizes; none is timed."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from planner.domain.diagnostics import Diagnostic, Severity, Source, capped
from planner.domain.object_names import kind_problem, name_problem
from planner.service import ManifestInput, scan
from planner.sinks.tables import Column, Id, KubeTable
from planner.sources.manifests import load_manifests
from planner.untrusted import plain

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "sample_clusters" / "tiny" / "app.yaml"


def _doc(kind: str, name: str, namespace: str | None = None, api: str = "v1") -> str:
    meta = f"name: '{name}'" + (f", namespace: '{namespace}'" if namespace else "")
    return f"---\napiVersion: {api}\nkind: {kind}\nmetadata: {{{meta}}}\n"


# --- names and kinds ----------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), [
    ("Namespace", "team-a"), ("Namespace", "a" * 63), ("Service", "web-1"),
    ("Deployment", "web.v2"), ("Deployment", "a" * 253), ("CronJob", "c" * 52),
    ("ClusterRole", "system:aggregate-to-admin"), ("PeerAuthentication", "default"),
])
def test_names_kubernetes_accepts(kind: str, name: str) -> None:
    assert name_problem(kind, name) is None


@pytest.mark.parametrize(("kind", "name", "rule"), [
    ("Namespace", "a" * 64, "DNS-1123 label"), ("Namespace", "team.a", "DNS-1123 label"),
    ("Service", "1web", "DNS-1035 label"), ("Service", "web_1", "DNS-1035 label"),
    ("Deployment", "Web", "DNS-1123 subdomain"), ("Deployment", "a" * 254, "253 characters"),
    ("CronJob", "c" * 53, "52 characters"), ("ConfigMap", "-x", "DNS-1123 subdomain"),
    ("ClusterRole", "a/b", "path segment"), ("Role", "..", "path segment"),
])
def test_names_kubernetes_refuses(kind: str, name: str, rule: str) -> None:
    problem = name_problem(kind, name)
    assert problem is not None and rule in problem
    assert f"not a valid {kind.replace('Namespace', 'namespace')} name" in problem


@pytest.mark.parametrize("kind", ["deployment", "Deploy-ment", "K" * 64, "Ünicode", "A B"])
def test_kinds_must_be_camel_case_identifiers(kind: str) -> None:
    assert kind_problem(kind) is not None
    assert kind_problem("VirtualService") is None and kind_problem("K" * 63) is None


def test_a_refused_document_names_file_document_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(_doc("Namespace", "ok") + _doc("Service", "Web_1", "ok")
                    + _doc("ConfigMap", "cm", "Bad_NS") + _doc("x" * 2_000_000, "n"),
                    encoding="utf-8")
    result = load_manifests([str(path)])
    assert [d.body["metadata"]["name"] for d in result.documents] == ["ok"]
    first, second, third = result.diagnostics
    assert (first.source.file, first.source.doc) == (str(path), 2)
    assert first.message.startswith("metadata.name: 'Web_1' is not a valid Service name")
    assert second.source.doc == 3 and second.message.startswith("metadata.namespace: 'Bad_NS'")
    assert third.source.doc == 4 and third.message.startswith("kind 'xxxx")
    assert "(2000000 characters)" in third.message and len(third.message) < 200, \
        "a 2 MB kind is quoted in 40 characters, not copied into the message"


def test_a_huge_namespace_name_makes_no_huge_report(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    big = "n" * 3_000_000
    path.write_text(TINY.read_text(encoding="utf-8") + _doc("Namespace", big)
                    + _doc("ConfigMap", "cm", big), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "planner", "report", "-f", str(path),
                             "--json"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 3, result.stderr  # two documents skipped, the rest reported
    assert len(result.stdout) < 200_000 and len(result.stderr) < 2_000
    assert json.loads(result.stdout)["inventory"]["invalidDocuments"] == 2


# --- diagnostics per file -----------------------------------------------------------------


def test_diagnostics_are_capped_per_file_with_a_count_of_the_rest(tmp_path: Path) -> None:
    many = tmp_path / "many.yaml"
    many.write_text("".join(_doc("ConfigMap", f"Bad_{i}") for i in range(1000))
                    + _doc("ConfigMap", "good"), encoding="utf-8")
    few = tmp_path / "few.yaml"
    few.write_text("".join(_doc("ConfigMap", f"Bad_{i}") for i in range(3)), encoding="utf-8")
    result = scan(ManifestInput((str(many), str(few))))
    assert result.invalid == 1003, "every skipped document is still counted"
    by_file = [d for d in result.diagnostics if d.source.file == str(many)]
    assert len(by_file) == 21 and by_file[-1].source == Source(str(many), 0)
    assert by_file[-1].message == (f"... and 980 more in {many} (only the first 20 are shown)")
    assert len([d for d in result.diagnostics if d.source.file == str(few)]) == 3
    cli = subprocess.run([sys.executable, "-m", "planner", "scan", "-f", str(many), "-o",
                          "json"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert cli.returncode == 3 and len(cli.stderr.splitlines()) == 21


def test_capped_keeps_order_and_reports_the_worst_severity() -> None:
    def d(file: str, doc: int, severity: Severity) -> Diagnostic:
        return Diagnostic(Source(file, doc), severity, f"m{doc}")

    items = [d("a", 1, Severity.INFO), d("a", 2, Severity.ERROR), d("a", 3, Severity.WARNING),
             d("b", 1, Severity.INFO), d("b", 2, Severity.INFO)]
    out = capped(items, limit=1)
    assert [(x.source.file, x.source.doc, x.severity) for x in out] == [
        ("a", 1, Severity.INFO), ("a", 0, Severity.ERROR), ("b", 1, Severity.INFO),
        ("b", 0, Severity.INFO)]
    assert capped(items) == tuple(items)


# --- rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda text: plain(text), lambda text: Id(text),
    lambda text: _table(plain(text)), lambda text: _table(Id(text)),
], ids=["plain", "id", "plain in a table", "id in a table"])
def test_long_text_renders_one_line_per_segment(make: object) -> None:
    """The console splits what it prints at each newline by partitioning the rest of the
    segment: linear work only if no segment holds more than one line (one Text of 10^5
    wrapped lines was 10^5 copies of the whole). So: every segment fits the width."""
    console = Console(file=io.StringIO(), width=80, markup=False, color_system=None)
    text = "x " + "A" * 200_000 + " " + "b/" * 50_000
    segments = list(console.render(make(text)))
    assert max(len(s.text) for s in segments) <= 80
    rendered = "".join(s.text for s in segments)
    assert "".join(rendered.split()).count("A") == 200_000, "nothing is lost"
    # The plain Text the console would otherwise print is one segment of every line.
    assert max(len(s.text) for s in console.render(Text(text))) > 80


def _table(cell: object) -> KubeTable:
    table = KubeTable("t", [Column("a"), Column("b")])
    table.add_row("x", cell)
    return table


# --- files that are no files --------------------------------------------------------------


def _planner(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    # The timeout is a guard against the old behaviour (blocking forever), not a measurement.
    return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False, **options)


def test_a_fifo_nothing_writes_to_is_refused_in_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    result = _planner("scan", "-f", str(fifo))
    assert result.returncode == 4
    assert result.stderr == (f"planner: error: {fifo}: a FIFO that nothing writes to: refused "
                             "rather than waited on\n")


def test_a_device_is_refused_in_one_line() -> None:
    result = _planner("scan", "-f", "/dev/zero", stdin=subprocess.DEVNULL)
    assert result.returncode == 4
    assert result.stderr == ("planner: error: /dev/zero: not a regular file but a character "
                             "device: refused\n")


def test_a_pipe_with_a_writer_is_read(tmp_path: Path) -> None:
    """``-f <(kubectl get ...)`` names a pipe: it is read, to its end."""
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as writer:
        writer.write(TINY.read_bytes())
    try:
        result = _planner("scan", "-f", f"/dev/fd/{read_end}", "-o", "json",
                          pass_fds=(read_end,))
    finally:
        os.close(read_end)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["workloads"]) == 4
