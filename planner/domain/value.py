"""Value classes: the immutable records the inventory is built from, by the hundred thousand.

A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``, a
measurable share of building a large inventory (docs/performance.md). A value
class is a plain dataclass that the type checker treats as frozen
(``dataclass_transform(frozen_default=True)``: assigning a field is a mypy error, and CI runs
mypy strict on ``planner/``), while its ``__init__`` stores the fields directly. Instances
compare and hash by value, as frozen dataclasses do, so their fields are never assigned.

Fields are declared in the order that reads best: the wire format is written key by key in the
sinks (``planner.sinks.inventory_json``), never taken from a class's fields or their order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def value_class(cls: type[T]) -> type[T]:
    """Make ``cls`` a value class (see the module docstring)."""
    made: type[T] = dataclass(unsafe_hash=True)(cls)
    made.__value_class__ = True  # type: ignore[attr-defined]  # for tests/test_architecture.py
    return made
