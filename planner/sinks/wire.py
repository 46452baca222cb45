"""Canonical serialisation shared by every machine-readable output.

Determinism rules: mapping keys sorted at every level, except that ``schemaVersion`` comes first
in a document; lists keep the order the domain gave them (the domain sorts); no timestamps.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import fields, is_dataclass
from datetime import date, time
from enum import Enum
from typing import Any

import orjson

_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def to_wire(value: Any) -> Any:
    """Convert dataclasses, named tuples, enums, mappings and tuples into plain JSON types, keys
    sorted."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    convert = _CONVERTERS.get(kind)
    if convert is None:
        convert = _CONVERTERS[kind] = _converter_for(value)
    return convert(value)


#: Field annotations whose values are already JSON scalars: copied without a call.
_SCALAR_ANNOTATIONS = frozenset({"str", "int", "float", "bool", "str | None", "int | None",
                                 "float | None", "bool | None", "int | str | None"})


#: How a wire key is computed from the whole object ``o``: a callable, or a Python expression
#: inlined into the generated converter (``"o.ref.kind"``); None leaves a field out. See
#: :func:`dataclass_converter`.
Override = Callable[[Any], Any] | str | None


def dataclass_converter(cls: type, overrides: Mapping[str, Override] | None = None, *,
                        native: Collection[type] = ()) -> Callable[[Any], dict[str, Any]]:
    """A converter for instances of the dataclass (or named tuple) ``cls``: their fields as a
    dict, keys sorted.

    ``overrides`` reshapes the result in the same single pass: a key mapped to a callable or an
    expression is computed by it (replacing a field of that name, if any); a field mapped to
    None is left out. A sink that renames or flattens fields thus needs no second walk.

    Fields holding objects of a ``native`` class (or tuples of them) are left as they are, for
    :func:`json_bytes`: orjson writes a dataclass's instance dict, which ``__init__`` fills in
    declaration order, so a native class must declare its fields sorted, hold only scalars and
    native objects, and have no cached properties (they would land in that dict). With
    ``native`` given, string maps (labels, annotations) are left unsorted too: json_bytes sorts.
    """
    # One converter per type, built once: a 10,000-service inventory converts ~10^6 values.
    # It is a generated dict display (as `dataclasses` generates __init__): scalar fields are
    # copied, nested objects of a type named in the annotation call that type's converter
    # directly, and only fields of unknown type go through the generic to_wire.
    namespace: dict[str, Any] = {"_wire": to_wire, "_mapping": _convert_mapping,
                                 "_str_mapping": _convert_str_mapping}
    entries: dict[str, str] = {}
    for name, annotation in _field_annotations(cls):
        getter = f"o.{name}"
        target = _element_type(cls, annotation)
        passed_on = (target is not None and target in native) or (
            native and annotation == "Mapping[str, str]")  # json_bytes sorts every map
        element = None
        if target is not None and not passed_on:
            element = f"_convert_{target.__name__}"
            namespace[element] = _type_converter(target)
        if passed_on or annotation in _SCALAR_ANNOTATIONS:
            entries[name] = getter
        elif annotation == "Mapping[str, str]":
            entries[name] = f"_str_mapping({getter})"
        elif annotation.startswith("Mapping["):
            entries[name] = f"_mapping({getter})"
        elif annotation == "tuple[str, ...]":
            entries[name] = f"list({getter})"
        elif annotation.startswith("tuple[") and element:
            entries[name] = f"[{element}(v) for v in {getter}]"
        elif annotation.startswith("tuple["):
            entries[name] = f"[_wire(v) for v in {getter}]"
        elif element and annotation.endswith(" | None"):
            entries[name] = f"(None if {getter} is None else {element}({getter}))"
        elif element:
            entries[name] = f"{element}({getter})"
        else:
            entries[name] = f"_wire({getter})"
    for key, override in (overrides or {}).items():
        if override is None:
            entries.pop(key)
        elif isinstance(override, str):
            entries[key] = override
        else:
            function = f"_override{len(namespace)}"
            namespace[function] = override
            entries[key] = f"{function}(o)"
    source = "lambda o: {" + ", ".join(f"{key!r}: {entries[key]}" for key in sorted(entries)) + "}"
    convert: Callable[[Any], dict[str, Any]] = eval(source, namespace)
    return convert


def _field_annotations(cls: type) -> list[tuple[str, str]]:
    """(name, annotation text) of each field of a dataclass or named tuple."""
    if is_dataclass(cls):
        return [(f.name, f.type if isinstance(f.type, str) else getattr(f.type, "__name__", ""))
                for f in fields(cls)]
    hints = getattr(cls, "__annotations__", {})
    return [(name, str(hints.get(name, ""))) for name in getattr(cls, "_fields", ())]


def _element_type(cls: type, annotation: str) -> type | None:
    """The object type an annotation names (``X``, ``X | None``, ``tuple[X, ...]``), when ``X``
    is a dataclass or named tuple of the module defining ``cls``; None otherwise."""
    name = annotation.removesuffix(" | None")
    if name.startswith("tuple[") and name.endswith(", ...]"):
        name = name[len("tuple["):-len(", ...]")]
    target = vars(sys.modules[cls.__module__]).get(name)
    if not isinstance(target, type) or not (is_dataclass(target) or hasattr(target, "_fields")):
        return None
    return target


def _type_converter(kind: type) -> Callable[[Any], Any]:
    convert = _CONVERTERS.get(kind)
    if convert is None:
        convert = _CONVERTERS[kind] = dataclass_converter(kind)
    return convert


def _converter_for(value: Any) -> Callable[[Any], Any]:
    if is_dataclass(value) and not isinstance(value, type):
        return dataclass_converter(type(value))
    if isinstance(value, Enum):
        return lambda obj: obj.value
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple: an object
        return dataclass_converter(type(value))
    if isinstance(value, Mapping):
        return _convert_mapping
    if isinstance(value, (list, tuple)):
        return lambda obj: [v if type(v) in _SCALARS else to_wire(v) for v in obj]
    return lambda obj: obj


def _convert_str_mapping(obj: Mapping[str, str]) -> dict[str, str]:
    # Labels, annotations, selectors: string keys and values, so sorting is all there is.
    return dict(sorted(obj.items())) if obj else {}


def _convert_mapping(obj: Mapping[Any, Any]) -> dict[str, Any]:
    if not obj:
        return {}
    try:
        items = sorted(obj.items())
    except TypeError:  # mixed key types (YAML allows `8080:` beside `name:`)
        items = sorted(obj.items(), key=lambda kv: str(kv[0]))
    return {k if type(k) is str else str(k): v if type(v) in _SCALARS else to_wire(v)
            for k, v in items}


def document(schema_version: str, body: Mapping[str, Any], *, converted: bool = False
             ) -> dict[str, Any]:
    """A top-level document: ``schemaVersion`` first, then the body's keys sorted.

    ``converted`` says the body's values are wire values already, so they are not walked again
    (a second walk over a 10,000-service inventory costs as much as converting it).
    """
    doc: dict[str, Any] = {"schemaVersion": schema_version}
    for key in sorted(body):
        doc[key] = body[key] if converted else to_wire(body[key])
    return doc


#: Two-space indentation, as ``jq .`` prints; orjson writes 10^7 bytes in a few hundredths of a
#: second, where the standard library's indenting encoder is pure Python (several times slower).
#: Keys sorted at every level, whatever order a document was built in.
_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_SORT_KEYS

#: orjson refuses integers outside 64 bits; the Kubernetes API has none, a hand-written spec may.
_INT64 = range(-(2**63), 2**64)


def json_bytes(data: Any) -> bytes:
    """Deterministic JSON of wire data, UTF-8: two-space indentation, keys sorted except that a
    document's ``schemaVersion`` comes first, trailing newline."""
    return b"".join(json_chunks(data))


#: List items written per orjson call: about a megabyte of output, whose buffer the next call
#: reuses. One call for a whole 10,000-service inventory grew its buffer by copies that touched
#: ~90 MB of fresh memory for 24 MB of text (page faults cost ~2.5 us each here).
_BATCH = 500


def json_chunks(data: Any) -> Iterator[bytes | memoryview]:
    """:func:`json_bytes` in pieces to write one after the other (same bytes once joined)."""
    if type(data) is not dict or not data:
        yield _dumps(data)
        return
    keys = sorted(data)
    if "schemaVersion" in data:
        keys.remove("schemaVersion")
        keys.insert(0, "schemaVersion")
    yield b"{\n"
    for index, key in enumerate(keys):
        value = data[key]
        if type(value) is list and len(value) > _BATCH:
            yield from _list_member(key, value)
        else:
            # b'{\n  "key": VALUE\n}\n' holds the member indented as in the document.
            yield memoryview(_dumps({key: value}))[2:-3]
        yield b",\n" if index < len(keys) - 1 else b"\n}\n"


def _list_member(key: str, items: list[Any]) -> Iterator[bytes | memoryview]:
    """A top-level ``"key": [...]`` member, its items serialized a batch at a time."""
    for start in range(0, len(items), _BATCH):
        # b'{\n  "key": [\n    ITEMS\n  ]\n}\n': ITEMS are indented as in the document.
        text = _dumps({key: items[start:start + _BATCH]})
        head = text.index(b"[\n") + 2
        if start == 0:
            yield memoryview(text)[2:head]
        else:
            yield b",\n"
        yield memoryview(text)[head:-7]
    yield b"\n  ]"


def _dumps(data: Any, options: int | None = None) -> bytes:
    if options is None:
        options = _JSON_OPTIONS
    try:
        return orjson.dumps(data, option=options, default=_unencodable)
    except orjson.JSONEncodeError:
        # Only an out-of-range integer gets here (every other value is converted by to_wire):
        # print it as a string rather than fail the whole output.
        return orjson.dumps(_big_ints_as_strings(data), option=options, default=_unencodable)


def canonical_json(data: Any) -> bytes:
    """Wire data as compact JSON with every key sorted: for hashing, not for people."""
    return _dumps(data, orjson.OPT_SORT_KEYS)


def dump_json(data: Any) -> str:
    """:func:`json_bytes` as text."""
    return json_bytes(data).decode()


def _unencodable(value: Any) -> Any:
    # Dates and times that YAML parsed into objects, found in free-form specs: ISO text, as the
    # API server would return them.
    if isinstance(value, (date, time)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _big_ints_as_strings(value: Any) -> Any:
    if type(value) is int and value not in _INT64:
        return str(value)
    if isinstance(value, dict):
        return {k: _big_ints_as_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return [_big_ints_as_strings(v) for v in value]
    if is_dataclass(value):  # a native value object (see dataclass_converter)
        return _big_ints_as_strings(to_wire(value))
    return value


def dump_yaml(data: Any) -> str:
    """Deterministic YAML text (block style, key order preserved as given)."""
    return dump_yaml_all([data])


def dump_yaml_all(documents: list[Any]) -> str:
    """Deterministic multi-document YAML."""
    # Imported here: JSON output never needs PyYAML, whose import is not free.
    import yaml

    dumper: type[yaml.SafeDumper] | type[yaml.CSafeDumper] = getattr(
        yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump_all(documents, Dumper=dumper, sort_keys=False,
                             default_flow_style=False, allow_unicode=True, width=1000))
