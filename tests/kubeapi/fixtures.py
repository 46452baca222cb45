"""Pytest fixtures for the test API server.

``kube_api``          a started server with the Istio CRDs served; stopped after the test.
``kube_api_factory``  a function ``(istio=True, **options) -> KubeAPIServer`` for tests that
                      need a different server (Istio absent, several servers); all are stopped.

Use them by listing this module in ``pytest_plugins`` (``tests/conftest.py`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kubeapi.server import KubeAPIServer

ServerFactory = Callable[..., KubeAPIServer]


@pytest.fixture
def kube_api_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers on demand, each with its kubeconfig in its own folder of ``tmp_path``."""
    started: list[KubeAPIServer] = []

    def make(**options: Any) -> KubeAPIServer:
        folder = tmp_path / f"kubeapi-{len(started)}"
        folder.mkdir()
        server = KubeAPIServer(folder, **options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def kube_api(kube_api_factory: ServerFactory) -> KubeAPIServer:
    """A running server with every API group (Istio included) and an empty store."""
    return kube_api_factory()
