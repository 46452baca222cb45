"""The journal on disk (default ``.meshplan/journal.json``), written atomically.

Every save writes a temporary file in the same folder, flushes and fsyncs it, renames it over
the journal with ``os.replace`` and fsyncs the folder: a reader (or the next run after a crash)
sees either the previous journal or the new one, never half of one.

Raises :class:`~planner.errors.ApplyError` when the file cannot be read, parsed or written.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from planner.domain.journal import Journal, JournalError, from_document, to_document
from planner.errors import ApplyError


def load_journal(path: str | os.PathLike[str]) -> Journal:
    """The journal at ``path``; an empty one when the file does not exist yet."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Journal()
    except OSError as err:
        raise ApplyError(f"cannot read journal {target}: {err.strerror or err}") from None
    try:
        return from_document(json.loads(text))
    except ValueError as err:  # JSONDecodeError and JournalError are both ValueErrors
        detail = str(err) if isinstance(err, JournalError) else f"not JSON ({err})"
        raise ApplyError(f"journal {target} is unusable: {detail}") from None


def save_journal(path: str | os.PathLike[str], journal: Journal) -> None:
    """Write ``journal`` to ``path`` atomically (see the module docstring)."""
    target = Path(path)
    text = json.dumps(to_document(journal), indent=1, sort_keys=True) + "\n"
    write_atomically(target, text)


def write_atomically(target: Path, text: str) -> None:
    """Replace ``target`` with ``text``: temp file + fsync + ``os.replace`` + folder fsync.
    Raises ApplyError naming the file on failure."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise ApplyError(f"cannot write {target}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise ApplyError(f"cannot write {target}: {err.strerror or err}") from None
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the directory entry is on disk; not every platform can
    # open a directory, and the write already succeeded, so failures here are ignored.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
