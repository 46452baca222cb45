"""The test API server's object store: objects by key, resource versions, the served types
(discovery and URL routing), reads (get, list with selectors and paging) and the admission and
commit every write goes through. The write verbs are in :mod:`tests.kubeapi.writes`."""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.kubeapi.resources import ALL_VERBS, ResourceType
from tests.kubeapi.selectors import SelectorError, parse_field_selector, parse_selector

if TYPE_CHECKING:
    from tests.kubeapi.cluster_sim import ClusterSim

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # group, plural, namespace ("" if cluster-scoped), name

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_UID_NAMESPACE = uuid.UUID("6f1d3c52-9a59-4a0e-8f43-6b5d1a3c7e21")
# Top-level keys that are never "owned" by a field manager.
UNMANAGED_TOP = frozenset({"apiVersion", "kind", "metadata", "status"})


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


@dataclass
class Route:
    """A parsed resource URL."""

    rt: ResourceType
    version: str
    namespace: str | None
    name: str | None
    subresource: str | None = None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ObjectStore:
    """The store half of :class:`~tests.kubeapi.server.KubeAPIServer` (which sets these
    attributes up): every method runs under ``_lock`` or takes it."""

    types: tuple[ResourceType, ...]
    strict_namespaces: bool
    cluster: ClusterSim
    _lock: threading.RLock
    _store: dict[Key, Obj]
    _rv: int
    #: Raw items appended to the last page of every list of a resource (``inject_items``).
    _extra_items: dict[str, list[Any]]

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
                meta.setdefault("creationTimestamp", now())
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

    def route(self, path: str) -> Route | None:
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
                return Route(rt, version, namespace, name, sub)
        return None

    # resource operations (all under the lock; each returns (status, body))

    def _out(self, obj: Obj, route: Route) -> Obj:
        out = copy.deepcopy(obj)
        out["apiVersion"] = route.rt.api_version(route.version)
        out["kind"] = route.rt.kind
        return out

    def _not_found(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found',
                        {"name": name, "group": rt.group, "kind": rt.plural})

    def list_objects(self, route: Route, query: dict[str, str]) -> Obj:
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

    def get_object(self, route: Route) -> Obj:
        """Answer a get request."""
        assert route.name is not None
        obj = self._store.get(self._key(route.rt, route.namespace, route.name))
        if obj is None:
            raise self._not_found(route.rt, route.name)
        return self._out(obj, route)

    def _admit(self, route: Route, obj: Obj, name: str) -> None:
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

    def _prepare_new(self, route: Route, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        if route.rt.namespaced:
            meta["namespace"] = route.namespace
        else:
            meta.pop("namespace", None)
        for volatile in ("uid", "resourceVersion", "creationTimestamp", "managedFields",
                         "generation", "deletionTimestamp"):
            meta.pop(volatile, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta["generation"] = 1
        obj["apiVersion"] = route.rt.api_version(route.version)
        obj["kind"] = route.rt.kind
        if route.rt.kind == "Namespace":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj.setdefault("status", {"phase": "Active"})
        return obj

    def _commit(self, route: Route, old: Obj | None, new: Obj, dry_run: bool) -> Obj:
        """Bump generation/resourceVersion and store (unless dry run); return the output."""
        if old is not None:
            spec_old = {k: v for k, v in old.items() if k not in UNMANAGED_TOP}
            spec_new = {k: v for k, v in new.items() if k not in UNMANAGED_TOP}
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
