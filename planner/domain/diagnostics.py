"""Where objects came from, and the warnings and errors found while reading them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Source(NamedTuple):
    """The origin of one object: a file path (``-`` for stdin, ``cluster`` for a live scan),
    the 1-based index of the document inside it (0: the file as a whole), for an object
    inside a ``kind: List`` document its 1-based position in ``items`` (0 otherwise), and the
    1-based line where the object starts in the file (0: unknown, as for a live scan). The
    line is what SARIF and editors point at."""

    file: str
    doc: int = 1
    item: int = 0
    line: int = 0

    @property
    def in_file(self) -> bool:
        """True for objects read from a file or stdin; False for a live scan, whose objects
        have ``cluster:<context>`` as their file."""
        return not self.file.startswith("cluster:")

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
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

    @property
    def located(self) -> str:
        """``WHERE: WHAT``, without the severity: the message of the error raised when the
        diagnostic stops the command (--strict)."""
        return f"{self.source}: {self.message}"

    def __str__(self) -> str:
        # Severity first: the shape of every stderr line (`planner: error: WHERE: WHAT`), so a
        # skipped document reads as the same document stopping --strict (docs/exit-codes.md).
        return f"{self.severity.value}: {self.located}"


#: Diagnostics shown per file; the rest are counted: 100,000 broken documents in one file make
#: 21 lines, not 100,000.
SHOWN_PER_FILE = 20
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


def capped(diagnostics: Iterable[Diagnostic],
           limit: int = SHOWN_PER_FILE) -> tuple[Diagnostic, ...]:
    """The first ``limit`` diagnostics of each file, in order; the rest of a file are summed
    up in one more, right after its last one shown, with the worst severity among them."""
    out: list[Diagnostic] = []
    shown: dict[str, int] = {}
    hidden: dict[str, list[Diagnostic]] = {}
    last: dict[str, int] = {}
    for diagnostic in diagnostics:
        file = diagnostic.source.file
        if shown.get(file, 0) < limit:
            shown[file] = shown.get(file, 0) + 1
            last[file] = len(out)
            out.append(diagnostic)
        else:
            hidden.setdefault(file, []).append(diagnostic)
    for file, rest in sorted(hidden.items(), key=lambda item: -last[item[0]]):
        worst = max((d.severity for d in rest), key=_RANK.__getitem__)
        out.insert(last[file] + 1, Diagnostic(
            Source(file, 0), worst,
            f"... and {len(rest)} more in {file} (only the first {limit} are shown)"))
    return tuple(out)
