"""Shared helpers for report tests: run ``planner report`` from the repo root, golden files."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner, Result

from planner.cli import cli
from tests.shared_data import corpus

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
SHOP_PROFILE = ["--profile", "sample_clusters/profiles/shop.yaml"]


def run_report(args: list[str]) -> Result:
    """``planner report ARGS`` with the repo root as working directory, so the relative paths
    in ARGS (and in the report's ``source``) stay relative."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return CliRunner().invoke(cli, ["report", *args])
    finally:
        os.chdir(cwd)


def corpus_case(*parts: str) -> str:
    """A corpus path as the command line names it from the repo root (``../shared/corpus/...``);
    skips the test when it is absent, as :func:`tests.shared_data.corpus` does."""
    return os.path.relpath(corpus(*parts), ROOT)


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` byte for byte with ``golden/NAME``; ``UPDATE_GOLDEN=1`` rewrites it."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
        return
    assert path.is_file(), f"missing golden {name}: run with UPDATE_GOLDEN=1"
    expected = path.read_bytes().decode("utf-8")
    assert text == expected, f"{name} differs from its golden (UPDATE_GOLDEN=1 regenerates)"
