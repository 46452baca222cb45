import pytest

from tests.shared_data import require_shared

pytest_plugins = ["tests.kubeapi.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "shared(*parts): needs ../shared/<parts>; skips when absent (fails in CI)"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="shared"):
        require_shared(*marker.args)
