"""The compiled YAML path (rapidyaml) gives exactly the documents of the PyYAML reader, or
steps aside; and what both give, compared with what kubectl gives, case by case."""

from __future__ import annotations

import datetime
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.sources import manifests, yaml_compiled
from planner.sources.manifests import MAX_ALIAS_NODES, load_manifests
from planner.sources.yaml_compiled import compiled_documents
from planner.sources.yaml_stream import parse_yaml
from tests.shared_data import CORPUS_CASES, corpus
from tests.sources.test_manifests import YAMLISH

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FILES = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "sample_clusters").rglob("*")
                      if path.suffix in (".yaml", ".yml"))


def read_alike(text: str) -> bool:
    """Assert that the compiled path gives PyYAML's documents (types included) or steps
    aside; whether it took the text."""
    compiled = compiled_documents(text)
    if compiled is None:
        return False
    expected = parse_yaml(text, max_alias_nodes=MAX_ALIAS_NODES)
    assert compiled == expected
    assert [type(doc.body) for doc in compiled] == [type(doc.body) for doc in expected]
    assert _types(compiled) == _types(expected)  # 1 and 1.0 and True compare equal
    return True


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_types(item) for item in value]
    return type(value).__name__


# --- the same documents ---------------------------------------------------------------------

def test_every_sample_cluster_file_reads_alike() -> None:
    taken = sum(read_alike((ROOT / name).read_text(encoding="utf-8-sig"))
                for name in SAMPLE_FILES)
    # Most samples hold nothing YAML-1.1-sensitive: the compiled path must take them.
    assert taken >= 0.8 * len(SAMPLE_FILES), (taken, len(SAMPLE_FILES))


def test_every_corpus_file_reads_alike() -> None:
    files = sorted(path for case in CORPUS_CASES for path in corpus(case).rglob("*")
                   if path.suffix in (".yaml", ".yml"))
    taken = sum(read_alike(path.read_text(encoding="utf-8-sig")) for path in files)
    assert taken >= 0.8 * len(files), (taken, len(files))


def test_generated_cluster_is_read_compiled_and_alike(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "sample_clusters"))
    try:
        import generate
    finally:
        sys.path.remove(str(ROOT / "sample_clusters"))
    generate.generate(3, 40, seed=7, out=tmp_path, fmt="yaml")
    files = sorted((tmp_path / "manifests").glob("*.yaml"))
    assert files and all(read_alike(path.read_text(encoding="utf-8")) for path in files)


def test_a_load_is_the_same_with_and_without_the_compiled_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole loads (objects, lines, diagnostics) with the compiled path and with
    PLANNER_YAML=pyyaml: a clean file, a file with YAML 1.1 booleans, a duplicate key and a
    syntax error, and JSON in a .yaml file."""
    clean = "".join(f"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s{i}\n"
                    f"  labels: {{app: s{i}, tier: web}}\nspec:\n  ports:\n  - port: {80 + i}\n"
                    for i in range(2000))
    (tmp_path / "a.yaml").write_text(clean)
    (tmp_path / "b.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  on: yes\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  name: e\n---\n"
        "apiVersion: v1\nkind: [\n")
    (tmp_path / "c.yaml").write_text('{"apiVersion": "v1", "kind": "Namespace", '
                                     '"metadata": {"name": "n"}}\n')
    taken: list[bool] = []
    real = yaml_compiled.compiled_documents
    monkeypatch.setattr(yaml_compiled, "compiled_documents",
                        lambda text: taken.append((result := real(text)) is not None) or result)
    monkeypatch.setenv(manifests.JOBS_ENV, "1")
    compiled = load_manifests([str(tmp_path)])
    assert taken == [True, False, True]  # b.yaml read by PyYAML
    monkeypatch.setenv(manifests.YAML_ENV, "pyyaml")
    taken.clear()
    assert load_manifests([str(tmp_path)]) == compiled
    assert taken == []
    assert len(compiled.documents) == 2002
    assert [d.located for d in compiled.diagnostics] == [
        f"{tmp_path / 'b.yaml'} (document 2): duplicate key 'name' at line 12, first at line "
        "11 (kubectl refuses duplicate keys)",
        f"{tmp_path / 'b.yaml'} (document 3): YAML syntax error at line 16: did not find "
        "expected node content"]


def test_small_loads_do_not_import_the_compiled_parser(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n")
    code = ("import sys; from planner.sources.manifests import load_manifests; "
            f"load_manifests([{str(tmp_path)!r}]); print('ryml' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "False"


# --- fuzzed inputs: the loader's own fuzz alphabet, and manifest-shaped documents -----------

_SCALARS = st.sampled_from([
    "web", "a b", "x-y", "v1.2.3", "http://h:80/p", "a:b", "a#b", "it's", "q\"q", "", " lead",
    "trail ", "80", "1.5", "-3", "0", "true", "null", "key=val", "--x", "a,b", "[x]", "{y}",
    "line1\nline2", "blank\n\nline", "ends\n", "\\back", "ü∑", "x" * 40, "yes", "0755"])


@st.composite
def _scalar(draw: st.DrawFn, indent: int) -> str:
    text = draw(_SCALARS)
    style = draw(st.sampled_from(["plain", "double", "single", "literal", "folded"]))
    if style == "double":
        return json.dumps(text, ensure_ascii=draw(st.booleans()))
    if style == "single":
        return "'" + text.replace("'", "''").replace("\n", "\n\n" + " " * indent) + "'"
    if style in ("literal", "folded"):
        header = ("|" if style == "literal" else ">") + draw(st.sampled_from(["", "-", "+"]))
        body = "\n".join(" " * (indent + 2) + line if line else "" for line in text.split("\n"))
        return f"{header}\n{body}"
    return text.replace("\n", " ")


@st.composite
def _node(draw: st.DrawFn, indent: int, depth: int) -> str:
    kind = draw(st.sampled_from(["scalar", "scalar", "flow", "map", "seq"] if depth < 3
                                else ["scalar"]))
    if kind == "scalar":
        return " " + draw(_scalar(indent))
    if kind == "flow":
        items = draw(st.lists(st.sampled_from(["1", "a", '"b"', "'c'", "null", "{k: v}", "[x]"]),
                              max_size=3))
        return " [" + ", ".join(items) + "]" if draw(st.booleans()) else \
            " {" + ", ".join(f"k{i}: {item}" for i, item in enumerate(items)) + "}"
    if kind == "map":
        return "\n" + draw(_mapping(indent + draw(st.sampled_from([2, 4])), depth + 1))
    entries = draw(st.lists(_node(indent + 2, depth + 1), min_size=1, max_size=3))
    return "\n" + "\n".join(" " * indent + "-" + entry for entry in entries)


@st.composite
def _mapping(draw: st.DrawFn, indent: int, depth: int = 0) -> str:
    keys = draw(st.lists(st.sampled_from(["name", "app", "kind", "a b", "x-y", '"q k"', "'s k'",
                                          "port", "web.1"]), min_size=1, max_size=4, unique=True))
    lines = []
    for key in keys:
        if draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans()):
            lines.append(" " * indent + "# a comment: yes")
        lines.append(" " * indent + key + ":" + draw(_node(indent, depth)))
    return "\n".join(lines)


@st.composite
def _manifest_stream(draw: st.DrawFn) -> str:
    documents = draw(st.lists(_mapping(0), min_size=1, max_size=3))
    text = draw(st.sampled_from(["", "---\n", "# head\n"])) + "\n---\n".join(documents) + "\n"
    for _ in range(draw(st.integers(0, 3))):  # damage it a little
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(
            [" ", "\n", ":", "- ", "#", '"', "'", "[", "]", "{", "}", ",", "|", "\n---\n", ""])) + \
            text[at + draw(st.integers(0, 1)):]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(YAMLISH, _manifest_stream(),
                      st.binary(max_size=400).map(lambda b: b.decode("utf-8", "replace"))))
def test_fuzzed_inputs_read_alike_or_step_aside(text: str) -> None:
    read_alike(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(YAMLISH, _manifest_stream()))
def test_every_risk_match_opens_with_the_text_its_check_looks_for_first(text: str) -> None:
    # A check is skipped on a text without its opening: that is safe only if no match can
    # open otherwise.
    for opening, pattern in (*yaml_compiled._LINE_RISKS, *yaml_compiled._FLOW_RISKS):
        for match in pattern.finditer("\n" + text):
            assert match.group().startswith(opening), (pattern.pattern, match.group())


@pytest.mark.parametrize("source, opening", [
    (r"\&(?<=[ \n]\&)", "&"), (r"\n\.\.\.(?=[ ]|$)", "\n..."), ("- [ ]*x", "- "),
    ("ab*c", "a"), (r"\d+x", ""), ("a|b", ""), ("(a|b)c", ""), (r"\|x", "|x"),
    ("[]|]y", ""), (r"x\s", "x"), ("x{2}", ""),
])
def test_a_checks_opening_is_its_literal_start(source: str, opening: str) -> None:
    import re

    assert yaml_compiled._opening(re.compile(source)) == opening


def test_the_checks_that_can_skip_have_an_opening() -> None:
    openings = [opening for opening, _ in yaml_compiled._LINE_RISKS]
    # The node properties, document end and block headers are the checks texts rarely need.
    assert {"&", "*", "!", "%", "@", "`", "?", "\n...", "|", ">", "'"} <= set(openings)


# --- YAML 1.1 and 1.2 differences: what the reader gives, what kubectl gives ---------------

ERROR = "refused"


#: (case, the text after `k:` in a ConfigMap's data or the data block itself, what meshplan's
#: reader gives for data, what kubectl gives for data). ERROR: the reader reports the document
#: as invalid; "kubectl: ..." : kubectl refuses it.
DIFFERENCES: list[tuple[str, str, Any, Any]] = [
    ("bool-yes", "k: yes", {"k": True}, {"k": True}),
    ("bool-on-off", "k: [on, Off, NO]", {"k": [True, False, False]}, {"k": [True, False, False]}),
    ("bool-y-n", "k: [y, n, Y]", {"k": ["y", "n", "Y"]}, {"k": [True, False, True]}),
    ("bool-True", "k: True", {"k": True}, {"k": True}),
    ("octal-0755", "k: 0755", {"k": 493}, {"k": 493}),
    ("octal-0o755", "k: 0o755", {"k": "0o755"}, {"k": 493}),
    ("hex-binary", "k: [0x1F, 0b101]", {"k": [31, 5]}, {"k": [31, 5]}),
    ("underscores", "k: 1_000", {"k": 1000}, {"k": 1000}),
    ("exponent", "k: [1e3, 1.0e+3]", {"k": ["1e3", 1000.0]}, {"k": [1000, 1000]}),
    ("sexagesimal", "k: 1:30", {"k": 90}, {"k": "1:30"}),
    ("timestamp", "k: 2001-12-14", {"k": datetime.date(2001, 12, 14)}, {"k": "2001-12-14"}),
    ("inf", "k: .inf", {"k": math.inf}, "kubectl: json: unsupported value: +Inf"),
    ("nan", "k: .nan", {"k": "nan"}, "kubectl: json: unsupported value: NaN"),
    ("null-forms", "k: [~, Null, NULL, null]", {"k": [None] * 4}, {"k": [None] * 4}),
    ("null-empty", "k:", {"k": None}, {"k": None}),
    ("merge-key", "b: &x {q: 1}\n  c:\n    <<: *x\n    r: 2",
     {"b": {"q": 1}, "c": {"q": 1, "r": 2}}, {"b": {"q": 1}, "c": {"q": 1, "r": 2}}),
    ("anchor-alias", "b: &x [1, 2]\n  c: *x", {"b": [1, 2], "c": [1, 2]},
     {"b": [1, 2], "c": [1, 2]}),
    ("tag-str", "k: !!str 12", {"k": "12"}, {"k": "12"}),
    ("tag-binary", "k: !!binary aGVsbG8=", {"k": b"hello"}, {"k": "hello"}),
    ("tag-custom", "k: !foo bar", ERROR, {"k": "bar"}),
    ("key-int", "12: twelve", {12: "twelve"}, {"12": "twelve"}),
    ("key-bool", "on: x", {True: "x"}, {"true": "x"}),
    ("equals", "k: =", ERROR, {"k": "="}),
]


def _configmap(data: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  {data}\n"


@pytest.mark.parametrize("case, data, ours, _kubectl", DIFFERENCES,
                         ids=[case[0] for case in DIFFERENCES])
def test_yaml_difference_is_read_by_pyyaml(case: str, data: str, ours: Any, _kubectl: Any,
                                           tmp_path: Path) -> None:
    """Each case loads as the PyYAML reader reads it; the compiled path takes only the cases
    that both read alike (`y`, `n` and an empty value are strings and None to both)."""
    text = _configmap(data)
    assert read_alike(text) == (case in ("bool-y-n", "null-empty"))
    path = tmp_path / "c.yaml"
    path.write_text(text)
    result = load_manifests([str(path)])
    if ours == ERROR:
        assert result.invalid == 1 and not result.documents
        return
    body = result.documents[0].body["data"]
    if case == "nan":
        assert math.isnan(body["k"])
        return
    assert body == ours and _types(body) == _types(ours)


def test_duplicate_keys_and_alias_bombs_are_refused_by_the_reader(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text(_configmap("a: 1\n  a: 2"))
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
        for i in range(6))
    (tmp_path / "bomb.yaml").write_text(bomb)
    for name in ("dup.yaml", "bomb.yaml"):
        assert compiled_documents((tmp_path / name).read_text()) is None
    result = load_manifests([str(tmp_path)])
    assert [d.message.split(" at ")[0].split(" would")[0] for d in result.diagnostics] == [
        "YAML aliases", "duplicate key 'a'"]


@pytest.mark.parametrize("case, data, _ours, theirs", DIFFERENCES,
                         ids=[case[0] for case in DIFFERENCES])
def test_kubectl_reads_the_case_as_the_table_says(case: str, data: str, _ours: Any,
                                                  theirs: Any, tmp_path: Path) -> None:
    """The kubectl column is kubectl's own reading (client only: `annotate --local` decodes
    the file as `kubectl apply -f` does, through sigs.k8s.io/yaml)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not on PATH")
    path = tmp_path / "c.yaml"
    path.write_text(_configmap(data))
    done = subprocess.run([kubectl, "annotate", "--local", "-f", str(path), "a=b", "-o", "json"],
                          capture_output=True, text=True, check=False)
    if isinstance(theirs, str) and theirs.startswith("kubectl: "):
        assert done.returncode != 0 and theirs.removeprefix("kubectl: ") in done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"] == theirs


def test_every_difference_from_kubectl_is_documented() -> None:
    doc = (ROOT / "docs" / "yaml.md").read_text(encoding="utf-8")
    differing = [case for case, _data, ours, theirs in DIFFERENCES
                 if _comparable(ours) != _comparable(theirs)]
    assert differing and all(f"`{case}`" in doc for case in differing), differing


def _comparable(value: Any) -> Any:
    """A reader's result as it compares with kubectl's JSON: bytes never equal a string."""
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return ("bytes", value) if isinstance(value, bytes) else value


# --- without the wheel ---------------------------------------------------------------------

def test_without_the_wheel_everything_is_read_by_pyyaml(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n" * 1
    assert compiled_documents(text) is not None
    monkeypatch.setattr(yaml_compiled, "ryml", None)
    assert compiled_documents(text) is None
    (tmp_path / "a.yaml").write_text(text + "# padding\n" * 20000)
    assert [d.body["metadata"]["name"] for d in load_manifests([str(tmp_path)]).documents] == ["n"]
    assert "PyYAML" in yaml_compiled.describe()
