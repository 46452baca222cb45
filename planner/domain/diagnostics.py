"""Where objects came from, and the warnings and errors found while reading them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Source(NamedTuple):
    """The origin of one object: a file path (``-`` for stdin, ``cluster`` for a live scan),
    the 1-based index of the document inside it (0: the file as a whole) and, for an object
    inside a ``kind: List`` document, its 1-based position in ``items`` (0 otherwise)."""

    file: str
    doc: int = 1
    item: int = 0

    def __str__(self) -> str:
        where = self.file
        if self.doc:
            where += f" (document {self.doc}"
            where += f", item {self.item})" if self.item else ")"
        return where


class Severity(StrEnum):
    """How bad a diagnostic is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, order=True, slots=True)
class Diagnostic:
    """One message about the input. ``ERROR`` means the document was skipped."""

    source: Source
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.severity.value}: {self.message}"
