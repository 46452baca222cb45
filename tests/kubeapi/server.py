"""A small Kubernetes-API-compatible HTTP server for tests.

It speaks enough of the real protocol for kubectl and the official ``kubernetes`` Python client
to work unmodified: discovery, list (label selectors, ``limit``/``continue``), get, create,
replace, delete, JSON merge patch, server-side apply with field managers, ``dryRun=All`` and
``Status`` error bodies. Tests seed it with :meth:`KubeAPIServer.load`, inject faults (403, 410
on continue, 429, 5xx, delays), then assert on :meth:`KubeAPIServer.snapshot` and on the
request log. Only the standard library (plus PyYAML for apply bodies) is used, and it only ever
binds 127.0.0.1.

    with KubeAPIServer(tmp_path) as api:
        api.load([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}])
        api.forbid("pods")                      # 403 on "list pods"
        subprocess.run(["kubectl", "--kubeconfig", api.kubeconfig, "get", "ns"])
        assert not api.calls(resource="secrets")
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from tests.kubeapi.cluster_sim import ClusterSim
from tests.kubeapi.resources import ALL_VERBS, ResourceType, catalogue
from tests.kubeapi.selectors import SelectorError, parse_field_selector, parse_selector
from tests.kubeapi.tls import make_certificate, openssl_available

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name
FieldPath = tuple[str, ...]

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_UID_NAMESPACE = uuid.UUID("6f1d3c52-9a59-4a0e-8f43-6b5d1a3c7e21")
# Top-level keys that are never "owned" by a field manager.
_UNMANAGED_TOP = frozenset({"apiVersion", "kind", "metadata", "status"})


class ApiError(Exception):
    """An error the handler turns into a ``Status`` body with ``code``."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: Obj | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> Obj:
        """The ``Status`` object the real API server would return."""
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered, for assertions in tests."""

    method: str
    path: str
    query: dict[str, str]  # first value of each query parameter
    status: int
    verb: str  # list, get, create, update, patch, apply, delete, discovery, other
    resource: str | None  # "plural" or "plural.group"; None for discovery and unknown paths
    namespace: str | None
    name: str | None
    content_type: str | None
    user_agent: str | None


@dataclass
class Fault:
    """A failure the server injects into matching requests.

    ``resource`` is ``plural`` or ``plural.group`` (None: every request, discovery included);
    ``verb`` is one of the :class:`RequestRecord` verbs (None: any); ``times`` counts down on
    every injection (None: forever). ``only_continue`` restricts the fault to list requests
    that carry a ``continue`` token. ``delay`` seconds are slept before answering; with
    ``status`` 0 the request is then served normally.
    """

    status: int = 0
    resource: str | None = None
    verb: str | None = None
    namespace: str | None = None
    times: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    only_continue: bool = False
    reason: str | None = None
    message: str | None = None

    def matches(self, rec_verb: str, resource: str | None, namespace: str | None,
                has_continue: bool) -> bool:
        """Whether this fault applies to a request (ignoring how many times are left)."""
        if self.times is not None and self.times <= 0:
            return False
        if self.resource is not None and self.resource != resource:
            return False
        if self.verb is not None and self.verb != rec_verb:
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        return not (self.only_continue and not has_continue)


@dataclass
class _Route:
    """A parsed resource URL."""

    rt: ResourceType
    version: str
    namespace: str | None
    name: str | None
    subresource: str | None = None


@dataclass
class _ManagerEntry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    fields: set[FieldPath] = field(default_factory=set)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, ``null`` deletes a key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: Obj = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):  # strategic-merge directives: not modelled
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


# --- field ownership at the granularity of top-level spec keys, labels and annotations ------


def _field_paths(obj: Obj) -> set[FieldPath]:
    paths: set[FieldPath] = set()
    for top, value in obj.items():
        if top in _UNMANAGED_TOP:
            continue
        if isinstance(value, dict) and value:
            paths.update((top, sub) for sub in value)
        else:
            paths.add((top,))
    meta = obj.get("metadata") or {}
    for part in ("labels", "annotations"):
        for key in meta.get(part) or {}:
            paths.add(("metadata", part, key))
    return paths


_MISSING = object()


def _get_path(obj: Obj, path: FieldPath) -> Any:
    node: Any = obj
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _set_path(obj: Obj, path: FieldPath, value: Any) -> None:
    node = obj
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = copy.deepcopy(value)


def _del_path(obj: Obj, path: FieldPath) -> None:
    parents: list[tuple[Obj, str]] = []
    node: Any = obj
    for part in path[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        parents.append((node, part))
        node = node[part]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    # Drop maps left empty (an empty "labels" or "spec"), as the real server's apply does.
    for parent, part in reversed(parents):
        if parent[part] == {} and part != "metadata":
            del parent[part]


def _path_str(path: FieldPath) -> str:
    return "." + ".".join(path)


def _fields_v1(paths: set[FieldPath]) -> Obj:
    tree: Obj = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def _paths_from_fields_v1(tree: Obj, prefix: FieldPath = ()) -> set[FieldPath]:
    paths: set[FieldPath] = set()
    for raw, sub in tree.items():
        if not raw.startswith("f:"):
            continue
        path = (*prefix, raw[2:])
        if isinstance(sub, dict) and sub and len(path) < (3 if path[0] == "metadata" else 2):
            paths |= _paths_from_fields_v1(sub, path)
        else:
            paths.add(path)
    return paths


def _read_managers(obj: Obj) -> list[_ManagerEntry]:
    entries = []
    for raw in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(raw, dict) or "manager" not in raw:
            continue
        entries.append(
            _ManagerEntry(
                manager=str(raw["manager"]),
                operation=str(raw.get("operation", "Update")),
                api_version=str(raw.get("apiVersion", "")),
                time=str(raw.get("time", "")),
                fields=_paths_from_fields_v1(raw.get("fieldsV1") or {}),
            )
        )
    return entries


def _write_managers(obj: Obj, entries: list[_ManagerEntry]) -> None:
    rendered = [
        {
            "manager": e.manager,
            "operation": e.operation,
            "apiVersion": e.api_version,
            "time": e.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields_v1(e.fields),
        }
        for e in entries
        if e.fields
    ]
    meta = obj.setdefault("metadata", {})
    if rendered:
        meta["managedFields"] = rendered
    else:
        meta.pop("managedFields", None)


class KubeAPIServer:
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
        handler = type("_BoundHandler", (_Handler,), {"api": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
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

    # --- seeding and reading the store -----------------------------------------------------

    def load(self, objects: Iterable[Obj]) -> None:
        """Put objects into the store as they are (no admission, no managers). Each needs
        ``apiVersion``, ``kind`` and ``metadata.name``; ``uid``, ``resourceVersion`` and
        ``creationTimestamp`` are filled in when absent (the uid is derived from the key, so
        repeated runs give the same store)."""
        with self._lock:
            for raw in objects:
                obj = copy.deepcopy(raw)
                rt = self._type_of(obj)
                meta = obj.setdefault("metadata", {})
                if not meta.get("name"):
                    raise ValueError(f"object without metadata.name: {raw!r}")
                if rt.namespaced:
                    meta.setdefault("namespace", "default")
                else:
                    meta.pop("namespace", None)
                key = self._key(rt, meta.get("namespace"), meta["name"])
                meta.setdefault("uid", str(uuid.uuid5(_UID_NAMESPACE, "/".join(key))))
                meta.setdefault("creationTimestamp", _now())
                meta["resourceVersion"] = self._next_rv()
                self._store[key] = obj

    def objects(self) -> list[Obj]:
        """Deep copies of every stored object, in a stable order."""
        with self._lock:
            self.cluster.tick()
            return [copy.deepcopy(self._store[k]) for k in sorted(self._store)]

    def snapshot(self) -> str:
        """The whole store as canonical JSON, for "byte-for-byte unchanged" assertions."""
        return json.dumps(self.objects(), sort_keys=True, separators=(",", ":"))

    def get(self, resource: str, name: str, namespace: str | None = None) -> Obj | None:
        """A deep copy of one stored object (``resource`` is ``plural[.group]``) or None."""
        rt = self._type_named(resource)
        with self._lock:
            self.cluster.tick()
            obj = self._store.get(self._key(rt, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    @property
    def resource_version(self) -> int:
        """The current (last written) resourceVersion."""
        return self._rv

    # --- faults ----------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        """Inject ``fault``; the first matching fault wins. Returns it (``times`` counts down)."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault and extra item."""
        with self._lock:
            self._faults.clear()
            self._extra_items.clear()

    def forbid(self, resource: str, *, verb: str | None = "list",
               namespace: str | None = None) -> Fault:
        """Answer 403 Forbidden to ``verb`` (None: all verbs) on ``resource``."""
        return self.add_fault(Fault(status=403, resource=resource, verb=verb,
                                    namespace=namespace))

    def expire_continue(self, resource: str, *, times: int = 1) -> Fault:
        """Answer 410 Gone (reason Expired) to the next ``times`` list pages that carry a
        ``continue`` token for ``resource``."""
        return self.add_fault(Fault(status=410, resource=resource, verb="list",
                                    only_continue=True, times=times))

    def throttle(self, resource: str | None = None, *, times: int = 1, retry_after: int = 1,
                 verb: str | None = None) -> Fault:
        """Answer 429 TooManyRequests with ``Retry-After`` to the next ``times`` requests."""
        return self.add_fault(Fault(status=429, resource=resource, verb=verb, times=times,
                                    retry_after=retry_after))

    def fail(self, resource: str | None = None, *, times: int = 1, status: int = 500,
             verb: str | None = None) -> Fault:
        """Answer ``status`` (5xx) to the next ``times`` matching requests."""
        return self.add_fault(Fault(status=status, resource=resource, verb=verb, times=times))

    def slow(self, seconds: float, resource: str | None = None, *, times: int | None = None,
             verb: str | None = None) -> Fault:
        """Delay matching responses by ``seconds`` (then answer normally)."""
        return self.add_fault(Fault(delay=seconds, resource=resource, verb=verb, times=times))

    def inject_items(self, resource: str, items: list[Any]) -> None:
        """Append raw ``items`` (malformed ones too) to the last page of every list of
        ``resource``; they are not stored."""
        self._type_named(resource)
        with self._lock:
            self._extra_items.setdefault(resource, []).extend(copy.deepcopy(items))

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

    # --- internals -------------------------------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> Key:
        return (rt.group, rt.plural, (namespace or "") if rt.namespaced else "", name)

    def _type_of(self, obj: Obj) -> ResourceType:
        api_version = str(obj.get("apiVersion", ""))
        group, _, version = api_version.rpartition("/")
        for rt in self.types:
            if rt.group == group and rt.kind == obj.get("kind") and version in rt.versions:
                return rt
        raise ValueError(f"no resource serves {obj.get('kind')!r} in {api_version!r}")

    def _type_named(self, resource: str) -> ResourceType:
        for rt in self.types:
            if rt.qualified == resource:
                return rt
        raise ValueError(f"unknown resource {resource!r} (use plural or plural.group)")

    def _take_fault(self, verb: str, resource: str | None, namespace: str | None,
                    has_continue: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(verb, resource, namespace, has_continue):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _record(self, rec: RequestRecord) -> None:
        with self._lock:
            self._log.append(rec)

    # discovery documents

    def _groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for rt in self.types:
            if rt.group:
                versions = groups.setdefault(rt.group, [])
                versions.extend(v for v in rt.versions if v not in versions)
        return groups

    def _api_group(self, name: str, versions: list[str]) -> Obj:
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}

    def discovery(self, path: str) -> Obj | None:
        """The discovery document at ``path``, or None if there is none."""
        if path == "/version":
            return {
                "major": "1",
                "minor": "32",
                "gitVersion": "v1.32.0-meshplan-test",
                "gitCommit": "0" * 40,
                "gitTreeState": "clean",
                "buildDate": "2025-01-01T00:00:00Z",
                "goVersion": "go1.23.0",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
        if path == "/api":
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}
                ],
            }
        if path == "/apis":
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [self._api_group(g, v) for g, v in self._groups().items()],
            }
        parts = [p for p in path.split("/") if p]
        if parts == ["api", "v1"]:
            return self._resource_list("", "v1")
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in self._groups():
            return {"kind": "APIGroup", "apiVersion": "v1",
                    **self._api_group(parts[1], self._groups()[parts[1]])}
        if len(parts) == 3 and parts[0] == "apis" \
                and parts[2] in self._groups().get(parts[1], []):
                return self._resource_list(parts[1], parts[2])
        return None

    def _resource_list(self, group: str, version: str) -> Obj:
        resources = []
        for rt in self.types:
            if rt.group == group and version in rt.versions:
                entry: Obj = {
                    "name": rt.plural,
                    "singularName": rt.singular,
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": list(ALL_VERBS),
                }
                if rt.short_names:
                    entry["shortNames"] = list(rt.short_names)
                resources.append(entry)
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def route(self, path: str) -> _Route | None:
        """Parse a resource URL (``/api/v1/...`` or ``/apis/g/v/...``)."""
        parts = [unquote(p) for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            return None
        for rt in self.types:
            if rt.group == group and rt.plural == rest[0] and version in rt.versions:
                if namespace is not None and not rt.namespaced:
                    return None
                name = rest[1] if len(rest) >= 2 else None
                sub = rest[2] if len(rest) == 3 else None
                return _Route(rt, version, namespace, name, sub)
        return None

    # resource operations (all under the lock; each returns (status, body))

    def _out(self, obj: Obj, route: _Route) -> Obj:
        out = copy.deepcopy(obj)
        out["apiVersion"] = route.rt.api_version(route.version)
        out["kind"] = route.rt.kind
        return out

    def _not_found(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found',
                        {"name": name, "group": rt.group, "kind": rt.plural})

    def list_objects(self, route: _Route, query: dict[str, str]) -> Obj:
        """Answer a list request: selectors, then one page from the continue position."""
        rt = route.rt
        try:
            labels_ok = parse_selector(query.get("labelSelector", ""))
            fields_ok = parse_field_selector(query.get("fieldSelector", ""))
        except SelectorError as err:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {err}") from err
        after: tuple[str, str] | None = None
        if query.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"].encode()))
                after = (str(token["after"][0]), str(token["after"][1]))
            except (ValueError, KeyError, IndexError, TypeError) as err:
                raise ApiError(400, "BadRequest", "continue key is not valid") from err
        try:
            limit = int(query.get("limit") or 0)
        except ValueError as err:
            raise ApiError(400, "BadRequest", "limit must be an integer") from err
        matching: list[tuple[tuple[str, str], Obj]] = []
        for key in sorted(self._store):
            group, plural, namespace, name = key
            if (group, plural) != (rt.group, rt.plural):
                continue
            if route.namespace is not None and namespace != route.namespace:
                continue
            obj = self._store[key]
            meta = obj.get("metadata") or {}
            if not labels_ok(meta.get("labels") or {}) or not fields_ok(meta):
                continue
            if after is not None and (namespace, name) <= after:
                continue
            matching.append(((namespace, name), obj))
        page = matching[:limit] if limit > 0 else matching
        rest = len(matching) - len(page)
        meta_out: Obj = {"resourceVersion": str(self._rv)}
        items = [self._out(obj, route) for _, obj in page]
        if rest:
            last = page[-1][0]
            token_raw = json.dumps({"rv": self._rv, "after": list(last)}).encode()
            meta_out["continue"] = base64.urlsafe_b64encode(token_raw).decode()
            if not query.get("labelSelector"):
                meta_out["remainingItemCount"] = rest
        else:
            items.extend(copy.deepcopy(self._extra_items.get(rt.qualified, [])))
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version(route.version),
            "metadata": meta_out,
            "items": items,
        }

    def get_object(self, route: _Route) -> Obj:
        """Answer a get request."""
        assert route.name is not None
        obj = self._store.get(self._key(route.rt, route.namespace, route.name))
        if obj is None:
            raise self._not_found(route.rt, route.name)
        return self._out(obj, route)

    def _admit(self, route: _Route, obj: Obj, name: str) -> None:
        """Validate an object about to be written; raises ApiError (400/404/422)."""
        rt = route.rt
        if obj.get("kind") not in (None, rt.kind):
            raise ApiError(400, "BadRequest",
                           f"the kind of the object ({obj.get('kind')}) does not match "
                           f"the resource ({rt.kind})")
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        if obj.get("apiVersion") is not None and group != rt.group:
            raise ApiError(400, "BadRequest",
                           f"the API version in the data ({obj.get('apiVersion')}) does not "
                           f"match the expected API version ({rt.api_version(route.version)})")
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if not _NAME_RE.match(name) or len(name) > 253:
            raise self._invalid(rt, name, f"metadata.name: Invalid value: {name!r}: a "
                                "lowercase RFC 1123 subdomain must consist of lower case "
                                "alphanumeric characters, '-' or '.'")
        if rt.namespaced:
            ns = meta.get("namespace")
            if ns is not None and route.namespace is not None and ns != route.namespace:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does "
                               "not match the namespace sent on the request")
            if self.strict_namespaces and ("", "namespaces", "", route.namespace or "") \
                    not in self._store:
                raise ApiError(404, "NotFound", f'namespaces "{route.namespace}" not found',
                               {"name": route.namespace, "kind": "namespaces"})
        for label_map in ("labels", "annotations"):
            value = meta.get(label_map)
            if value is not None and (not isinstance(value, dict) or not all(
                    isinstance(v, str) for v in value.values())):
                raise self._invalid(rt, name, f"metadata.{label_map}: Invalid value: "
                                    "values must be strings")
        if rt.kind == "PeerAuthentication":
            self._validate_peer_authentication(rt, name, obj.get("spec") or {})

    def _invalid(self, rt: ResourceType, name: str, message: str) -> ApiError:
        return ApiError(422, "Invalid", f'{rt.kind}.{rt.group or "core"} "{name}" is '
                        f"invalid: {message}", {"name": name, "group": rt.group,
                                               "kind": rt.kind})

    def _validate_peer_authentication(self, rt: ResourceType, name: str, spec: Obj) -> None:
        # The CRD's enum and CEL rule, so that a bad plan fails in dry-run as it would live.
        modes = {"UNSET", "DISABLE", "PERMISSIVE", "STRICT"}
        mode = (spec.get("mtls") or {}).get("mode")
        if mode is not None and mode not in modes:
            raise self._invalid(rt, name, f'spec.mtls.mode: Unsupported value: "{mode}": '
                                'supported values: "UNSET", "DISABLE", "PERMISSIVE", "STRICT"')
        for port, setting in (spec.get("portLevelMtls") or {}).items():
            port_mode = (setting or {}).get("mode")
            if port_mode is not None and port_mode not in modes:
                raise self._invalid(rt, name, f"spec.portLevelMtls[{port}].mode: "
                                    f'Unsupported value: "{port_mode}"')
        if spec.get("portLevelMtls") and not spec.get("selector"):
            raise self._invalid(rt, name, "spec: Invalid value: portLevelMtls requires "
                                "selector")

    def _prepare_new(self, route: _Route, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        if route.rt.namespaced:
            meta["namespace"] = route.namespace
        else:
            meta.pop("namespace", None)
        for volatile in ("uid", "resourceVersion", "creationTimestamp", "managedFields",
                         "generation", "deletionTimestamp"):
            meta.pop(volatile, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["generation"] = 1
        obj["apiVersion"] = route.rt.api_version(route.version)
        obj["kind"] = route.rt.kind
        if route.rt.kind == "Namespace":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj.setdefault("status", {"phase": "Active"})
        return obj

    def _commit(self, route: _Route, old: Obj | None, new: Obj, dry_run: bool) -> Obj:
        """Bump generation/resourceVersion and store (unless dry run); return the output."""
        if old is not None:
            spec_old = {k: v for k, v in old.items() if k not in _UNMANAGED_TOP}
            spec_new = {k: v for k, v in new.items() if k not in _UNMANAGED_TOP}
            generation = int(old.get("metadata", {}).get("generation", 1) or 1)
            new["metadata"]["generation"] = generation + (spec_old != spec_new)
        if not dry_run:
            new["metadata"]["resourceVersion"] = self._next_rv()
            meta = new["metadata"]
            self._store[self._key(route.rt, meta.get("namespace"), meta["name"])] = new
        out = self._out(new, route)
        if not dry_run:
            self.cluster.committed(route.rt, old, new)
        return out

    def _track_update(self, old: Obj | None, new: Obj, manager: str, api_version: str) -> None:
        """Give ``manager`` (operation Update) every field this write changed."""
        entries = _read_managers(old) if old is not None else []
        before = _field_paths(old) if old is not None else set()
        after = _field_paths(new)
        changed = {
            p for p in before | after
            if old is None or _get_path(old, p) != _get_path(new, p)
        }
        for entry in entries:
            entry.fields -= changed
            entry.fields &= after
        target = next((e for e in entries if e.manager == manager and e.operation == "Update"),
                      None)
        if target is None:
            target = _ManagerEntry(manager, "Update", api_version, _now())
            entries.append(target)
        target.fields |= changed & after
        target.time = _now()
        _write_managers(new, entries)

    def create(self, route: _Route, body: Any, manager: str, dry_run: bool) -> Obj:
        """Answer a POST to a collection."""
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if isinstance(meta, dict) and not name and meta.get("generateName"):
            name = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
            meta["name"] = name
        if not isinstance(name, str) or not name:
            raise self._invalid(route.rt, "", "metadata.name: Required value: name or "
                                "generateName is required")
        route.namespace = route.namespace if route.rt.namespaced else None
        self._admit(route, obj, name)
        if self._key(route.rt, route.namespace, name) in self._store:
            raise ApiError(409, "AlreadyExists", f'{route.rt.qualified} "{name}" already exists',
                           {"name": name, "group": route.rt.group, "kind": route.rt.plural})
        new = self._prepare_new(route, obj)
        self._track_update(None, new, manager, new["apiVersion"])
        return self._commit(route, None, new, dry_run)

    def replace(self, route: _Route, body: Any, manager: str, dry_run: bool) -> Obj:
        """Answer a PUT (update) with optimistic concurrency on resourceVersion."""
        assert route.name is not None
        old = self._store.get(self._key(route.rt, route.namespace, route.name))
        if old is None:
            raise self._not_found(route.rt, route.name)
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        new = copy.deepcopy(body)
        meta = new.setdefault("metadata", {})
        if meta.get("name") != route.name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the "
                           "name on the URL")
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on '
                           f'{route.rt.qualified} "{route.name}": the object has been '
                           "modified; please apply your changes to the latest version and "
                           "try again")
        self._admit(route, new, route.name)
        self._keep_system_metadata(old, new, route)
        self._track_update(old, new, manager, new["apiVersion"])
        return self._commit(route, old, new, dry_run)

    def _keep_system_metadata(self, old: Obj, new: Obj, route: _Route) -> None:
        for system in ("uid", "creationTimestamp", "generation", "namespace", "name"):
            if system in old["metadata"]:
                new["metadata"][system] = old["metadata"][system]
        new["metadata"]["managedFields"] = copy.deepcopy(
            old["metadata"].get("managedFields", []))
        new["apiVersion"] = route.rt.api_version(route.version)
        new["kind"] = route.rt.kind

    def patch(self, route: _Route, body: Any, content_type: str, manager: str,
              dry_run: bool) -> Obj:
        """Answer a merge or strategic-merge PATCH."""
        assert route.name is not None
        old = self._store.get(self._key(route.rt, route.namespace, route.name))
        if old is None:
            raise self._not_found(route.rt, route.name)
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", f"a {content_type} patch must be a JSON object")
        new = _merge_patch(old, body)
        self._admit(route, new, route.name)
        self._keep_system_metadata(old, new, route)
        # A merge patch may carry a resourceVersion precondition, as kubectl edit does.
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on '
                           f'{route.rt.qualified} "{route.name}": the object has been modified')
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        self._track_update(old, new, manager, new["apiVersion"])
        return self._commit(route, old, new, dry_run)

    def apply(self, route: _Route, body: Any, manager: str | None, force: bool,
              dry_run: bool) -> tuple[int, Obj]:
        """Answer a server-side apply; returns (201 if created else 200, object)."""
        assert route.name is not None
        if not manager:
            raise ApiError(400, "BadRequest", "PATCH requests with apply content type must "
                           "specify fieldManager")
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the apply configuration must be an object")
        if not body.get("apiVersion") or not body.get("kind"):
            raise ApiError(400, "BadRequest", "apiVersion and kind must be set in the apply "
                           "configuration")
        if (body.get("metadata") or {}).get("name") != route.name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the "
                           "name on the URL")
        config = copy.deepcopy(body)
        self._admit(route, config, route.name)
        key = self._key(route.rt, route.namespace, route.name)
        old = self._store.get(key)
        api_version = route.rt.api_version(route.version)
        applied = _field_paths(config)
        if old is None:
            new = self._prepare_new(route, {"metadata": {"name": route.name}})
            entries: list[_ManagerEntry] = []
        else:
            new = copy.deepcopy(old)
            entries = _read_managers(old)
        conflicts: dict[str, list[FieldPath]] = {}
        for entry in entries:
            if entry.manager == manager and entry.operation == "Apply":
                continue
            for path in sorted(entry.fields & applied):
                if _get_path(new, path) != _get_path(config, path):
                    conflicts.setdefault(entry.manager, []).append(path)
        if conflicts and not force:
            raise ApiError(409, "Conflict", _conflict_message(conflicts),
                           {"causes": [
                               {"reason": "FieldManagerConflict",
                                "message": f'conflict with "{m}"',
                                "field": _path_str(p)}
                               for m, paths in conflicts.items() for p in paths]})
        mine = next((e for e in entries if e.manager == manager and e.operation == "Apply"),
                    None)
        if mine is None:
            mine = _ManagerEntry(manager, "Apply", api_version, _now())
            entries.append(mine)
        for entry in entries:
            if entry is not mine and entry.manager in conflicts:
                entry.fields -= set(conflicts[entry.manager])
        others = set().union(*(e.fields for e in entries if e is not mine))
        for path in mine.fields - applied - others:  # fields this manager stopped applying
            _del_path(new, path)
        for path in applied:
            _set_path(new, path, _get_path(config, path))
        mine.fields = applied
        mine.time = _now()
        mine.api_version = api_version
        _write_managers(new, entries)
        out = self._commit(route, old, new, dry_run)
        return (201 if old is None else 200), out

    def delete(self, route: _Route, dry_run: bool) -> Obj:
        """Answer a DELETE of one object."""
        assert route.name is not None
        key = self._key(route.rt, route.namespace, route.name)
        obj = self._store.get(key)
        if obj is None:
            raise self._not_found(route.rt, route.name)
        if not dry_run:
            del self._store[key]
            self._next_rv()
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": route.name, "group": route.rt.group, "kind": route.rt.plural,
                        "uid": obj["metadata"].get("uid")},
        }


def _conflict_message(conflicts: dict[str, list[FieldPath]]) -> str:
    total = sum(len(paths) for paths in conflicts.values())
    parts = []
    for manager, paths in conflicts.items():
        if len(paths) == 1:
            parts.append(f'conflict with "{manager}": {_path_str(paths[0])}')
        else:
            parts.append(f'conflicts with "{manager}":\n' +
                         "\n".join(f"- {_path_str(p)}" for p in paths))
    noun = "conflict" if total == 1 else "conflicts"
    return f"Apply failed with {total} {noun}: " + "\n".join(parts)


def _table(route: _Route, listing: Obj, include: str) -> Obj:
    """Render a list (or one object) as a meta.k8s.io/v1 Table, for ``kubectl get``."""
    items = listing.get("items", [listing])
    rows = []
    now = datetime.now(UTC)
    for item in items:
        meta = item.get("metadata") or {} if isinstance(item, dict) else {}
        age = "<unknown>"
        created = meta.get("creationTimestamp")
        if isinstance(created, str):
            try:
                seconds = (now - datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
                           .replace(tzinfo=UTC)).total_seconds()
                age = f"{int(seconds // 60)}m" if seconds >= 60 else f"{int(seconds)}s"
            except ValueError:
                pass
        row: Obj = {"cells": [meta.get("name", ""), age]}
        if include == "Object":
            row["object"] = item
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": meta}
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {k: v for k, v in (listing.get("metadata") or {}).items()
                     if k in ("resourceVersion", "continue", "remainingItemCount")}
        if "items" in listing else {},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "priority": 0,
             "description": "Name must be unique within a namespace."},
            {"name": "Age", "type": "string", "format": "", "priority": 0,
             "description": "Time since creation."},
        ],
        "rows": rows,
    }


class _QuietServer(ThreadingHTTPServer):
    """A threading server that does not print a traceback when a client hangs up or fails
    the TLS handshake (tests provoke both on purpose)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore per-connection errors; the client sees them."""


class _Handler(BaseHTTPRequestHandler):
    """HTTP front of :class:`KubeAPIServer` (one instance per request)."""

    api: KubeAPIServer
    protocol_version = "HTTP/1.1"
    server_version = "meshplan-kubeapi/1"

    def setup(self) -> None:
        """Turn off Nagle: headers and body go out in two writes, and with delayed ACKs
        every response would otherwise wait ~40 ms."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet; the request log is the record."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _send(self, status: int, body: Obj, headers: dict[str, str] | None = None) -> None:
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        api = self.api
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        raw_body = self._body()
        route = api.route(path)
        verb = self._verb(route, query)
        with api._lock:
            api.in_flight += 1
            api.max_in_flight = max(api.max_in_flight, api.in_flight)
        try:
            status, body, headers = self._dispatch(api, query, raw_body, route, verb, path)
        finally:
            with api._lock:
                api.in_flight -= 1
        # Record before answering: a client that reacts to the answer (a test asserting on
        # the log right after its last call) must already see this request.
        api._record(RequestRecord(
            method=self.command,
            path=path,
            query=query,
            status=status,
            verb=verb,
            resource=route.rt.qualified if route else None,
            namespace=route.namespace if route else None,
            name=route.name if route else None,
            content_type=self.headers.get("Content-Type"),
            user_agent=self.headers.get("User-Agent"),
        ))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(status, body, headers)

    def _verb(self, route: _Route | None, query: dict[str, str]) -> str:
        method = self.command
        if route is None:
            return "discovery" if method == "GET" else "other"
        if method == "GET":
            if query.get("watch") in ("true", "1"):
                return "watch"
            return "get" if route.name else "list"
        if method == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            return "apply" if ctype == "application/apply-patch+yaml" else "patch"
        return {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(method, "other")

    def _dispatch(self, api: KubeAPIServer, query: dict[str, str], raw_body: bytes,
                  route: _Route | None, verb: str,
                  path: str) -> tuple[int, Obj, dict[str, str]]:
        """Authenticate, inject faults, serve; returns (status, body, extra headers)."""
        try:
            auth = self.headers.get("Authorization") or ""
            if auth != f"Bearer {api.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            resource = route.rt.qualified if route else None
            namespace = route.namespace if route else None
            fault = api._take_fault(verb, resource, namespace, bool(query.get("continue")))
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status:
                    raise self._fault_error(api, fault, route, verb)
            status, body = self._serve(api, path, query, raw_body, route, verb)
        except ApiError as err:
            return err.code, err.status(), err.headers
        except Exception as err:  # a bug in the test server: say so instead of hanging up
            bug = ApiError(500, "InternalError", f"test server bug: {type(err).__name__}: {err}")
            return 500, bug.status(), {}
        return status, body, {}

    def _fault_error(self, api: KubeAPIServer, fault: Fault, route: _Route | None,
                     verb: str) -> ApiError:
        rt = route.rt if route else None
        if fault.status == 403:
            what = rt.qualified if rt else "resource"
            if route and route.name:
                what += f' "{route.name}"'
            scope = (f'in the namespace "{route.namespace}"' if route and route.namespace
                     else "at the cluster scope")
            message = fault.message or (
                f'{what} is forbidden: User "{api.user}" cannot {verb} resource '
                f'"{rt.plural if rt else ""}" in API group "{rt.group if rt else ""}" {scope}')
            return ApiError(403, "Forbidden", message,
                            {"group": rt.group if rt else "", "kind": rt.plural if rt else ""})
        if fault.status == 410:
            return ApiError(410, "Expired", fault.message or (
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."))
        if fault.status == 429:
            seconds = 1 if fault.retry_after is None else fault.retry_after
            headers = {"Retry-After": str(seconds)}
            return ApiError(429, "TooManyRequests", fault.message or
                            "Too many requests, please try again later.",
                            {"retryAfterSeconds": seconds}, headers)
        reasons = {500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
                   409: "Conflict", 404: "NotFound"}
        return ApiError(fault.status, fault.reason or reasons.get(fault.status, "InternalError"),
                        fault.message or "Internal error occurred: injected by the test")

    def _serve(self, api: KubeAPIServer, path: str, query: dict[str, str], raw_body: bytes,
               route: _Route | None, verb: str) -> tuple[int, Obj]:
        if route is None:
            doc = api.discovery(path) if self.command == "GET" else None
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested "
                               "resource")
            return 200, doc
        if route.subresource is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        dry_run = query.get("dryRun") == "All"
        if "dryRun" in query and not dry_run:
            raise ApiError(400, "BadRequest", f"unsupported dryRun value {query['dryRun']!r}")
        manager = query.get("fieldManager") or (
            (self.headers.get("User-Agent") or "unknown").split("/")[0][:128])
        with api._lock:
            api.cluster.tick()
            if verb == "watch":
                raise ApiError(405, "MethodNotAllowed", "watch is not supported by the test "
                               "server")
            if verb == "list":
                listing = api.list_objects(route, query)
                return 200, self._maybe_table(route, listing, query)
            if verb == "get":
                return 200, self._maybe_table(route, api.get_object(route), query)
            if verb == "create" and route.name is None:
                return 201, api.create(route, self._json(raw_body), manager, dry_run)
            if route.name is None:
                raise ApiError(405, "MethodNotAllowed", f"{self.command} is not supported on "
                               "a collection by the test server")
            if verb == "update":
                return 200, api.replace(route, self._json(raw_body), manager, dry_run)
            if verb == "delete":
                return 200, api.delete(route, dry_run)
            if verb == "apply":
                try:
                    body = yaml.safe_load(raw_body.decode() or "{}")
                except (yaml.YAMLError, UnicodeDecodeError) as err:
                    raise ApiError(400, "BadRequest", f"error decoding YAML: {err}") from err
                force = query.get("force") in ("true", "1")
                return api.apply(route, body, query.get("fieldManager"), force, dry_run)
            if verb == "patch":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                if ctype not in ("application/merge-patch+json",
                                 "application/strategic-merge-patch+json"):
                    raise ApiError(415, "UnsupportedMediaType",
                                   f"the body of the request was in an unknown format - "
                                   f"accepted media types include: application/merge-patch+json, "
                                   f"application/strategic-merge-patch+json, "
                                   f"application/apply-patch+yaml (got {ctype!r})")
                return 200, api.patch(route, self._json(raw_body), ctype, manager, dry_run)
        raise ApiError(405, "MethodNotAllowed", f"{self.command} is not supported")

    def _json(self, raw: bytes) -> Any:
        try:
            return json.loads(raw or b"null")
        except ValueError as err:
            raise ApiError(400, "BadRequest", f"error decoding JSON: {err}") from err

    def _maybe_table(self, route: _Route, body: Obj, query: dict[str, str]) -> Obj:
        accept = self.headers.get("Accept") or ""
        if "as=Table" in accept:
            return _table(route, body, query.get("includeObject", "Metadata"))
        return body
