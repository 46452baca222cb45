"""Exit codes and messages a user meets on bad input, each as kubectl would have it: an input
with no usable document exits 4 with no output, duplicate keys refuse the document (YAML and
JSON), a date read where a name belongs is named as such, YAML in a .json file is read as
YAML."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from planner.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


ALL_BAD = ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
           "spec: {ports: [{port: '80'}]}\n---\nkind: ConfigMap\n")


@pytest.mark.parametrize("command", ["scan", "plan", "report"])
def test_no_usable_document_exits_4_with_no_output(tmp_path: Path, command: str) -> None:
    path = write(tmp_path / "bad.yaml", ALL_BAD)
    result = run(command, "-f", path)
    assert result.returncode == ExitCode.INPUT_ERROR, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"planner: error: {path}:1 (document 1): Service default/a: spec.ports[0].port must "
        "be an integer, got string '80'",
        f"planner: error: {path}:6 (document 2): missing apiVersion",
        f"planner: error: no usable document in {path}: all 2 invalid"]


def test_the_list_of_unusable_documents_is_redacted_like_any_diagnostic(
        tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", ALL_BAD.replace(
        "'80'", "'postgres://admin:hunter2@db:5432'"))
    result = run("scan", "-f", path)
    assert result.returncode == ExitCode.INPUT_ERROR
    assert "hunter2" not in result.stderr and "admin:REDACTED@db" in result.stderr


def test_one_bad_document_alone_reads_as_its_strict_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "kind: ConfigMap\n")
    result = run("plan", "-f", path)
    strict = run("plan", "-f", path, "--strict")
    assert result.returncode == strict.returncode == ExitCode.INPUT_ERROR
    assert result.stderr == strict.stderr == f"planner: error: {path}:1 (document 1): " \
                                             "missing apiVersion\n"
    assert result.stdout == ""


def test_one_good_document_keeps_exit_3_and_the_output(tmp_path: Path) -> None:
    path = write(tmp_path / "mixed.yaml", ALL_BAD + "---\napiVersion: v1\nkind: ConfigMap\n"
                 "metadata: {name: ok}\n")
    result = run("scan", "-f", path, "-o", "json")
    assert result.returncode == ExitCode.INVALID_INPUT and '"name": "ok"' in result.stdout


def test_duplicate_keys_refuse_the_document_naming_file_document_and_key(
        tmp_path: Path) -> None:
    path = write(tmp_path / "dup.yaml", (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {x: '1', x: '2'}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: merged}\n"
        "data:\n  <<: {k: '1'}\n  k: '2'\n"))
    result = run("scan", "-f", path, "-o", "json")
    assert result.returncode == ExitCode.INVALID_INPUT
    assert result.stderr.splitlines() == [
        f"planner: error: {path} (document 2): duplicate key 'name' at line 9, first at line 8 "
        "(kubectl refuses duplicate keys)",
        f"planner: error: {path} (document 3): duplicate key 'x' at line 14, first at line 14 "
        "(kubectl refuses duplicate keys)"]
    # The documents around them still load; a merge key may be overridden, as in kubectl.
    assert '"name": "first"' in result.stdout and '"name": "merged"' in result.stdout


CM = '"apiVersion": "v1", "kind": "ConfigMap", '


def test_json_duplicate_keys_refuse_the_document_naming_file_key_and_object(
        tmp_path: Path) -> None:
    """kubectl refuses a key given twice in JSON too. orjson, which reads a single JSON value,
    keeps the last one silently; the loader sees it and names the key and where it is."""
    one = write(tmp_path / "one.json", "{" + CM + '"metadata": {"name": "a", "name": "b"}}\n')
    result = run("scan", "-f", one, "-o", "json")
    assert result.returncode == ExitCode.INPUT_ERROR and result.stdout == ""
    assert result.stderr == (f"planner: error: {one}:1 (document 1): duplicate key 'name' in "
                             "metadata (kubectl refuses duplicate keys)\n")
    # A `kubectl get -o json` List: the item is named by its index.
    listed = write(tmp_path / "list.json", (
        '{"apiVersion": "v1", "kind": "List", "items": [{' + CM + '"metadata": {"name": "x"}},'
        "{" + CM + '"metadata": {"name": "y"}, "data": {"k": "1", "k": "2"}}]}'))
    result = run("scan", "-f", listed)
    assert result.returncode == ExitCode.INPUT_ERROR
    assert "duplicate key 'k' in items[1].data" in result.stderr
    # A stream of values: that document goes, the others load (exit 3). The same key spelt
    # with an escape is the same key.
    stream = write(tmp_path / "stream.json", (
        "{" + CM + '"metadata": {"name": "s1"}}\n'
        "{" + CM + '"metadata": {"name": "s2"}, "data": {"a:b": "1", "a\\u003ab": "2"}}\n'
        "{" + CM + '"metadata": {"name": "s3"}}\n'))
    result = run("scan", "-f", stream, "-o", "json")
    assert result.returncode == ExitCode.INVALID_INPUT
    assert result.stderr.splitlines() == [
        f"planner: error: {stream}:2 (document 2): duplicate key 'a:b' in data (kubectl "
        "refuses duplicate keys)"]
    assert '"name": "s1"' in result.stdout and '"name": "s3"' in result.stdout


@pytest.mark.parametrize("data", [
    '{"url": "http://a:80/x:y", "n\\u0061me": "q"}',   # colons in strings, an escaped key
    '{"a\\u003ab": "1", "c": "2"}',                   # an escaped colon: read carefully
    '{"k": ' + "[" * 300 + "1" + "]" * 300 + "}",        # too deep for orjson to write back
])
def test_json_without_duplicates_loads_whatever_its_colons(tmp_path: Path, data: str) -> None:
    from planner.sources.manifests import load_manifests

    path = write(tmp_path / "cm.json", "{" + CM + '"metadata": {"name": "c"}, "data": '
                 + data + "}")
    loaded = load_manifests([path])
    assert not loaded.diagnostics and [d.body["metadata"]["name"]
                                       for d in loaded.documents] == ["c"]


@pytest.mark.parametrize(("name", "kind"), [("2001-01-01", "a date"), ("0123", "a number"),
                                            ("{a: 1}", "a mapping"), ("yes", "a boolean")])
def test_a_name_yaml_reads_as_another_type_is_named_as_such(tmp_path: Path, name: str,
                                                            kind: str) -> None:
    path = write(tmp_path / "cm.yaml", f"apiVersion: v1\nkind: ConfigMap\n"
                                       f"metadata:\n  name: {name}\n")
    result = run("scan", "-f", path)
    assert result.returncode == ExitCode.INPUT_ERROR
    assert result.stderr == (f"planner: error: {path}:1 (document 1): ConfigMap metadata.name "
                             f"is {kind}, not a string: quote it\n")


def test_yaml_in_a_json_file_is_read_as_kubectl_reads_it(tmp_path: Path) -> None:
    path = write(tmp_path / "cm.json", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    result = run("scan", "-f", path, "-o", "json")
    assert result.returncode == 0, result.stderr
    assert '"name": "a"' in result.stdout
    # JSON that is broken is still reported as JSON.
    broken = write(tmp_path / "broken.json", '{"apiVersion": "v1",\n')
    result = run("scan", "-f", broken)
    assert result.returncode == ExitCode.INPUT_ERROR
    assert result.stderr.startswith(f"planner: error: {broken} (document 1): JSON syntax error "
                                    "at line 2")


def test_the_service_raises_an_unusable_input_already_redacted(tmp_path: Path) -> None:
    # The TUI shows the error's text as it is: the service redacts it, not only the CLI.
    from planner.errors import NoUsableInput
    from planner.service import ManifestInput, scan

    path = write(tmp_path / "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
                 "spec: {ports: [{port: 'postgres://admin:hunter2@db:5432'}]}\n")
    with pytest.raises(NoUsableInput) as raised:
        scan(ManifestInput((path,)))
    assert "hunter2" not in str(raised.value) and "REDACTED" in str(raised.value)
    assert raised.value.details == ()
