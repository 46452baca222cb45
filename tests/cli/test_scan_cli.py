"""`planner scan` as a user meets it: formats, exit codes, one-line errors, determinism."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from planner.cli import cli
from planner.exit_codes import ExitCode
from tests.shared_data import corpus

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "sample_clusters" / "shop"
TINY = ROOT / "sample_clusters" / "tiny"


def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True,
                          text=True, input=input, cwd=ROOT)


def test_version_and_help() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "planner, version" in result.output
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "scan" in result.output


def test_summary_of_the_shop_sample() -> None:
    result = CliRunner().invoke(cli, ["scan", "-f", str(SHOP), "-R"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in ("Namespaces", "storefront", "sidecar", "Deployment", "StatefulSet",
                     "CronJob", "DaemonSet", "Istio resources", "PeerAuthentication"):
        assert expected in out


def test_json_and_yaml_outputs_are_the_same_document() -> None:
    as_json = CliRunner().invoke(cli, ["scan", "-f", str(SHOP), "-R", "-o", "json"])
    as_yaml = CliRunner().invoke(cli, ["scan", "-f", str(SHOP), "-R", "-o", "yaml"])
    assert as_json.exit_code == 0 and as_yaml.exit_code == 0
    doc = json.loads(as_json.stdout)
    assert next(iter(doc)) == "schemaVersion"
    assert doc == yaml.safe_load(as_yaml.stdout)
    assert {n["name"] for n in doc["namespaces"]} >= {"storefront", "catalog", "orders", "data"}


def test_shuffled_documents_give_byte_identical_json(tmp_path: Path) -> None:
    docs = [d for p in sorted(SHOP.rglob("*.yaml")) for d in yaml.safe_load_all(p.read_text())
            if d]
    outputs = []
    for seed in (1, 2):
        random.Random(seed).shuffle(docs)
        path = tmp_path / "all.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        result = CliRunner().invoke(cli, ["scan", "-f", str(path), "-o", "json"])
        assert result.exit_code == 0
        outputs.append(json.loads(result.stdout))
    # Document positions differ by construction; nothing else may.
    assert _without_sources(outputs[0]) == _without_sources(outputs[1])


def _without_sources(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_sources(v) for k, v in value.items() if k != "source"}
    if isinstance(value, list):
        return [_without_sources(v) for v in value]
    return value


def test_stdin_like_kubectl() -> None:
    text = (TINY / "app.yaml").read_text()
    result = run("scan", "-f", "-", "-o", "json", input=text)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [n["name"] for n in doc["namespaces"]] == ["tiny"]


def test_namespace_flag_places_objects_without_one(tmp_path: Path) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
                    "spec: {ports: [{port: 80}]}\n")
    result = CliRunner().invoke(cli, ["scan", "-f", str(path), "-n", "team-a", "-o", "json"])
    assert json.loads(result.stdout)["services"][0]["namespace"] == "team-a"


@pytest.mark.parametrize("value", ["Shop", "data_2", "-x", "a" * 64, "", "a.b"])
def test_namespace_flag_must_be_a_namespace_name(value: str) -> None:
    """-n names a namespace: anything that cannot be one (kubectl would send it to the API
    server, which refuses it) stops before reading anything, in one line, exit 2."""
    for args in (["scan", "-f", str(TINY)], ["plan", "--kubeconfig", "/nonexistent"]):
        result = CliRunner().invoke(cli, [*args, "-n", value])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert result.stderr.startswith("planner: error: -n/--namespace: ")
        assert "is not a valid namespace name: it must be a DNS-1123 label" in result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""


@pytest.mark.parametrize("command", [["plan"], ["report"], ["authz"], ["status"],
                                     ["what-if", "--strict", "catalog"]])
def test_root_namespace_must_be_a_namespace_name(command: list[str]) -> None:
    """--root-namespace is where the mesh-wide PeerAuthentication goes: a value no namespace
    can have is refused as -n is (one line, exit 2) instead of planned into YAML the API
    server would refuse."""
    result = CliRunner().invoke(cli, [*command, "-f", str(SHOP), "-R", "--root-namespace",
                                      "Istio_System"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.stderr.startswith("planner: error: --root-namespace: 'Istio_System' is not "
                                    "a valid namespace name: it must be a DNS-1123 label")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_invalid_document_is_one_line_and_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: ok}\n"
                    "spec: {ports: [{port: 80}]}\n"
                    "---\napiVersion: v1\nkind: Service\nmetadata: {name: bad}\n"
                    "spec: {ports: [{port: '80'}]}\n")
    result = run("scan", "-f", str(path), "-o", "json")
    assert result.returncode == ExitCode.INVALID_INPUT
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "mixed.yaml" in errors[0] and "document 2" in errors[0]
    assert "Traceback" not in result.stderr
    assert [s["name"] for s in json.loads(result.stdout)["services"]] == ["ok"]
    strict = run("scan", "-f", str(path), "--strict")
    assert strict.returncode == ExitCode.INPUT_ERROR and strict.stdout == ""


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n")
    result = run("scan", "-f", str(path))
    assert result.returncode in (ExitCode.INVALID_INPUT, ExitCode.INPUT_ERROR)
    line = result.stderr.strip().splitlines()[0]
    assert "broken.yaml" in line and "line" in line and "Traceback" not in result.stderr


def test_missing_path_and_empty_input() -> None:
    missing = run("scan", "-f", "does-not-exist.yaml")
    assert missing.returncode == ExitCode.INPUT_ERROR
    assert missing.stderr.count("\n") == 1 and "does-not-exist.yaml" in missing.stderr
    empty = run("scan", "-f", "-", input="")
    assert empty.returncode == ExitCode.INPUT_ERROR and "no Kubernetes objects" in empty.stderr


def test_hostile_names_do_not_become_markup(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the label cell on one line
    path = tmp_path / "ns.yaml"
    path.write_text('apiVersion: v1\nkind: Namespace\nmetadata:\n  name: markup\n'
                    '  labels: {istio-injection: "[/]\\u001b[31m", istio.io/x: "[bold red]x"}\n')
    result = run("scan", "-f", str(path), "-o", "wide")
    assert result.returncode == 0, result.stderr
    assert "[bold red]x" in result.stdout and "[/]\\x1b[31m" in result.stdout
    assert "\x1b[31m" not in result.stdout


def test_no_progress_output_when_stderr_is_not_a_terminal() -> None:
    result = run("scan", "-f", str(SHOP), "-R", "-o", "json")
    assert result.returncode == 0
    assert result.stderr == ""


@pytest.mark.parametrize("case,namespaces,deployments,services,extra", [
    ("bookinfo", {"default"}, 6, 10, ()),
    ("online-boutique", {"default"}, 12, 12, ()),
    ("sock-shop", {"sock-shop"}, 14, 14, ()),
    ("robot-shop", {"robot-shop"}, 14, 12, ("-n", "robot-shop")),
    ("otel-demo", {"otel-demo"}, 24, 26, ("-n", "otel-demo")),
])
def test_corpus_counts_match_source_md(case: str, namespaces: set[str], deployments: int,
                                       services: int, extra: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, ["scan", "-f", str(corpus(case)), "-R", "-o", "json",
                                      *extra])
    doc = json.loads(result.stdout)
    kinds = [w["kind"] for w in doc["workloads"]]
    assert kinds.count("Deployment") == deployments
    assert len(doc["services"]) == services
    assert {n["name"] for n in doc["namespaces"]} == namespaces


def test_corpus_multi_namespace_dedupes_redefinitions() -> None:
    case = corpus("sock-shop-multi-namespace")
    result = CliRunner().invoke(cli, ["scan", "-f", str(case), "-R", "-o", "json"])
    doc = json.loads(result.stdout)
    kinds = [w["kind"] for w in doc["workloads"]]
    # SOURCE.md: 24 Deployments of which 21 distinct, 3 DaemonSets, 1 Job, 24 Services.
    assert (kinds.count("Deployment"), kinds.count("DaemonSet"), kinds.count("Job")) == (21, 3, 1)
    assert len(doc["services"]) == 24
    assert {n["name"] for n in doc["namespaces"]} == {"sock-shop", "jaeger", "loadtest",
                                                       "monitoring", "kube-system"}
    duplicates = [d for d in doc["diagnostics"] if "duplicate Deployment" in d["message"]]
    assert len(duplicates) == 3


def test_corpus_kiali_travels_per_folder_namespaces() -> None:
    case = corpus("kiali-travels")
    services = 0
    for ns in ("travel-agency", "travel-portal", "travel-control"):
        result = CliRunner().invoke(cli, ["scan", "-f", str(case / ns), "-n", ns, "-o", "json"])
        doc = json.loads(result.stdout)
        assert {n["name"] for n in doc["namespaces"]} == {ns}
        services += len(doc["services"])
    assert services == 11


def test_console_script_writes_everything_before_its_fast_exit(tmp_path: Path) -> None:
    # The console script ends with os._exit: output must be flushed and the exit code kept.
    in_process = CliRunner().invoke(cli, ["scan", "-f", str(SHOP), "-R", "-o", "json"])
    result = run("scan", "-f", str(SHOP), "-R", "-o", "json")
    assert result.returncode == 0 and result.stdout == in_process.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\nkind: Service\n")
    result = run("scan", "-f", str(bad), "-o", "yaml")
    assert result.returncode == ExitCode.INVALID_INPUT
    assert yaml.safe_load(result.stdout)["configMaps"][0]["name"] == "ok"


def test_closed_pipe_ends_quietly() -> None:
    # `planner scan -o json | head -c 100`: no "Exception ignored" noise, exit 0.
    done = subprocess.run(
        f"{sys.executable} -m planner scan -f {SHOP} -R -o json | head -c 100 >/dev/null; "
        "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True,
        text=True, cwd=ROOT)
    assert done.stdout.strip() == "0" and done.stderr == ""


def test_yaml_values_without_a_json_type_are_still_written(tmp_path: Path) -> None:
    # YAML gives dates, integers past 64 bits and NaN in free-form specs; kubectl would
    # reject some, but the inventory must still print as valid JSON.
    path = tmp_path / "odd.yaml"
    path.write_text("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
                    "metadata: {name: odd, namespace: a}\n"
                    "spec: {day: 2024-01-02, at: 2024-01-02T03:04:05Z, "
                    "big: 123456789012345678901234567890, small: -5, ratio: .nan}\n")
    result = CliRunner().invoke(cli, ["scan", "-f", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    spec = json.loads(result.stdout)["istio"][0]["spec"]
    assert spec == {"day": "2024-01-02", "at": "2024-01-02T03:04:05+00:00",
                    "big": "123456789012345678901234567890", "small": -5, "ratio": None}


def test_the_tui_runs_with_the_collector_the_console_script_turns_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import tui.app

    seen: list[bool] = []

    class App:
        """The app as tui.app.run starts it (its collector policy: tui.collector)."""

        crash = None

        def __init__(self, options: object) -> None:
            pass

        def run(self) -> None:
            seen.append(gc.isenabled())

    monkeypatch.setattr(tui.app, "MeshplanApp", App)
    enabled = gc.isenabled()
    gc.disable()  # as planner.cli.main leaves it
    try:
        result = CliRunner().invoke(cli, ["tui", "-f", str(TINY)])
    finally:
        if enabled:
            gc.enable()
    assert result.exit_code == 0, result.output
    assert seen == [True]  # a long-running app needs it


def test_one_diagnostic_shape_with_and_without_strict(tmp_path: Path) -> None:
    # docs/exit-codes.md: `planner: SEVERITY: WHERE: WHAT`, whether the document is skipped
    # (exit 3) or stops the command (--strict, exit 4).
    path = tmp_path / "mixed.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"
                    "---\napiVersion: v1\nkind: Service\nmetadata: {name: bad}\n"
                    "spec: {ports: [{port: '80'}]}\n"
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
    skipped = run("scan", "-f", str(path), "-o", "json")
    strict = run("scan", "-f", str(path), "-o", "json", "--strict")
    assert (skipped.returncode, strict.returncode) == (ExitCode.INVALID_INPUT,
                                                       ExitCode.INPUT_ERROR)
    error = f"planner: error: {path}:5 (document 2): "
    [skipped_error] = [line for line in skipped.stderr.splitlines() if ": error: " in line]
    assert skipped_error.startswith(error), skipped.stderr
    assert strict.stderr.splitlines() == [skipped_error]
    warning = f"planner: warning: {path}:10 (document 3): duplicate ConfigMap"
    assert any(line.startswith(warning) for line in skipped.stderr.splitlines()), skipped.stderr


def test_error_lines_keep_file_names_whatever_they_say(tmp_path: Path) -> None:
    """A file named like a credential (api-key.yaml, secret.yaml) is where the error is, not a
    secret: its line says what is wrong instead of 'api-key.yaml: REDACTED'."""
    (tmp_path / "api-key.yaml").write_bytes(b"\x00\x01binary")
    (tmp_path / "secret.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n"
                                          "spec: {ports: [{port: '80'}]}\n")
    binary = CliRunner().invoke(cli, ["scan", "-f", str(tmp_path / "api-key.yaml")])
    assert binary.exit_code == ExitCode.INPUT_ERROR
    assert binary.stderr == (f"planner: error: {tmp_path / 'api-key.yaml'}: binary file "
                             "(contains NUL bytes), not a manifest\n")
    invalid = CliRunner().invoke(cli, ["scan", "-f", str(tmp_path / "secret.yaml"),
                                       "-f", str(TINY)])
    assert invalid.exit_code == ExitCode.INVALID_INPUT
    assert invalid.stderr.splitlines()[0] == (
        f"planner: error: {tmp_path / 'secret.yaml'}:1 (document 1): Service default/a: "
        "spec.ports[0].port must be an integer, got string '80'")


def test_pods_count_a_daemonset_once_per_node() -> None:
    """scan and the report's inventory count the pods a DaemonSet runs as the cost estimate
    does, one per Node object (shop: 2 DaemonSets on 2 nodes), so no two figures for the
    same pods; without Node objects the scan says it counted one each."""
    scan = CliRunner(env={"COLUMNS": "120"}).invoke(cli, ["scan", "-f", str(SHOP), "-R"])
    assert "│ pods (replicas; DaemonSets x 2 node(s)) │    44 │" in scan.stdout
    report = json.loads(CliRunner().invoke(cli, ["report", "-f", str(SHOP), "-R"]).stdout)
    assert report["inventory"]["pods"] == report["assessment"]["costs"]["pods"] == 44
    without_nodes = CliRunner(env={"COLUMNS": "120"}).invoke(
        cli, ["scan", "-f", str(SHOP / "monitoring"), "-R"])
    assert "pods (replicas; DaemonSets x 1: no Node objects)" in without_nodes.stdout
