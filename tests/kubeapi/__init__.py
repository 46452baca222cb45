"""A Kubernetes-API-compatible test server (see :mod:`tests.kubeapi.server`)."""

from tests.kubeapi.server import ApiError, Fault, KubeAPIServer, RequestRecord

__all__ = ["ApiError", "Fault", "KubeAPIServer", "RequestRecord"]
