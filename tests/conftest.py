import pytest

from tests.shared_data import require_shared

# pytester: tests/test_shared_data.py runs pytest on small test files.
pytest_plugins = ["tests.kubeapi.fixtures", "pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "shared(*parts): needs ../shared/<parts>; skips when absent (fails in CI)"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="shared"):
        require_shared(*marker.args)
