"""A broken kubeconfig is a configuration error (exit 5, CLUSTER_ERROR) naming the file and
the field, as kubectl refuses it, never an internal error; values are never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.exit_codes import ExitCode

GOOD = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
users: [{name: u, user: {token: s3cr3t-t0ken}}]
"""


@pytest.mark.parametrize(("text", "message"), [
    ("apiVersion: v1\nclusters: [{name: c\n",
     ": YAML syntax error at line 3: expected ',' or '}', but got '<stream end>'"),
    (GOOD.replace('"https://127.0.0.1:1"', "5"),
     ": clusters[0] (c): cluster.server must be a string, not int"),
    (GOOD.replace("token: s3cr3t-t0ken", "token: 12345"),
     ": users[0] (u): user.token must be a string, not int"),
    (GOOD.replace("{name: c, cluster:", "{name: 7, cluster:"),
     ": clusters[0].name must be a string, not int"),
    (GOOD.replace("clusters: [", "clusters: {a: ").replace("}}]\ncontexts", "}}}\ncontexts"),
     ": clusters must be a list, not dict"),
    ("- just\n- a list\n", " is not a mapping (got list)"),
    (GOOD.replace("current-context: x", "current-context: [x]"),
     ": current-context must be a string, not list"),
])
def test_broken_kubeconfig_is_a_configuration_error(tmp_path: Path, text: str,
                                                    message: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["scan", "--kubeconfig", str(path)])
    assert result.exit_code == ExitCode.CLUSTER_ERROR, result.output
    assert result.stderr == f"planner: error: kubeconfig {path}{message}\n", result.stderr
    assert "12345" not in result.stderr and "s3cr3t" not in result.stderr


def test_a_well_typed_kubeconfig_passes_the_check(tmp_path: Path) -> None:
    from planner.sources.kubeconfig import check_kubeconfig

    path = tmp_path / "kubeconfig"
    path.write_text(GOOD.replace("current-context: x", "current-context: x\npreferences: {}"))
    check_kubeconfig(str(path))  # raises on anything it refuses
    path.write_text("")
    check_kubeconfig(str(path))  # empty: left to the loader, which says what is missing
