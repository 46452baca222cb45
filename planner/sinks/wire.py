"""Canonical serialisation shared by every machine-readable output.

Determinism rules: mapping keys sorted at every level, except that ``schemaVersion`` comes first
in a document; lists keep the order the domain gave them (the domain sorts); no timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

import yaml

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def to_wire(value: Any) -> Any:
    """Convert dataclasses, enums, mappings and tuples into plain JSON types, keys sorted."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in sorted(fields(value),
                                                                          key=lambda f: f.name)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_wire(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


def document(schema_version: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A top-level document: ``schemaVersion`` first, then the body's keys sorted."""
    doc: dict[str, Any] = {"schemaVersion": schema_version}
    for key in sorted(body):
        doc[key] = to_wire(body[key])
    return doc


def dump_json(data: Any) -> str:
    """Deterministic JSON text with a trailing newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def dump_yaml(data: Any) -> str:
    """Deterministic YAML text (block style, key order preserved as given)."""
    return str(yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         allow_unicode=True, width=1000))


def dump_yaml_all(documents: list[Any]) -> str:
    """Deterministic multi-document YAML."""
    return str(yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False,
                             default_flow_style=False, allow_unicode=True, width=1000))
