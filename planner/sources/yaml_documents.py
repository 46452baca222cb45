"""What a YAML reader gives for each document of a stream: shared by the PyYAML reader
(:mod:`planner.sources.yaml_stream`) and the compiled one (:mod:`planner.sources.yaml_compiled`),
so that neither needs the other's parser imported."""

from __future__ import annotations

from typing import Any, NamedTuple

from planner.domain.value import value_class


@value_class
class Problem:
    """A document that cannot be used. ``line`` (1-based) is known for YAML syntax errors."""

    doc: int
    message: str
    line: int = 0


class Parsed(NamedTuple):
    """A usable document: its number from 1, its body, the 1-based line its top node starts
    on, and for a ``kind: List`` the line of each ``items`` entry."""

    doc: int
    body: Any
    line: int
    items: tuple[int, ...] = ()
