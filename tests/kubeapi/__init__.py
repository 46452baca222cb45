"""A Kubernetes-API-compatible test server (see :mod:`tests.kubeapi.server`)."""

from tests.kubeapi.faults import Fault
from tests.kubeapi.handler import RequestRecord
from tests.kubeapi.server import KubeAPIServer
from tests.kubeapi.store import ApiError

__all__ = ["ApiError", "Fault", "KubeAPIServer", "RequestRecord"]
