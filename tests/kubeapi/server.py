"""A small Kubernetes-API-compatible HTTP server for tests.

It speaks enough of the real protocol for kubectl and the official ``kubernetes`` Python client
to work unmodified: discovery, list (label selectors, ``limit``/``continue``), get, create,
replace, delete, JSON merge patch, server-side apply with field managers, ``dryRun=All`` and
``Status`` error bodies. Tests seed it with :meth:`KubeAPIServer.load`, inject faults (403, 410
on continue, 429, 5xx, delays), then assert on :meth:`KubeAPIServer.snapshot` and on the
request log. The parts: :mod:`~tests.kubeapi.store` (objects, resource versions,
discovery, reads, admission), :mod:`~tests.kubeapi.writes` (create, update, patch, server-side
apply with field ownership, optimistic concurrency, delete), :mod:`~tests.kubeapi.faults`
(fault injection) and :mod:`~tests.kubeapi.handler` (HTTP); this module starts and stops it,
writes the kubeconfig and keeps the request log. Only the standard library (plus PyYAML for
apply bodies) is used, and it only ever binds 127.0.0.1.

    with KubeAPIServer(tmp_path) as api:
        api.load([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}])
        api.forbid("pods")                      # 403 on "list pods"
        subprocess.run(["kubectl", "--kubeconfig", api.kubeconfig, "get", "ns"])
        assert not api.calls(resource="secrets")
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import tempfile
import threading
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.kubeapi.cluster_sim import ClusterSim
from tests.kubeapi.faults import Fault, FaultInjection
from tests.kubeapi.handler import ApiHandler, QuietServer, RequestRecord
from tests.kubeapi.resources import ResourceType, catalogue
from tests.kubeapi.store import Key, Obj
from tests.kubeapi.tls import make_certificate, openssl_available
from tests.kubeapi.writes import Writes


class KubeAPIServer(Writes, FaultInjection):
    """The test double. Start it with :meth:`start` (or ``with``), stop it with :meth:`stop`.

    ``istio=False`` serves no ``*.istio.io`` group (the Istio CRDs are "not installed").
    ``strict_namespaces`` makes creates in a namespace that does not exist fail with 404, as
    the real NamespaceLifecycle admission plugin does (``load`` is never checked).

    Like every cluster it has a ``kube-system`` namespace; its UID (``cluster_uid``, random
    unless given) is the cluster's identity, so two servers are two clusters. ``kube_system``
    False leaves it out (a server that cannot be identified).
    """

    def __init__(
        self,
        tmp_dir: str | Path | None = None,
        *,
        istio: bool = True,
        token: str | None = None,
        user: str = "system:serviceaccount:meshplan:meshplan",
        strict_namespaces: bool = True,
        tls: bool | None = None,
        cluster_uid: str | None = None,
        kube_system: bool = True,
    ) -> None:
        self.tls = openssl_available() if tls is None else tls
        self.cluster_uid = cluster_uid or str(uuid.uuid4())
        self.types: tuple[ResourceType, ...] = catalogue(istio=istio)
        self.token = token or "meshplan-test-" + uuid.uuid4().hex
        self.user = user
        self.strict_namespaces = strict_namespaces
        self._own_tmp = tmp_dir is None
        self._tmp = Path(tmp_dir) if tmp_dir is not None else Path(tempfile.mkdtemp())
        self._lock = threading.RLock()
        self._store: dict[Key, Obj] = {}
        self._rv = 1000
        self._faults: list[Fault] = []
        self._extra_items: dict[str, list[Any]] = {}
        self._log: list[RequestRecord] = []
        #: Requests being served now, and the most ever served at once (clients that overlap).
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.kubeconfig: str = str(self._tmp / "kubeconfig")
        self.ca_data: str | None = None  # base64 PEM of the server certificate (TLS only)
        #: Controllers and Istio reacting to writes (rollouts, sidecar injection).
        self.cluster = ClusterSim(self)
        if kube_system:
            self.load([{"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": "kube-system", "uid": self.cluster_uid}}])

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> KubeAPIServer:
        """Bind 127.0.0.1 on an ephemeral port, serve in a thread, write the kubeconfig."""
        handler = type("_BoundHandler", (ApiHandler,), {"api": self})
        self._httpd = QuietServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        if self.tls:
            cert, key = make_certificate(self._tmp)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.ca_data = base64.b64encode(cert.read_bytes()).decode()
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True,
                                                       do_handshake_on_connect=False)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.write_kubeconfig(self.kubeconfig)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; later connections are refused."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._own_tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server URL, as written into the kubeconfig."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def write_kubeconfig(
        self,
        path: str | Path,
        *,
        server: str | None = None,
        token: str | None = None,
        context: str = "test",
        namespace: str = "default",
    ) -> str:
        """Write a kubeconfig with one cluster, one bearer-token user and context ``context``.
        ``server``/``token`` override this server's URL and token (for "unreachable" and
        "bad credentials" tests). Returns the path."""
        cluster: Obj = {"server": server or self.url}
        if self.ca_data is not None:
            cluster["certificate-authority-data"] = self.ca_data
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": namespace},
                }
            ],
            "current-context": context,
            "preferences": {},
        }
        Path(path).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return str(path)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        token: str | None = None,
    ) -> tuple[int, Any]:
        """Send one request to this server as a client would (with this server's token unless
        ``token`` is given; ``""`` sends none). ``body`` is JSON-encoded unless it is already
        ``str``/``bytes``. Returns the status and the decoded JSON answer."""
        status, _, answer = self.request_raw(method, path, body, content_type=content_type,
                                             token=token)
        return status, answer

    def request_raw(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """Like :meth:`request`, with extra request ``headers``; also returns the response
        headers."""
        import http.client

        connection: http.client.HTTPConnection
        if self.tls:
            context = ssl.create_default_context(
                cadata=base64.b64decode(self.ca_data or "").decode())
            connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=context,
                                                     timeout=30)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = {"Accept": "application/json", **(headers or {})}
        bearer = self.token if token is None else token
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        data: bytes | None = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else (
                body if isinstance(body, bytes) else json.dumps(body).encode())
            sent["Content-Type"] = content_type
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        return response.status, dict(response.getheaders()), json.loads(raw) if raw else None

    # --- request log -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered so far, in order."""
        with self._lock:
            return list(self._log)

    def calls(self, *, resource: str | None = None, verb: str | None = None,
              method: str | None = None) -> list[RequestRecord]:
        """The logged requests matching all the given filters."""
        return [
            r
            for r in self.requests
            if (resource is None or r.resource == resource)
            and (verb is None or r.verb == verb)
            and (method is None or r.method == method)
        ]

    def clear_log(self) -> None:
        """Forget the requests logged so far."""
        with self._lock:
            self._log.clear()

    def _record(self, rec: RequestRecord) -> None:
        with self._lock:
            self._log.append(rec)
