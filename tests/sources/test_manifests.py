"""The manifest loader against real files: what it reads, what it skips, and how it fails."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from planner.cli import cli
from planner.domain.diagnostics import Diagnostic, Severity, Source
from planner.errors import InputError
from planner.sources import manifests
from planner.sources.manifests import MAX_ALIAS_NODES, LoadResult, RawDocument, load_manifests
from tests.shared_data import CORPUS_CASES, corpus

ROOT = Path(__file__).resolve().parents[2]
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")


def manifest(name: str, kind: str = "ConfigMap", api: str = "v1") -> str:
    return f"apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n"


def write(path: Path, text: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def names(result: LoadResult) -> list[str]:
    return [doc.body["metadata"]["name"] for doc in result.documents]


def errors(result: LoadResult) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.severity is Severity.ERROR]


# --- what is read ---------------------------------------------------------------------------


def test_multi_document_yaml_numbers_documents_and_skips_empty_ones(tmp_path: Path) -> None:
    text = ("# leading comment\n---\n" + manifest("a") + "---\n---\n"
            + "# only a comment\n---\n" + manifest("b", "Service"))
    path = write(tmp_path / "app.yaml", text)
    result = load_manifests([path])
    assert names(result) == ["a", "b"]
    # Each object's line is where its document's first key stands (what SARIF points at).
    starts = [i for i, line in enumerate(text.splitlines(), 1) if line.startswith("apiVersion")]
    assert [doc.source for doc in result.documents] == [
        Source(path, 1, 0, starts[0]), Source(path, 4, 0, starts[1])]
    assert str(result.documents[1].source) == f"{path}:{starts[1]} (document 4)"
    assert result.diagnostics == []
    assert result.invalid == 0


def test_json_object_and_json_list(tmp_path: Path) -> None:
    single = write(tmp_path / "one.json", json.dumps(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "one"}}))
    listed = write(tmp_path / "list.json", json.dumps({
        "apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
        "items": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": n}}
                  for n in ("two", "three")]}, indent=4))
    result = load_manifests([single, listed])
    assert names(result) == ["one", "two", "three"]
    # A single JSON value keeps no node positions: its items share its line.
    assert [doc.source for doc in result.documents] == [
        Source(single, 1, 0, 1), Source(listed, 1, 1, 1), Source(listed, 1, 2, 1)]


def test_kubectl_get_all_namespaces_yaml_list(tmp_path: Path) -> None:
    path = write(tmp_path / "dump.yaml", """\
apiVersion: v1
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: web
    namespace: shop
    annotations:
      deployment.kubernetes.io/revision: "3"
  spec: {replicas: 2}
- apiVersion: v1
  kind: Service
  metadata:
    name: web
    namespace: shop
kind: List
metadata:
  resourceVersion: ""
""")
    result = load_manifests([path])
    assert [(d.source.item, d.source.line, d.body["kind"]) for d in result.documents] == [
        (1, 3, "Deployment"), (2, 11, "Service")]
    assert result.diagnostics == []


def test_typed_list_kind_is_expanded(tmp_path: Path) -> None:
    path = write(tmp_path / "pods.yaml", "apiVersion: v1\nkind: ServiceList\nitems:\n- "
                 + manifest("x", "Service").replace("\n", "\n  "))
    assert names(load_manifests([path])) == ["x"]


def test_directory_sorted_non_manifests_skipped_and_recursion_only_when_asked(
        tmp_path: Path) -> None:
    write(tmp_path / "b.yml", manifest("b"))
    write(tmp_path / "a.yaml", manifest("a"))
    write(tmp_path / "c.json", json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}))
    write(tmp_path / "README.md", "# not a manifest: {{ oops\n")
    write(tmp_path / "notes.txt", b"\x00\xff binary")
    write(tmp_path / "upper.YAML", manifest("upper"))
    write(tmp_path / "sub" / "d.yaml", manifest("d"))
    write(tmp_path / "sub" / "deeper" / "e.yaml", manifest("e"))

    flat = load_manifests([str(tmp_path)])
    assert names(flat) == ["a", "b", "c"]
    # kubectl skips subfolders without a word; the plan of half a tree must say so.
    assert [(d.severity, d.source.file, d.message) for d in flat.diagnostics] == [
        (Severity.INFO, str(tmp_path), "1 subfolder(s) not read (sub): -R reads them")]
    deep = load_manifests([str(tmp_path)], recursive=True)
    assert names(deep) == ["a", "b", "c", "d", "e"]
    assert deep.diagnostics == []
    assert deep.documents[3].source.file == os.path.join(str(tmp_path), "sub", "d.yaml")


def test_explicit_file_with_any_extension_is_sniffed(tmp_path: Path) -> None:
    as_json = write(tmp_path / "objects", json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}))
    as_yaml = write(tmp_path / "objects.txt", manifest("y"))
    assert names(load_manifests([as_json, as_yaml])) == ["s", "y"]


def test_json_stream_of_several_objects(tmp_path: Path) -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}}
    path = write(tmp_path / "stream.json", json.dumps(obj) + "\n" + json.dumps(obj))
    assert [(d.source.doc, d.source.line) for d in load_manifests([path]).documents] == [
        (1, 1), (2, 2)]


def test_stdin_yaml_and_json() -> None:
    from_yaml = load_manifests(["-"], stdin=io.BytesIO(manifest("y").encode()))
    assert names(from_yaml) == ["y"]
    assert from_yaml.documents[0].source == Source("-", 1, 0, 1)
    body = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}]}
    from_json = load_manifests(["-"], stdin=io.BytesIO(b"\n  " + json.dumps(body).encode()))
    assert names(from_json) == ["j"]
    assert from_json.documents[0].source == Source("-", 1, 1, 2)


def test_json_scan_does_not_import_yaml(tmp_path: Path) -> None:
    # PyYAML is ~11 ms of a JSON scan's start-up; only YAML input or output may load it.
    # The YAML scan afterwards shows that the check would see the import.
    body = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}]}
    as_json = write(tmp_path / "cluster.json", json.dumps(body))
    as_yaml = write(tmp_path / "cluster.yaml", manifest("y"))
    code = (
        "import sys\n"
        "from planner.cli import cli\n"
        "def scan(path):\n"
        "    cli(['scan', '-f', path, '-o', 'json'], prog_name='planner', standalone_mode=False)\n"
        "    return 'yaml' in sys.modules\n"
        "after_json = scan(sys.argv[1])\n"
        "sys.stderr.write(f'{after_json} {scan(sys.argv[2])}')\n"
    )
    out = subprocess.run([sys.executable, "-c", code, as_json, as_yaml], capture_output=True,
                         text=True, check=True)
    assert out.stderr == "False True"


def test_anchors_and_merge_keys_within_limits_load(tmp_path: Path) -> None:
    path = write(tmp_path / "anchors.yaml", """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: shared
  labels: &labels {app: web, tier: front}
  annotations:
    <<: *labels
    note: "echo a && b 2>&1 https://x/?a=1&b=2"
""")
    result = load_manifests([path])
    assert result.documents[0].body["metadata"]["annotations"]["tier"] == "front"


def test_progress_reports_each_file(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write(tmp_path / f"{name}.yaml", manifest(name))
    calls: list[tuple[int, int]] = []
    load_manifests([str(tmp_path)], progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_symlink_loop_is_entered_once(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", manifest("a"))
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "self.yaml").symlink_to(tmp_path / "self.yaml")
    result = load_manifests([str(tmp_path)], recursive=True)
    assert names(result) == ["a"]
    assert [d.source.file for d in errors(result)] == [str(tmp_path / "self.yaml")]


# --- kustomize ------------------------------------------------------------------------------


def kustomization(tmp_path: Path, resources: str = "[cm.yaml]") -> Path:
    folder = tmp_path / "overlay"
    write(folder / "kustomization.yaml", f"namePrefix: pre-\nresources: {resources}\n")
    write(folder / "cm.yaml", manifest("settings"))
    return folder


@needs_kubectl
def test_kustomization_is_rendered_with_kubectl(tmp_path: Path) -> None:
    folder = kustomization(tmp_path)
    write(tmp_path / "plain.yaml", manifest("plain"))
    result = load_manifests([str(tmp_path)], recursive=True)
    assert names(result) == ["pre-settings", "plain"]
    assert result.documents[0].source == Source(str(folder), 1)  # no line: rendered output


@needs_kubectl
def test_kustomize_failure_names_the_directory(tmp_path: Path) -> None:
    folder = kustomization(tmp_path, "[missing.yaml]")
    result = load_manifests([str(folder)])
    [diagnostic] = result.diagnostics
    assert diagnostic.source == Source(str(folder), 0)
    assert diagnostic.message.startswith("kubectl kustomize failed: ")
    assert "missing.yaml" in diagnostic.message
    assert result.invalid == 1


def test_kustomization_without_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = kustomization(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    [diagnostic] = load_manifests([str(folder)]).diagnostics
    assert diagnostic.severity is Severity.ERROR
    assert diagnostic.source.file == str(folder)
    assert "kubectl is not on PATH" in diagnostic.message
    with pytest.raises(InputError, match=f"^{re.escape(str(folder))}: cannot render "):
        load_manifests([str(folder)], strict=True)


# --- Helm and template-like text ------------------------------------------------------------

HELM_VALUES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "{{ .Release.Name }}-web"
spec:
  replicas: "{{ .Values.replicas }}"
"""

HELM_CONTROL = """\
{{- if .enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
{{- end }}
"""

ALERTMANAGER = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: alert-templates
data:
  slack.tmpl: |
    {{ define "slack.text" }}
    {{- range .Alerts }}{{ .Labels.alertname }} {{ template "x" . }}{{ end }}
    {{ end }}
  rules.yaml: 'summary: "{{ $value }} errors on {{ $labels.instance }}"'
"""


@pytest.mark.parametrize("text", [HELM_VALUES, HELM_CONTROL], ids=["values", "control"])
def test_helm_template_is_skipped_with_one_warning(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "templates" / "deploy.yaml", text)
    result = load_manifests([path, write(tmp_path / "ok.yaml", manifest("ok"))])
    assert names(result) == ["ok"]
    [warning] = result.diagnostics
    assert warning.severity is Severity.WARNING
    assert warning.source == Source(path, 0)
    assert "helm template" in warning.message
    assert result.invalid == 0


def test_go_templates_inside_configmap_data_load(tmp_path: Path) -> None:
    result = load_manifests([write(tmp_path / "cm.yaml", ALERTMANAGER)])
    assert names(result) == ["alert-templates"]
    assert result.diagnostics == []


def test_broken_yaml_with_embedded_templates_is_a_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path / "cm.yaml", ALERTMANAGER + "  bad: [unclosed\n")
    [diagnostic] = load_manifests([path]).diagnostics
    assert diagnostic.severity is Severity.ERROR
    assert "YAML syntax error at line" in diagnostic.message


def test_otel_demo_with_grafana_legends_loads_cleanly() -> None:
    result = load_manifests([str(corpus("otel-demo", "opentelemetry-demo.yaml"))])
    assert result.diagnostics == []
    assert len(result.documents) > 50


@pytest.mark.parametrize("case", CORPUS_CASES)
def test_every_corpus_case_loads_without_errors(case: str) -> None:
    result = load_manifests([str(corpus(case))], recursive=True)
    assert errors(result) == []
    assert result.invalid == 0
    assert result.documents


# --- bad input: one error each, the rest still loads ----------------------------------------

# Nine levels of ten aliases each: a billion nodes once expanded, from a few hundred bytes.
BOMB_LEVELS = ["&l0 [" + ", ".join(["x"] * 10) + "]"] + [
    f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 9)]
BLOCK_BOMB = "".join(f"k{i}: {level}\n" for i, level in enumerate(BOMB_LEVELS))
# JSON-style keys let an anchor follow `:` directly, which the anchor pre-check must not miss.
FLOW_BOMB = "{" + ", ".join(f'"k{i}":{level}' for i, level in enumerate(BOMB_LEVELS)) + "}"

BAD_FILES: dict[str, tuple[str, str | bytes, str]] = {
    # id: (file name, content, expected fragment of the message)
    "yaml-syntax": ("bad.yaml", "apiVersion: v1\nkind: ConfigMap\n  metadata: x\n  - y\n",
                    "YAML syntax error at line 3"),
    "json-syntax": ("bad.json", '{\n  "apiVersion": "v1",\n  "kind": \n}\n',
                    "JSON syntax error at line 4"),
    "not-a-mapping": ("list.yaml", "- a\n- b\n", "not a mapping (a Kubernetes object) but a list"),
    "scalar-json": ("scalar.json", "[1, 2]", "not a mapping"),
    "no-api-version": ("x.yaml", "kind: Service\nmetadata: {name: x}\n", "missing apiVersion"),
    "kind-not-string": ("x.yaml", "apiVersion: v1\nkind: [a]\nmetadata: {name: x}\n",
                        "kind is not a non-empty string"),
    "no-name": ("x.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {generateName: x-}\n",
                "Pod has no metadata.name (generateName"),
    "no-metadata": ("x.yaml", "apiVersion: v1\nkind: Pod\n", "Pod has no metadata.name"),
    "items-not-list": ("x.yaml", "apiVersion: v1\nkind: List\nitems: {a: 1}\n",
                       "`items` that is not a list"),
    "binary": ("x.yaml", b"apiVersion: v1\x00\x01\x02", "binary file"),
    "not-utf8": ("x.yaml", b"apiVersion: v1\nkind: \xff\xfe\n", "not UTF-8 text (invalid byte "
                 "at line 2)"),
    "control-char": ("x.yaml", "apiVersion: v1\nkind: \x07\n", "YAML syntax error at line 2"),
    "bad-date": ("x.yaml", manifest("x") + "data: {d: 2001-02-30}\n", "invalid YAML value"),
    "empty-int-tag": ("x.yaml", manifest("x") + "data: {d: !!int }\n", "invalid YAML value"),
    "unhashable-key": ("x.yaml", manifest("x") + "data: {[a]: b}\n", "invalid YAML value at line"),
    "undefined-alias": ("x.yaml", manifest("x") + "data: *nothing\n",
                        "YAML syntax error at line 5"),
    "alias-bomb": ("bomb.yaml", BLOCK_BOMB, f"over the limit of {MAX_ALIAS_NODES}"),
    "flow-alias-bomb": ("bomb.yaml", FLOW_BOMB, f"over the limit of {MAX_ALIAS_NODES}"),
    "recursive-alias": ("loop.yaml", manifest("x") + "data: &d {self: *d}\n",
                        "recursive YAML alias"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_gives_one_error_and_loading_continues(tmp_path: Path, case: str) -> None:
    name, content, fragment = BAD_FILES[case]
    bad = write(tmp_path / name, content)
    good = write(tmp_path / "zz-good.yaml", manifest("good"))
    result = load_manifests([bad, good])
    assert names(result) == ["good"]
    [diagnostic] = result.diagnostics
    assert diagnostic.severity is Severity.ERROR
    assert diagnostic.source.file == bad
    assert bad in str(diagnostic)
    assert fragment in diagnostic.message
    assert result.invalid == 1

    with pytest.raises(InputError) as raised:
        load_manifests([bad, good], strict=True)
    assert str(raised.value) == f"{diagnostic.source}: {diagnostic.message}"


def test_a_bad_document_is_skipped_and_its_neighbours_load(tmp_path: Path) -> None:
    path = write(tmp_path / "mixed.yaml", manifest("one") + "---\nkey: [unclosed\n---\n"
                 + manifest("three") + "---\n" + "apiVersion: v1\nkind: Pod\n---\n"
                 + manifest("five") + "data: {d: 2001-02-30}\n---\n" + manifest("six"))
    result = load_manifests([path])
    assert [(d.source.doc, d.body["metadata"]["name"]) for d in result.documents] == [
        (1, "one"), (3, "three"), (6, "six")]
    assert [(d.source.doc, d.message.split(":")[0]) for d in result.diagnostics] == [
        (2, "YAML syntax error at line 7"), (4, "Pod has no metadata.name"),
        (5, "invalid YAML value")]
    assert result.invalid == 3


def test_bad_item_of_a_list_names_the_item(tmp_path: Path) -> None:
    path = write(tmp_path / "list.yaml", "apiVersion: v1\nkind: List\nitems:\n- "
                 + manifest("ok").replace("\n", "\n  ") + "\n- {apiVersion: v1, kind: Pod}\n")
    result = load_manifests([path])
    assert names(result) == ["ok"]
    bad_line = Path(path).read_text().splitlines().index("- {apiVersion: v1, kind: Pod}") + 1
    assert [d.source for d in result.diagnostics] == [Source(path, 1, 2, bad_line)]


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = write(tmp_path / "big.yaml", manifest("big") + "#" * 100 + "\n")
    [diagnostic] = load_manifests([path], max_file_bytes=64).diagnostics
    assert diagnostic.message.startswith("file is ")
    assert "over the limit of 64 bytes" in diagnostic.message
    stdin = io.BytesIO(manifest("big").encode())
    [piped] = load_manifests(["-"], stdin=stdin, max_file_bytes=16).diagnostics
    assert piped.source == Source("-", 0)


def test_dangling_symlink_in_a_directory(tmp_path: Path) -> None:
    """A diagnostic beside the files that read, saying what the link is: `ls` shows the name,
    so the OS's "No such file or directory" would contradict it."""
    write(tmp_path / "a.yaml", manifest("a"))
    (tmp_path / "gone.yaml").symlink_to("elsewhere/nowhere.yaml")
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    result = load_manifests([str(tmp_path)])
    assert names(result) == ["a"]
    assert [(d.source, d.message) for d in result.diagnostics] == [
        (Source(str(tmp_path / "gone.yaml"), 0),
         "a symbolic link to elsewhere/nowhere.yaml, which does not exist"),
        (Source(str(tmp_path / "loop.yaml"), 0), "a loop of symbolic links")]


def test_fifo_in_a_directory_is_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    write(tmp_path / "a.yaml", manifest("a"))
    result = load_manifests([str(tmp_path)])
    assert names(result) == ["a"]
    assert [d.message for d in result.diagnostics] == ["not a regular file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_and_directory(tmp_path: Path) -> None:
    secret = Path(write(tmp_path / "secret.yaml", manifest("s")))
    locked = tmp_path / "locked"
    write(locked / "x.yaml", manifest("x"))
    write(tmp_path / "ok.yaml", manifest("ok"))
    secret.chmod(0)
    locked.chmod(0)
    try:
        result = load_manifests([str(tmp_path)], recursive=True)
    finally:
        locked.chmod(0o755)
    assert names(result) == ["ok"]
    assert sorted(d.message for d in result.diagnostics) == [
        "cannot read directory: Permission denied", "cannot read: Permission denied"]


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^path not found: .*nope\.yaml$"):
        load_manifests([write(tmp_path / "ok.yaml", manifest("ok")), str(tmp_path / "nope.yaml")])


def test_a_broken_symbolic_link_is_not_called_missing(tmp_path: Path) -> None:
    # `ls` lists both: "path not found" would send the user looking for a typo.
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    (tmp_path / "gone.yaml").symlink_to("elsewhere/gone.yaml")
    with pytest.raises(InputError, match=r"^.*loop\.yaml: a loop of symbolic links$"):
        load_manifests([str(tmp_path / "loop.yaml")])
    with pytest.raises(InputError, match=r"^.*gone\.yaml: a symbolic link to "
                                         r"elsewhere/gone\.yaml, which does not exist$"):
        load_manifests([str(tmp_path / "gone.yaml")])


@pytest.mark.parametrize("content", ["", "# just a comment\n---\n", "\n\n"])
def test_no_objects_at_all_is_an_input_error(tmp_path: Path, content: str) -> None:
    path = write(tmp_path / "empty.yaml", content)
    with pytest.raises(InputError, match=r"^no Kubernetes objects found in: "):
        load_manifests([path])
    with pytest.raises(InputError, match=r"^no Kubernetes objects found in: -$"):
        load_manifests(["-"], stdin=io.BytesIO(content.encode()))


def test_only_invalid_documents_return_their_diagnostics(tmp_path: Path) -> None:
    result = load_manifests([write(tmp_path / "x.yaml", "- 1\n")])
    assert result.documents == []
    assert result.invalid == 1


# --- property: arbitrary input never escapes as anything but InputError ---------------------

# Fragments that reach deeper into the loader than random bytes do.
YAMLISH = st.lists(st.sampled_from([
    *"ab1:-{}[],&*!|>'\"#% \n\t?@`\\.",
    "\n---\n", "apiVersion: v1\n", "kind: List\n", "items:\n", "metadata:\n  name: n\n",
    "&a ", "*a ", "<<: ", "{{ .Values.x }}", "2001-02-30", "!!binary ", "!!set ", "\x00"]),
    max_size=60).map("".join)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """One folder for all examples: hypothesis reruns the test body, not function fixtures."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


@settings(max_examples=300, deadline=None)
# An error that libyaml places past the last line break once sent resumption back to the start.
@example(content=b"?,\n---\nbmetadata:\n  name: n\n:\\", suffix=".yaml", strict=False)
@given(content=st.one_of(st.binary(max_size=400), YAMLISH.map(str.encode)),
       suffix=st.sampled_from([".yaml", ".json", ".txt"]), strict=st.booleans())
def test_arbitrary_bytes_give_diagnostics_or_input_error(
        scratch: Path, content: bytes, suffix: str, strict: bool) -> None:
    path = write(scratch / f"input{suffix}", content)
    try:
        result = load_manifests([path], strict=strict)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert result.documents or result.diagnostics
    assert result.invalid == len(errors(result))


# --- files read by this process and forked helpers at once ---------------------------------

PARENT_PID = os.getpid()
READ_UNIT = manifests._read_unit
READ_IN_HELPER = manifests._read_in_helper


class Readers:
    """Who read which file since the fixture started: helper processes (they append to a log
    file, being other processes) and this one; and how many helpers each load started."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.here: list[str] = []
        self.started: list[int] = []

    def helpers(self) -> list[str]:
        """The files read by helpers, sorted."""
        return sorted(self.log.read_text().split()) if self.log.exists() else []

    def everything(self) -> list[str]:
        """Every file read, by a helper or here, sorted: each once."""
        return sorted(self.helpers() + self.here)


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Readers:
    """Helpers for any two files, even on a 1-core machine; records who read what."""
    from planner.sources import shared_reading

    readers = Readers(tmp_path_factory.mktemp("readers") / "helpers.log")
    monkeypatch.setattr(manifests, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delenv("PLANNER_JOBS", raising=False)

    def in_helper(unit: Any, max_file_bytes: int) -> Any:
        with open(readers.log, "a", encoding="utf-8") as log:
            log.write(unit.path + "\n")
        return READ_IN_HELPER(unit, max_file_bytes)

    def here(unit: Any, stdin: Any, max_file_bytes: int) -> LoadResult:
        if unit.path != "-":
            readers.here.append(unit.path)
        return READ_UNIT(unit, stdin, max_file_bytes)

    init = shared_reading.SharedReading.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        readers.started.append(kwargs["helpers"])
        init(self, *args, **kwargs)

    monkeypatch.setattr(manifests, "_read_in_helper", in_helper)
    monkeypatch.setattr(manifests, "_read_unit", here)
    monkeypatch.setattr(shared_reading.SharedReading, "__init__", counting)
    return readers


@pytest.fixture
def slow_parent(pool: Readers, monkeypatch: pytest.MonkeyPatch) -> Readers:
    """``pool``, with this process reading slowly while helpers run, so that the helpers take
    the files from the front: the tests of what happens in a helper then do not depend on
    which process is quicker."""
    import multiprocessing

    read_here = manifests._read_unit

    def slow(unit: Any, stdin: Any, max_file_bytes: int) -> LoadResult:
        if multiprocessing.active_children():
            import time

            time.sleep(1)
        return read_here(unit, stdin, max_file_bytes)

    monkeypatch.setattr(manifests, "_read_unit", slow)
    return pool


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cluster")
    subprocess.run([sys.executable, str(ROOT / "sample_clusters" / "generate.py"),
                    "--namespaces", "20", "--services", "50", "--seed", "3", "--out", str(out)],
                   check=True, capture_output=True)
    return out / "manifests"


def serial_load(monkeypatch: pytest.MonkeyPatch, paths: list[str], **options: Any) -> LoadResult:
    with monkeypatch.context() as patch:
        patch.setenv("PLANNER_JOBS", "1")
        return load_manifests(paths, **options)


def mixed_folder(folder: Path) -> list[str]:
    """Good files, bad documents, a Helm template and a JSON file, in that name order."""
    write(folder / "a.yaml", manifest("a") + "---\n" + manifest("a2", "Service"))
    write(folder / "b.yaml", manifest("b") + "---\nkey: [unclosed\n")
    write(folder / "c.yaml", HELM_VALUES)
    write(folder / "d.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"kind": "Pod"}, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "d"}}]}))
    write(folder / "e.yaml", "- not a mapping\n")
    write(folder / "f.yaml", manifest("f"))
    return [str(folder)]


def test_generated_cluster_read_here_and_in_a_helper_equals_serial(
        cluster: Path, pool: Readers, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    parallel = load_manifests([str(cluster)], progress=lambda *call: calls.append(call))
    files = sorted(str(p) for p in cluster.glob("*.yaml"))
    assert pool.started == [1]  # one helper beside this process on 2 cores
    # Each file read once, by whichever process came to it first.
    assert pool.everything() == files
    assert calls == [(done, len(files)) for done in range(1, len(files) + 1)]
    serial = serial_load(monkeypatch, [str(cluster)])
    assert pool.started == [1]  # PLANNER_JOBS=1 started no helper
    assert len(parallel.documents) > 2000
    assert parallel == serial


def test_helpers_take_the_front_and_this_process_the_back(
        cluster: Path, slow_parent: Readers) -> None:
    files = sorted(str(p) for p in cluster.glob("*.yaml"))
    load_manifests([str(cluster)])
    helpers = slow_parent.helpers()
    assert helpers and slow_parent.here
    # The two ends meet: the helper's files all come before this process's.
    assert helpers == files[:len(helpers)] and sorted(slow_parent.here) == files[len(helpers):]


def test_a_thread_hands_compiled_yaml_to_one_worker_process(
        cluster: Path, pool: Readers, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled parser will not run in a process with other threads (it borrows descriptor
    2, where a TUI draws). A load from a thread (the TUI's analysis worker) with
    PLANNER_JOBS=1 therefore goes to one helper process that reads every file, not to PyYAML
    in the thread (three times as slow), and reads the same."""
    from planner.sources import yaml_stream

    serial = serial_load(monkeypatch, [str(cluster)])
    assert pool.started == []
    monkeypatch.setenv("PLANNER_JOBS", "1")

    def no_pyyaml(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the YAML went to PyYAML")

    monkeypatch.setattr(yaml_stream, "parse_yaml", no_pyyaml)
    pool.here.clear()
    found: list[LoadResult] = []
    thread = threading.Thread(target=lambda: found.append(load_manifests([str(cluster)])))
    thread.start()
    thread.join()
    assert pool.started == [1] and pool.here == []
    assert pool.helpers() == sorted(str(p) for p in cluster.glob("*.yaml"))
    assert found == [serial]


def test_generated_cluster_scan_json_is_byte_identical(
        cluster: Path, pool: Readers) -> None:
    args = ["scan", "-f", str(cluster), "-o", "json"]
    parallel = CliRunner().invoke(cli, args)
    assert parallel.exit_code == 0, parallel.output
    assert pool.started
    serial = CliRunner().invoke(cli, args, env={"PLANNER_JOBS": "1"})
    assert serial.exit_code == 0, serial.output
    assert parallel.stdout_bytes == serial.stdout_bytes


def test_helpers_keep_diagnostics_order_and_strict_first_error(
        tmp_path: Path, slow_parent: Readers, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = mixed_folder(tmp_path)
    parallel = load_manifests(paths)
    assert slow_parent.helpers() and len(slow_parent.everything()) == 6
    assert parallel == serial_load(monkeypatch, paths)
    assert parallel.invalid == 3
    with pytest.raises(InputError) as raised:
        load_manifests(paths, strict=True)
    assert str(raised.value).startswith(f"{tmp_path / 'b.yaml'} (document 2): YAML syntax ")
    with pytest.raises(InputError) as serially:
        serial_load(monkeypatch, paths, strict=True)
    assert str(serially.value) == str(raised.value)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_each_files_documents_are_handed_over_in_order(
        cluster: Path, pool: Readers, monkeypatch: pytest.MonkeyPatch, jobs: str) -> None:
    monkeypatch.setenv("PLANNER_JOBS", jobs)
    handed: list[list[RawDocument]] = []
    result = load_manifests([str(cluster)], on_documents=handed.append)
    assert bool(pool.started) is (jobs == "2")
    assert len(handed) == len(list(cluster.glob("*.yaml")))
    assert [doc for documents in handed for doc in documents] == result.documents
    assert all(len({doc.source.file for doc in documents}) == 1 for documents in handed)


def test_helpers_send_back_the_same_values_and_types(
        tmp_path: Path, slow_parent: Readers, monkeypatch: pytest.MonkeyPatch) -> None:
    # What orjson read comes back from a helper as JSON; anything else is pickled. Values that
    # compare equal across types (1, 1.0, True) must not change type on the way: repr tells.
    monkeypatch.setattr(manifests, "COMPILED_MIN_BYTES", 0)
    odd = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "odd", "labels": {}},
           "data": {"é": "ü\u2028"}, "n": [1, 1.0, -0.0, True, None, 1.5e300, 2**64 - 1,
                                            -(2**63), [[]], {}],
           "big": 2**64}
    paths = [write(tmp_path / "a.json", json.dumps(odd)),
             write(tmp_path / "b.yaml", manifest("b") + "---\n" + manifest("c", "Service")),
             # Read by PyYAML and by the json module (a stream): infinity, which orjson
             # would write as null, so these are pickled.
             write(tmp_path / "c.yaml", manifest("d") + "  at: .inf\n"),
             write(tmp_path / "d.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata":'
                   ' {"name": "e"}, "x": 1E400} {"apiVersion": "v1", "kind": "Secret",'
                   ' "metadata": {"name": "f"}}'),
             # Read here while the helper reads the others.
             write(tmp_path / "e.yaml", manifest("g"))]
    parallel = load_manifests(paths)
    assert slow_parent.helpers() == sorted(paths[:4])
    serial = serial_load(monkeypatch, paths)
    assert repr(parallel) == repr(serial)
    assert len(parallel.documents) == 7 and parallel.documents[0].body["big"] == float(2**64)
    assert parallel.documents[4].body["x"] == float("inf")
    shipped = [type(READ_IN_HELPER(unit, 1 << 20)).__name__
               for unit in manifests._discover(paths, False, manifests._Collector(False))]
    assert shipped == ["_Shipped", "_Shipped", "LoadResult", "LoadResult", "_Shipped"]


def test_stdin_between_files_is_read_here_in_order(tmp_path: Path, slow_parent: Readers) -> None:
    first = write(tmp_path / "1.yaml", manifest("one"))
    last = write(tmp_path / "3.yaml", manifest("three"))
    result = load_manifests([first, "-", last], stdin=io.BytesIO(manifest("two").encode()))
    assert names(result) == ["one", "two", "three"]
    # stdin is never handed to a helper; the files are shared.
    assert slow_parent.everything() == [first, last] and slow_parent.helpers()


@pytest.mark.parametrize("jobs, helpers", [("1", []), ("2", [1]), ("many", [1]), ("0", [1])])
def test_planner_jobs_caps_helpers(tmp_path: Path, pool: Readers,
                                   monkeypatch: pytest.MonkeyPatch, jobs: str,
                                   helpers: list[int]) -> None:
    monkeypatch.setenv("PLANNER_JOBS", jobs)
    paths = [write(tmp_path / f"{n}.yaml", manifest(n)) for n in "ab"]
    assert names(load_manifests(paths)) == ["a", "b"]
    assert pool.started == helpers


def test_more_cores_start_more_helpers(tmp_path: Path, pool: Readers,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    paths = [write(tmp_path / f"{n}.yaml", manifest(n)) for n in "abcdefgh"]
    assert names(load_manifests(paths)) == list("abcdefgh")
    assert pool.started == [3] and pool.everything() == sorted(paths)


def test_small_inputs_and_single_files_stay_serial(
        tmp_path: Path, pool: Readers, monkeypatch: pytest.MonkeyPatch) -> None:
    load_manifests([write(tmp_path / "only.yaml", manifest("only"))])
    monkeypatch.setattr(manifests, "PARALLEL_MIN_BYTES", 1024)
    load_manifests(mixed_folder(tmp_path / "small"))
    assert pool.started == []


def _failing_reads(logged: Any) -> dict[str, Any]:
    """Helper reads that fail on b.yaml, after ``logged`` (the fixture's) recorded it."""

    def dying(unit: Any, max_file_bytes: int) -> Any:
        result = logged(unit, max_file_bytes)
        if os.getpid() != PARENT_PID and unit.path.endswith("b.yaml"):
            os._exit(9)  # as if the OOM killer took the helper
        return result

    def unpicklable(unit: Any, max_file_bytes: int) -> Any:
        result = logged(unit, max_file_bytes)
        if os.getpid() != PARENT_PID and unit.path.endswith("b.yaml"):
            part = READ_UNIT(unit, None, max_file_bytes)
            part.documents.append(RawDocument(Source(unit.path), {"lock": threading.Lock()}))
            return part
        return result

    return {"helper-killed": dying, "unpicklable": unpicklable}


def _no_semaphores(*args: Any, **kwargs: Any) -> Any:
    raise OSError(38, "Function not implemented")


def _no_fork(*args: Any, **kwargs: Any) -> Any:
    raise OSError(11, "Resource temporarily unavailable")


@pytest.mark.parametrize("failure", ["no-semaphores", "no-fork", "helper-killed", "unpicklable"])
def test_helper_failure_falls_back_to_reading_here_silently(
        tmp_path: Path, slow_parent: Readers, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str], failure: str) -> None:
    import multiprocessing.context

    paths = mixed_folder(tmp_path)
    expected = serial_load(monkeypatch, paths)
    fork = multiprocessing.get_context("fork")
    patches = {"no-semaphores": (type(fork), "Lock", _no_semaphores),
               "no-fork": (multiprocessing.context.ForkProcess, "start", _no_fork),
               **{name: (manifests, "_read_in_helper", read) for name, read
                  in _failing_reads(manifests._read_in_helper).items()}}
    monkeypatch.setattr(*patches[failure])
    calls: list[tuple[int, int]] = []
    result = load_manifests(paths, progress=lambda *call: calls.append(call))
    assert result == expected
    assert calls == [(done, 6) for done in range(1, 7)]
    assert capfd.readouterr().err == ""
    assert not multiprocessing.active_children()
    if failure in ("helper-killed", "unpicklable"):
        # The helper took b.yaml and never sent it: this process read it again.
        assert str(tmp_path / "b.yaml") in slow_parent.helpers()
        assert str(tmp_path / "b.yaml") in slow_parent.here
    else:
        assert slow_parent.started and not slow_parent.helpers()
