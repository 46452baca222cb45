"""Value classes (planner.domain.value) compare, hash, order and print as frozen dataclasses with
the same fields do: their methods are shared functions, not generated ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given
from hypothesis import strategies as st

from planner.domain.value import value_class


@value_class(order=True)
class Port:
    name: str
    number: int
    note: str = field(default="", compare=False)


@dataclass(frozen=True, order=True)
class FrozenPort:
    name: str
    number: int
    note: str = field(default="", compare=False)


@value_class
class One:
    name: str


@dataclass(frozen=True)
class FrozenOne:
    name: str


_ports = st.tuples(st.sampled_from(["a", "b", ""]), st.integers(-2, 2), st.sampled_from(["", "x"]))


@given(_ports, _ports)
def test_a_value_class_compares_and_hashes_as_a_frozen_dataclass(
        left: tuple[str, int, str], right: tuple[str, int, str]) -> None:
    a, b, frozen_a, frozen_b = Port(*left), Port(*right), FrozenPort(*left), FrozenPort(*right)
    # The same hash values, so sets and dicts of them iterate in the same order.
    assert hash(a) == hash(frozen_a)
    assert (a == b, a != b) == (frozen_a == frozen_b, frozen_a != frozen_b)
    assert (a < b, a <= b, a > b, a >= b) == (frozen_a < frozen_b, frozen_a <= frozen_b,
                                              frozen_a > frozen_b, frozen_a >= frozen_b)
    assert repr(a) == repr(frozen_a).replace("FrozenPort(", "Port(", 1)


def test_one_field_hashes_as_a_tuple_and_other_classes_are_never_equal() -> None:
    assert hash(One("a")) == hash(FrozenOne("a")) == hash(("a",))
    assert One("a") != FrozenOne("a")
    assert One("a") != ("a",)
    assert sorted([Port("b", 1), Port("a", 2), Port("a", 1)]) == [
        Port("a", 1), Port("a", 2), Port("b", 1)]
