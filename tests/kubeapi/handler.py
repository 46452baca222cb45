"""The HTTP front of the test API server: one handler per request (authentication, the
injected faults, then the store), the request log's records, and ``kubectl get``'s tables."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.kubeapi.store import ApiError, Obj, Route

if TYPE_CHECKING:
    from tests.kubeapi.server import KubeAPIServer


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


def _table(route: Route, listing: Obj, include: str) -> Obj:
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


class QuietServer(ThreadingHTTPServer):
    """A threading server that does not print a traceback when a client hangs up or fails
    the TLS handshake (tests provoke both on purpose)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore per-connection errors; the client sees them."""


class ApiHandler(BaseHTTPRequestHandler):
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

    def _verb(self, route: Route | None, query: dict[str, str]) -> str:
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
                  route: Route | None, verb: str,
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
                    raise api.fault_error(fault, route, verb)
            status, body = self._serve(api, path, query, raw_body, route, verb)
        except ApiError as err:
            return err.code, err.status(), err.headers
        except Exception as err:  # a bug in the test server: say so instead of hanging up
            bug = ApiError(500, "InternalError", f"test server bug: {type(err).__name__}: {err}")
            return 500, bug.status(), {}
        return status, body, {}

    def _serve(self, api: KubeAPIServer, path: str, query: dict[str, str], raw_body: bytes,
               route: Route | None, verb: str) -> tuple[int, Obj]:
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

    def _maybe_table(self, route: Route, body: Obj, query: dict[str, str]) -> Obj:
        accept = self.headers.get("Accept") or ""
        if "as=Table" in accept:
            return _table(route, body, query.get("includeObject", "Metadata"))
        return body
