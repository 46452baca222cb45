"""A kubeconfig checked before the ``kubernetes`` client loads it.

The client's loader trusts the file: a YAML syntax error escapes as a ``yaml`` exception and a
mistyped field (``server: 5``) as ``AttributeError`` deep inside it, which would read as a bug
of ours. kubectl refuses such a file with a message naming the field; so does this module,
raising :class:`~planner.errors.ClusterError` (exit 5, docs/exit-codes.md) that names the file
and the field and never a value (a kubeconfig holds credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import yaml

from planner.errors import ClusterError

#: The fields of each named entry kubectl's types declare (k8s.io/client-go/tools/clientcmd/
#: api/v1), with the type the loader needs; others are left to the loader.
_FIELDS: Final[dict[str, tuple[str, dict[str, type]]]] = {
    "clusters": ("cluster", {
        "server": str, "tls-server-name": str, "insecure-skip-tls-verify": bool,
        "certificate-authority": str, "certificate-authority-data": str, "proxy-url": str,
        "disable-compression": bool}),
    "contexts": ("context", {"cluster": str, "user": str, "namespace": str}),
    "users": ("user", {
        "client-certificate": str, "client-certificate-data": str, "client-key": str,
        "client-key-data": str, "token": str, "tokenFile": str, "as": str,
        "as-uid": str, "username": str, "password": str, "auth-provider": dict,
        "exec": dict}),
}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _wrong(path: str, field: str, expected: str, value: Any) -> ClusterError:
    """The error for a field of the wrong type; names the type, never the value."""
    return ClusterError(f"kubeconfig {path}: {field} must be {expected}, not "
                        f"{_type_name(value)}")


def check_kubeconfig(path: str) -> None:
    """Raise ``ClusterError`` when the kubeconfig at ``path`` is not YAML or a field the client
    reads has the wrong type; an unreadable file is left to the loader's own error."""
    try:
        with open(path, encoding="utf-8") as stream:
            doc = yaml.safe_load(stream)
    except OSError:
        return
    except UnicodeDecodeError:
        raise ClusterError(f"kubeconfig {path} is not UTF-8 text") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "not YAML"
        raise ClusterError(f"kubeconfig {path}: YAML syntax error{where}: {problem}") from None
    if doc is None:
        return
    if not isinstance(doc, Mapping):
        raise ClusterError(f"kubeconfig {path} is not a mapping (got {_type_name(doc)})")
    for key in ("current-context", "apiVersion", "kind"):
        if key in doc and doc[key] is not None and not isinstance(doc[key], str):
            raise _wrong(path, key, "a string", doc[key])
    for section, (inner, fields) in _FIELDS.items():
        entries = doc.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise _wrong(path, section, "a list", entries)
        for i, entry in enumerate(entries):
            _check_entry(path, f"{section}[{i}]", entry, inner, fields)


def _check_entry(path: str, where: str, entry: Any, inner: str,
                 fields: Mapping[str, type]) -> None:
    if not isinstance(entry, Mapping):
        raise _wrong(path, where, "a mapping", entry)
    name = entry.get("name")
    if not isinstance(name, str):
        raise _wrong(path, f"{where}.name", "a string", name)
    body = entry.get(inner)
    if body is None:
        return
    if not isinstance(body, Mapping):
        raise _wrong(path, f"{where} ({name}): {inner}", "a mapping", body)
    for key, wanted in fields.items():
        value = body.get(key)
        # bool is an int in Python; only the exact type passes.
        if value is not None and type(value) is not wanted:
            expected = {str: "a string", bool: "true or false", dict: "a mapping"}[wanted]
            raise _wrong(path, f"{where} ({name}): {inner}.{key}", expected, value)
