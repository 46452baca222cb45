"""The write verbs of the test API server and their semantics: create, update with optimistic
concurrency on ``resourceVersion``, JSON merge patch, server-side apply with field managers
(``managedFields`` at the granularity of top-level spec keys, labels and annotations; conflicts
unless forced), delete."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.kubeapi.store import UNMANAGED_TOP, ApiError, Obj, ObjectStore, Route, now

FieldPath = tuple[str, ...]


@dataclass
class _ManagerEntry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    fields: set[FieldPath] = field(default_factory=set)


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
        if top in UNMANAGED_TOP:
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


class Writes(ObjectStore):
    """The write verbs on the store (each runs under the store's lock)."""

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
            target = _ManagerEntry(manager, "Update", api_version, now())
            entries.append(target)
        target.fields |= changed & after
        target.time = now()
        _write_managers(new, entries)

    def create(self, route: Route, body: Any, manager: str, dry_run: bool) -> Obj:
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

    def replace(self, route: Route, body: Any, manager: str, dry_run: bool) -> Obj:
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

    def _keep_system_metadata(self, old: Obj, new: Obj, route: Route) -> None:
        for system in ("uid", "creationTimestamp", "generation", "namespace", "name"):
            if system in old["metadata"]:
                new["metadata"][system] = old["metadata"][system]
        new["metadata"]["managedFields"] = copy.deepcopy(
            old["metadata"].get("managedFields", []))
        new["apiVersion"] = route.rt.api_version(route.version)
        new["kind"] = route.rt.kind

    def patch(self, route: Route, body: Any, content_type: str, manager: str,
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

    def apply(self, route: Route, body: Any, manager: str | None, force: bool,
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
            mine = _ManagerEntry(manager, "Apply", api_version, now())
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
        mine.time = now()
        mine.api_version = api_version
        _write_managers(new, entries)
        out = self._commit(route, old, new, dry_run)
        return (201 if old is None else 200), out

    def delete(self, route: Route, dry_run: bool) -> Obj:
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
