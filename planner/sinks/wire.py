"""Canonical serialisation shared by every machine-readable output.

Determinism rules: mapping keys sorted at every level, except that ``schemaVersion`` comes first
in a document; lists keep the order the domain gave them (the domain sorts); no timestamps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import is_dataclass
from datetime import date, time
from enum import Enum
from typing import Any

import orjson

_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def to_wire(value: Any) -> Any:
    """Plain data as JSON types: mappings (keys sorted), lists, tuples, enums and scalars.

    Domain records (dataclasses, named tuples) are refused: their wire form is written out key
    by key in the sink of their document (docs/architecture.md, "Wire format"), so a renamed
    attribute never renames a JSON key."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    convert = _CONVERTERS.get(kind)
    if convert is None:
        convert = _CONVERTERS[kind] = _converter_for(value)
    return convert(value)


def _converter_for(value: Any) -> Callable[[Any], Any]:
    if (is_dataclass(value) and not isinstance(value, type)) or (
            isinstance(value, tuple) and hasattr(value, "_fields")):
        raise TypeError(f"no wire mapping for {type(value).__name__}: map it in its sink")
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


def committed_schema(resource: str) -> dict[str, Any]:
    """The committed JSON Schema (draft 2020-12) at ``resource`` inside the ``planner``
    package (``schemas/...``)."""
    # Imported here: only the schema commands and tests read one, and importlib.resources
    # brings tempfile, shutil and the compression modules (~4 ms of every report's start).
    import json
    from importlib import resources

    schema: dict[str, Any] = json.loads(
        resources.files("planner").joinpath(resource).read_text(encoding="utf-8"))
    return schema


def document(schema_version: str | int, body: Mapping[str, Any], *, converted: bool = False
             ) -> dict[str, Any]:
    """A top-level document: ``schemaVersion`` first, then the body's keys sorted.

    ``converted`` says the body's values are wire values already, so they are not walked again
    (a second walk over a 10,000-service inventory costs as much as converting it).
    """
    doc: dict[str, Any] = {"schemaVersion": schema_version}
    for key in sorted(body):
        doc[key] = body[key] if converted else to_wire(body[key])
    return doc


#: Two-space indentation, as ``jq .`` prints, written by orjson: the standard library's indenting
#: encoder is pure Python (figures: docs/performance.md). Keys sorted at every level, whatever
#: order a document was built in. Dataclasses are passed to ``default``, which refuses them, so
#: that a record that slipped into a document meets :func:`to_wire`'s refusal.
_JSON_OPTIONS = (orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_SORT_KEYS
                 | orjson.OPT_PASSTHROUGH_DATACLASS)

#: orjson refuses integers outside 64 bits; the Kubernetes API has none, a hand-written spec may.
_INT64 = range(-(2**63), 2**64)


def json_bytes(data: Any) -> bytes:
    """Deterministic JSON of wire data, UTF-8: two-space indentation, keys sorted except that a
    document's ``schemaVersion`` comes first, trailing newline.

    ``data`` need not have been through :func:`to_wire`: orjson sorts the keys and writes enums
    and tuples as to_wire would, and whatever it refuses (keys that are not strings, integers
    past 64 bits, records) is converted by to_wire and written again: the same bytes either
    way."""
    return b"".join(json_chunks(data))


#: List items written per orjson call: about a megabyte of output, whose buffer the next call
#: reuses. One call for a whole document grows its buffer by copies, each into fresh memory that
#: must be faulted in (figures: docs/performance.md).
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
        pass
    # Data as a sink built it may hold what only to_wire converts (a key that is not a string)
    # or refuses (a record): converted, only an out-of-range integer is left to fail, which is
    # printed as a string rather than fail the whole output.
    data = to_wire(data)
    try:
        return orjson.dumps(data, option=options, default=_unencodable)
    except orjson.JSONEncodeError:
        return orjson.dumps(_big_ints_as_strings(data), option=options, default=_unencodable)


def canonical_json(data: Any) -> bytes:
    """Wire data as compact JSON with every key sorted: for hashing, not for people."""
    return _dumps(data, orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS)


def dump_json(data: Any) -> str:
    """:func:`json_bytes` as text."""
    return json_bytes(data).decode()


def _unencodable(value: Any) -> Any:
    # Dates and times that YAML parsed into objects, found in free-form specs: ISO text, as the
    # API server would return them.
    if isinstance(value, (date, time)):
        return value.isoformat()
    # A map the sink passed on as it is (labels, annotations) that is not a dict.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _big_ints_as_strings(value: Any) -> Any:
    if type(value) is int and value not in _INT64:
        return str(value)
    if isinstance(value, dict):
        return {k: _big_ints_as_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return [_big_ints_as_strings(v) for v in value]
    return value


def yaml_document(data: Any) -> str:
    """A wire document as YAML, its keys in the order of its JSON (:func:`json_bytes`): sinks
    may leave maps unsorted, which only the JSON writer sorts itself."""
    doc = to_wire(data)
    if type(doc) is dict and "schemaVersion" in doc:
        doc = {"schemaVersion": doc.pop("schemaVersion"), **doc}
    return dump_yaml(doc)


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
