"""Shell completion: the scripts for bash, zsh and fish, and what TAB offers — commands, step
ids and namespaces of the manifests on the line — through each shell's protocol; bash for real
(zsh and fish are not installed here: their scripts call the same protocol, tested below)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.commands.completion import FIXED_STEPS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def complete(shell: str, words: str, cword: int | str, cwd: Path = ROOT) -> list[str]:
    """What Click's completion answers ``shell``'s script for the line ``words``."""
    env = {**os.environ, "_PLANNER_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    done = subprocess.run([str(BIN / "planner")], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = [line for line in done.stdout.splitlines() if line]
    if shell == "zsh":  # type, value, help: three lines per item
        return [lines[i + 1] for i in range(0, len(lines), 3)]
    return [line.split(",", 1)[1] for line in lines]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_each_shells_script(shell: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert f"_PLANNER_COMPLETE={shell}_source" not in result.stdout
    assert f"{shell}_complete" in result.stdout and "planner" in result.stdout
    assert CliRunner().invoke(cli, ["completion", "tcsh"]).exit_code == 2


SHOP = "planner apply -f sample_clusters/shop -R 40-s"


@pytest.mark.parametrize(("shell", "cword"), [("bash", 5), ("zsh", 5), ("fish", "40-s")])
def test_step_ids_of_the_manifests_on_the_line(shell: str, cword: int | str) -> None:
    assert complete(shell, SHOP, cword) == ["40-strict-storefront", "40-strict-orders",
                                            "40-strict-payments", "40-strict-data"]


def test_namespaces_commands_and_steps_without_manifests(tmp_path: Path) -> None:
    line = "planner graph -f sample_clusters/shop -R -n pay"
    assert complete("bash", line, 6) == ["payments"]
    assert complete("bash", "planner comp", 1) == ["completion"]
    # The profile's answer flags, on every command that assesses (docs/profile.md).
    assert complete("bash", "planner report --compl", 2) == ["--compliance-mtls"]
    # Without -f: the steps every plan has, and those of the journal (rollback, verify).
    assert complete("bash", "planner verify ", 2, tmp_path) == sorted(FIXED_STEPS)
    applied = CliRunner().invoke(cli, [
        "apply", "30-enroll-tiny", "-f", str(ROOT / "sample_clusters" / "tiny"), "-R",
        "--write", "--yes", "--out", str(tmp_path / "gitops"),
        "--journal", str(tmp_path / ".meshplan" / "journal.json")])
    assert applied.exit_code == 0, applied.output
    assert complete("bash", "planner rollback 30", 2, tmp_path) == ["30-enroll-tiny"]
    # A broken -f path or journal offers nothing and prints nothing; the prompt goes on.
    assert complete("bash", "planner scan -f does-not-exist -n ", 5) == []
    (tmp_path / ".meshplan" / "journal.json").write_text("{broken")
    assert complete("bash", "planner rollback ", 2, tmp_path) == sorted(FIXED_STEPS)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completes_through_its_script() -> None:
    script = (f'eval "$(planner completion bash)"\n'
              f"COMP_WORDS=({SHOP}); COMP_CWORD=5\n"
              '_planner_completion planner\nprintf "%s\\n" "${COMPREPLY[@]}"\n')
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["40-strict-storefront", "40-strict-orders",
                                   "40-strict-payments", "40-strict-data"]
