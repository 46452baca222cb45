"""A command given neither manifests (-f) nor a cluster, where no kubeconfig exists for the
default live scan: one line saying what input it needs (INPUT_ERROR), never a traceback or a
bare "no kubeconfig found" that reads as if a cluster had been asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.exit_codes import ExitCode

CSV = ("source_namespace,source_workload,destination_namespace,destination_service,requests,"
       "mtls_share\nstorefront,web,orders,orders,100,1\n")


@pytest.fixture
def no_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A home without ~/.kube, no $KUBECONFIG, not inside a pod."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tmp_path


def test_traffic_file_without_manifests_says_what_it_needs(no_kubeconfig: Path) -> None:
    export = no_kubeconfig / "edges.csv"
    export.write_text(CSV, encoding="utf-8")
    result = CliRunner().invoke(cli, ["traffic", "--traffic", str(export)])
    assert result.exit_code == ExitCode.INPUT_ERROR, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("planner: error: planner traffic compares observed traffic with "
                           "manifests or a cluster: no input: give manifests with -f")
    assert "--kubeconfig FILE or --context NAME" in line
    assert str(no_kubeconfig / ".kube" / "config") in line
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["plan"], ["scan"], ["graph"], ["status"], ["tui"]])
def test_every_command_without_input_says_so(no_kubeconfig: Path, command: list[str]) -> None:
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == ExitCode.INPUT_ERROR, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("planner: error: no input: give manifests with -f"), line


def test_a_named_kubeconfig_that_is_missing_stays_a_cluster_error(no_kubeconfig: Path) -> None:
    missing = no_kubeconfig / "missing"
    result = CliRunner().invoke(cli, ["traffic", "--traffic", "x.csv", "--kubeconfig",
                                      str(missing)])
    assert result.exit_code == ExitCode.CLUSTER_ERROR, result.output
    assert result.stderr == f"planner: error: kubeconfig {missing} does not exist\n"


def test_the_tui_with_a_broken_kubeconfig_stops_before_taking_the_screen(
        no_kubeconfig: Path) -> None:
    broken = no_kubeconfig / "config"
    broken.write_text("apiVersion: v1\nkind: Config\ncontexts: []\nclusters: []\n",
                      encoding="utf-8")
    result = CliRunner().invoke(cli, ["tui", "--kubeconfig", str(broken), "--context", "prod"])
    assert result.exit_code == ExitCode.CLUSTER_ERROR, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("planner: error: ") and "prod" in line
