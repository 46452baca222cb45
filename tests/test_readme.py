"""The README's session works as a new user types it: every local command of "A session" runs,
in order, from a folder holding only the bundled sample clusters, with the installed
``planner`` on PATH (what `make demo` + `source .venv/bin/activate` gives)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def session_commands() -> list[str]:
    """The command lines of the README's "A session" block, comments removed and lines ending
    in a backslash joined to the next, as the shell reads them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A session\n.*?```sh\n(.*?)```", text, re.S)
    assert block, "README has no 'A session' sh block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    joined = " ".join(line.removesuffix("\\") if line.endswith("\\") else line + "\n"
                      for line in lines)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_readme_session_runs_line_by_line(tmp_path: Path) -> None:
    planner = shutil.which("planner", path=str(Path(sys.executable).parent))
    assert planner, "planner is not installed beside this Python (make venv)"
    shutil.copytree(ROOT / "sample_clusters", tmp_path / "sample_clusters")
    env = {**os.environ, "PATH": f"{Path(planner).parent}{os.pathsep}{os.environ['PATH']}"}
    ran, cluster, interactive = [], [], []
    for line in session_commands():
        argv = shlex.split(line)
        assert argv[0] == "planner", line
        if "--context" in argv:
            cluster.append(argv[1])  # needs a cluster: tests/live covers these commands
            continue
        if argv[1] == "tui":
            interactive.append(line)  # needs a terminal: tests/tui drives it with the pilot
            argv.append("--help")
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"{line}\n{done.stderr}"
        assert "Traceback" not in done.stderr, line
        ran.append(argv[1])
    assert ran == ["scan", "graph", "assess", "plan", "report", "tui"]
    assert cluster == ["plan", "apply"] and len(interactive) == 1
    assert (tmp_path / "report.html").is_file()
    assert any((tmp_path / "rollout").iterdir())


def test_readme_session_assesses_with_the_same_answers_throughout() -> None:
    """Every local command of the session that builds an assessment (assess, plan, report,
    tui) reads the same cluster and profile: one without the profile would open its plan or
    report with another verdict than the assessment just printed."""
    assessing = [shlex.split(line) for line in session_commands()
                 if shlex.split(line)[1] in ("assess", "plan", "report", "tui")
                 and "--context" not in line]
    assert [argv[1] for argv in assessing] == ["assess", "plan", "report", "tui"]

    def option(argv: list[str], name: str) -> str | None:
        return argv[argv.index(name) + 1] if name in argv else None

    for name in ("-f", "--profile"):
        assert {option(argv, name) for argv in assessing} == {option(assessing[0], name)}, name
    assert option(assessing[0], "--profile")


def test_readme_apply_step_is_a_step_of_the_plan(tmp_path: Path) -> None:
    # The README applies a step by id against a cluster; that id must be one the plan has.
    [apply] = [c for c in session_commands() if c.startswith("planner apply")]
    step = shlex.split(apply)[2]
    done = subprocess.run([sys.executable, "-m", "planner", "plan", "-f",
                           str(ROOT / "sample_clusters" / "shop"), "-R", "-o", "json"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert f'"{step}"' in done.stdout


def test_make_demo_assesses_and_plans_the_same_cluster_with_the_same_answers() -> None:
    """`make demo` prints an assessment, then a plan that opens with the verdict again: both
    must read the same input and profile, or the first screen a new user sees gives two
    scores for one cluster."""
    recipe = re.search(r"^demo:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "Makefile has no demo recipe"
    runs = [shlex.split(line.strip())[1:] for line in recipe.group(1).splitlines()
            if "planner " in line and not line.strip().startswith("@")]
    assert [argv[0] for argv in runs] == ["assess", "plan"]
    assert runs[0][1:] == runs[1][1:]
