"""Bad flags and arguments are one stderr line in the planner's shape, exit 2, nothing on
stdout (docs/exit-codes.md: errors print exactly one line), for every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from planner.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]
TINY = "sample_clusters/tiny"


@pytest.mark.parametrize(("args", "says"), [
    (["plan", "-f", TINY, "--granularity", "nonsense"],
     "Invalid value for '--granularity': 'nonsense' is not one of 'namespace', 'workload' "
     "(see 'planner plan --help')"),
    (["graph", "-f", TINY, "--min-confidence", "-1"],
     "Invalid value for '--min-confidence': -1.0 is not in the range 0.0<=x<=1.0 "
     "(see 'planner graph --help')"),
    (["assess", "-f", TINY, "--nodes", "-3"],
     "Invalid value for '--nodes': -3 is not in the range x>=1 (see 'planner assess --help')"),
    (["scan", "-f", TINY, "-o", "nope"], "'nope' is not one of 'table', 'wide', 'json', 'yaml'"),
    (["report", "-f", TINY, "--json", "--format", "html"],
     "--json contradicts --format html (see 'planner report --help')"),
    (["what-if", "-f", TINY], "give at least one change: --strict NS"),
    (["scan", "-f", TINY, "--context", "x"], "use either -f (manifests) or --kubeconfig"),
    (["apply"], "Missing argument 'STEP' (see 'planner apply --help')"),
    (["bogus"], "No such command 'bogus' (see 'planner --help')"),
    (["plan", "-f", TINY, "--granularity", "\x1b[31mred"], r"'\x1b[31mred' is not one of"),
])
def test_a_usage_error_is_one_line(args: list[str], says: str) -> None:
    done = subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("planner: error: ") and done.stderr.count("\n") == 1
    assert says in done.stderr
    assert "\x1b" not in done.stderr


def test_a_bare_planner_still_prints_its_help() -> None:
    done = subprocess.run([sys.executable, "-m", "planner"], capture_output=True, text=True,
                          cwd=ROOT)
    assert "Commands:" in done.stdout + done.stderr
