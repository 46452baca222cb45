"""Canonical serialisation shared by every machine-readable output.

Determinism rules: mapping keys sorted at every level, except that ``schemaVersion`` comes first
in a document; lists keep the order the domain gave them (the domain sorts); no timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

import yaml

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def to_wire(value: Any) -> Any:
    """Convert dataclasses, enums, mappings and tuples into plain JSON types, keys sorted."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    convert = _CONVERTERS.get(kind)
    if convert is None:
        convert = _CONVERTERS[kind] = _converter_for(value)
    return convert(value)


#: Field annotations whose values are already JSON scalars: copied without a call.
_SCALAR_ANNOTATIONS = frozenset({"str", "int", "float", "bool", "str | None", "int | None",
                                 "float | None", "bool | None"})


def _converter_for(value: Any) -> Callable[[Any], Any]:
    # One converter per type, built once: a 10,000-service inventory converts ~10^6 values.
    # For a dataclass it is a generated dict display (as `dataclasses` generates __init__),
    # keys in sorted order, scalar-typed fields copied as they are.
    if is_dataclass(value) and not isinstance(value, type):
        entries = []
        for f in sorted(fields(value), key=lambda f: f.name):
            annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            getter = f"o.{f.name}"
            if annotation in _SCALAR_ANNOTATIONS:
                entry = getter
            elif annotation == "Mapping[str, str]":
                entry = f"dict(sorted({getter}.items()))"
            elif annotation == "tuple[str, ...]":
                entry = f"list({getter})"
            else:
                entry = f"_wire({getter})"
            entries.append(f"{f.name!r}: {entry}")
        source = "lambda o: {" + ", ".join(entries) + "}"
        convert: Callable[[Any], Any] = eval(source, {"_wire": to_wire})
        return convert
    if isinstance(value, Enum):
        return lambda obj: obj.value
    if isinstance(value, Mapping):
        return _convert_mapping
    if isinstance(value, (list, tuple)):
        return lambda obj: [v if type(v) in _SCALARS else to_wire(v) for v in obj]
    return lambda obj: obj


def _convert_mapping(obj: Mapping[Any, Any]) -> dict[str, Any]:
    if not obj:
        return {}
    try:
        items = sorted(obj.items())
    except TypeError:  # mixed key types (YAML allows `8080:` beside `name:`)
        items = sorted(obj.items(), key=lambda kv: str(kv[0]))
    return {k if type(k) is str else str(k): v if type(v) in _SCALARS else to_wire(v)
            for k, v in items}


def document(schema_version: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A top-level document: ``schemaVersion`` first, then the body's keys sorted."""
    doc: dict[str, Any] = {"schemaVersion": schema_version}
    for key in sorted(body):
        doc[key] = to_wire(body[key])
    return doc


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


def dump_json(data: Any) -> str:
    """Deterministic JSON text with a trailing newline.

    The top level is laid out one key per line and one list item per line, each item compact:
    diffs stay readable per object, and the C encoder does the bulk (an indented dump runs
    the pure-Python encoder, several times slower on a 10,000-service inventory).
    """
    if not isinstance(data, dict):
        return _COMPACT.encode(data) + "\n"
    lines = []
    for key, value in data.items():
        name = _COMPACT.encode(key)
        if isinstance(value, list) and value:
            items = ",\n".join("    " + _COMPACT.encode(v) for v in value)
            lines.append(f"  {name}: [\n{items}\n  ]")
        else:
            lines.append(f"  {name}: {_COMPACT.encode(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def dump_yaml(data: Any) -> str:
    """Deterministic YAML text (block style, key order preserved as given)."""
    return str(yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=1000))


def dump_yaml_all(documents: list[Any]) -> str:
    """Deterministic multi-document YAML."""
    return str(yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False,
                             default_flow_style=False, allow_unicode=True, width=1000))
