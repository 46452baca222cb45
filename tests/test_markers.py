"""The markers `make test-fast` leaves out are set from what a test does (tests/conftest.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import _spawning_functions

SOURCE = '''
import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, *args], check=True)


def _twice():
    _run("-c", "pass")
    _run("-c", "pass")


def test_spawns_through_two_helpers():
    _twice()


def test_stays_in_process():
    assert sorted([2, 1]) == [1, 2]
'''


def test_a_test_calling_a_spawning_helper_is_marked(tmp_path: Path) -> None:
    path = tmp_path / "sample_module.py"
    path.write_text(SOURCE, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("sample_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    spawning = _spawning_functions(module)
    assert {"_run", "_twice", "test_spawns_through_two_helpers"} <= spawning
    assert "test_stays_in_process" not in spawning

