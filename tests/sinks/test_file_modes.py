"""Files and folders the tool writes get the user's umask, as with any command (they used to
be 0600/0700 from mkstemp/mkdtemp); a replaced file keeps its mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.sinks.files import temp_dir_beside, temp_file_beside

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "sample_clusters" / "tiny")


@pytest.fixture(params=[0o022, 0o027])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_report_plan_tree_apply_files_and_journal_follow_the_umask(tmp_path: Path,
                                                                  umask: int) -> None:
    runner = CliRunner()
    report = tmp_path / "report.html"
    done = runner.invoke(cli, ["report", "-f", TINY, "-R", "--format", "html",
                               "--out", str(report)])
    assert done.exit_code == 0, done.output
    assert mode(report) == 0o666 & ~umask
    tree = tmp_path / "rollout"
    done = runner.invoke(cli, ["plan", "-f", TINY, "-R", "--out", str(tree)])
    assert done.exit_code == 0, done.output
    assert mode(tree) == 0o777 & ~umask
    assert {mode(p) for p in tree.rglob("*") if p.is_dir()} == {0o777 & ~umask}
    assert {mode(p) for p in tree.rglob("*") if p.is_file()} == {0o666 & ~umask}
    journal = tmp_path / "journal.json"
    done = runner.invoke(cli, ["apply", "20-mesh-permissive", "-f", TINY, "-R", "--write",
                               "--yes", "--out", str(tmp_path / "gitops"),
                               "--journal", str(journal)])
    assert done.exit_code == 0, done.output
    written = list((tmp_path / "gitops").rglob("*.yaml"))
    assert written and {mode(p) for p in written} == {0o666 & ~umask}
    assert mode(journal) == 0o666 & ~umask


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask: int) -> None:
    report = tmp_path / "report.json"
    report.write_text("{}")
    report.chmod(0o640)
    done = CliRunner().invoke(cli, ["report", "-f", TINY, "-R", "--out", str(report)])
    assert done.exit_code == 0, done.output
    assert mode(report) == 0o640 and report.read_text() != "{}"


def test_temporary_siblings_are_new_hidden_and_unique(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "out.yaml"
    fd, first = temp_file_beside(target)
    os.close(fd)
    fd, second = temp_file_beside(target)
    os.close(fd)
    folder = temp_dir_beside(target)
    assert len({first, second, folder}) == 3
    assert all(p.parent == tmp_path and p.name.startswith(".out.yaml.") for p in
               (first, second, folder))
    assert mode(first) == 0o666 & ~umask and mode(folder) == 0o777 & ~umask
