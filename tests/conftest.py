"""Suite-wide fixtures and markers.

``make test-fast`` runs ``-m "not slow and not live and not tui and not subprocess"``; these
markers are set here from what a test does, so a new test lands in the right loop without
anyone remembering a decorator:

* ``tui``: under tests/tui/ (Textual's pilot and snapshots);
* ``live``: uses the test API server (the ``kube_api`` fixtures) or lives under tests/live/;
* ``subprocess``: its function, or a helper of its module it calls (at any depth), starts a
  process (``subprocess``, ``sys.executable``, ``os.fork``, ``multiprocessing``);
* ``slow``: marked by hand (a real Prometheus, import-linter over copies of the tree).
"""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path
from types import ModuleType

import pytest

from tests.shared_data import require_shared

# pytester: tests/test_shared_data.py runs pytest on small test files.
pytest_plugins = ["tests.kubeapi.fixtures", "pytester"]

TESTS = Path(__file__).resolve().parent
#: Names whose use in a function means it starts another process.
_PROCESS_NAMES = frozenset({"subprocess", "Popen", "executable", "fork", "multiprocessing",
                            "ProcessPoolExecutor", "spawn"})
_LIVE_FIXTURES = frozenset({"kube_api", "kube_api_factory"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "shared(*parts): needs ../shared/<parts>; skips when absent (fails in CI)"
    )
    for line in ("tui: drives the Textual app (set from the test's folder)",
                 "live: talks to the test Kubernetes API server (set from its fixtures)",
                 "subprocess: starts another process (set from what the test calls)"):
        config.addinivalue_line("markers", line)


@functools.cache
def _spawning_functions(module: ModuleType) -> frozenset[str]:
    """Names of the module's functions that start a process, directly or through another
    function of the module."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return frozenset()
    calls: dict[str, set[str]] = {}
    spawns: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = {n.id if isinstance(n, ast.Name) else n.attr
                     for n in ast.walk(node) if isinstance(n, ast.Name | ast.Attribute)}
            calls[node.name] = names
            if names & _PROCESS_NAMES:
                spawns.add(node.name)
    grew = True
    while grew:
        grew = False
        for name, used in calls.items():
            if name not in spawns and used & spawns:
                spawns.add(name)
                grew = True
    return frozenset(spawns)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        folder = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else ""
        if folder == "tui":
            item.add_marker(pytest.mark.tui)
        fixtures = set(getattr(item, "fixturenames", ()))
        if folder == "live" or fixtures & _LIVE_FIXTURES:
            item.add_marker(pytest.mark.live)
        function = getattr(item, "function", None)
        module = getattr(item, "module", None)
        if (function is not None and module is not None
                and function.__name__ in _spawning_functions(module)):
            item.add_marker(pytest.mark.subprocess)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="shared"):
        require_shared(*marker.args)
