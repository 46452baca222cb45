"""Value classes: the immutable records of the domain (the inventory and the call graph are
built from them by the hundred thousand) and of the sources and sinks.

A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``, a
measurable share of building a large inventory or graph (docs/performance.md). A value
class is a plain dataclass that the type checker treats as frozen
(``dataclass_transform(frozen_default=True)``: assigning a field is a mypy error, and CI runs
mypy strict on ``planner/``), while its ``__init__`` stores the fields directly. Instances
compare and hash by value, as frozen dataclasses do, so their fields are never assigned;
``@value_class(order=True)`` also orders them field by field, as ``dataclass(order=True)``.

Only ``__init__`` is generated for each class. Python 3.11's dataclasses compile every method
from source, about 0.1 ms each at every start of the tool (a frozen dataclass has six), and
``repr``, ``==``, ``hash`` and the order are the same few lines for every class: here they are
shared functions reading the fields through one ``operator.attrgetter``, with the results and
hash values of the generated methods (tests/test_value_class.py). They are slower per call
(1.3-1.8x), which no stage feels: a 10,000-service report compares records of two classes only,
13,000 times.

Fields are declared in the order that reads best: the wire format is written key by key in the
sinks (``planner.sinks.inventory_json``), never taken from a class's fields or their order.
"""

from __future__ import annotations

import operator
import reprlib
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

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
        made: type[T] = dataclass(repr=False, eq=False)(cls)
        declared: tuple[Field[Any], ...] = fields(made)  # type: ignore[arg-type]
        compared = [f for f in declared if f.compare]
        values = _values(compared)
        methods: dict[str, Callable[..., Any]] = {
            "__repr__": _repr,
            "__eq__": _compare(values, operator.eq),
            # As dataclass(unsafe_hash=True): the compared fields unless ``hash`` says otherwise.
            "__hash__": _hash(_values([f for f in declared
                                       if (f.compare if f.hash is None else f.hash)])),
        }
        if order:
            methods.update(__lt__=_compare(values, operator.lt),
                           __le__=_compare(values, operator.le),
                           __gt__=_compare(values, operator.gt),
                           __ge__=_compare(values, operator.ge))
        for name, method in methods.items():
            if name not in made.__dict__:  # a method the class writes itself stands
                setattr(made, name, method)
        made.__value_class__ = True  # type: ignore[attr-defined]  # for tests/test_architecture.py
        return made

    return make if cls is None else make(cls)


def _values(chosen: list[Field[Any]]) -> Callable[[object], tuple[Any, ...]]:
    """The tuple of the ``chosen`` fields' values, as a generated dataclass method builds it."""
    if len(chosen) > 1:
        return attrgetter(*(f.name for f in chosen))
    if chosen:
        one = attrgetter(chosen[0].name)
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _compare(values: Callable[[object], tuple[Any, ...]],
             test: Callable[[Any, Any], Any]) -> Callable[[object, object], Any]:
    def method(self: object, other: object) -> Any:
        if other.__class__ is self.__class__:
            return test(values(self), values(other))
        return NotImplemented

    return method


def _hash(values: Callable[[object], tuple[Any, ...]]) -> Callable[[object], int]:
    return lambda self: hash(values(self))


@reprlib.recursive_repr()
def _repr(self: object) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)  # type: ignore[arg-type]
                      if f.repr)
    return f"{self.__class__.__qualname__}({shown})"
