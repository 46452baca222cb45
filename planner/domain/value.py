"""Value classes: the immutable records the inventory and the call graph are built from, by
the hundred thousand.

A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``, a
measurable share of building a large inventory or graph (docs/performance.md). A value
class is a plain dataclass that the type checker treats as frozen
(``dataclass_transform(frozen_default=True)``: assigning a field is a mypy error, and CI runs
mypy strict on ``planner/``), while its ``__init__`` stores the fields directly. Instances
compare and hash by value, as frozen dataclasses do, so their fields are never assigned;
``@value_class(order=True)`` also orders them field by field, as ``dataclass(order=True)``.

Fields are declared in the order that reads best: the wire format is written key by key in the
sinks (``planner.sinks.inventory_json``), never taken from a class's fields or their order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform, overload

T = TypeVar("T")


@overload
def value_class(cls: type[T], /) -> type[T]: ...


@overload
def value_class(*, order: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def value_class(cls: type[T] | None = None, /, *,
                order: bool = False) -> type[T] | Callable[[type[T]], type[T]]:
    """Make ``cls`` a value class (see the module docstring)."""

    def make(cls: type[T]) -> type[T]:
        made: type[T] = dataclass(unsafe_hash=True, order=order)(cls)
        made.__value_class__ = True  # type: ignore[attr-defined]  # for tests/test_architecture.py
        return made

    return make if cls is None else make(cls)
