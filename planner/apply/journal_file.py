"""The journal on disk (default ``.meshplan/journal.json``), written atomically.

Every save writes a temporary file in the same folder, flushes and fsyncs it, renames it over
the journal with ``os.replace`` and fsyncs the folder: a reader (or the next run after a crash)
sees either the previous journal or the new one, never half of one.

An apply or rollback holds :func:`journal_lock` (an exclusive ``flock`` on ``<journal>.lock``)
for its whole length: a second run waits briefly, then refuses naming the holder. The kernel
drops the lock when its process dies, however it dies, so a crash never leaves it stale.

Raises :class:`~planner.errors.ApplyError` when the file cannot be read, parsed or written.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner.domain.journal import (
    LOCK_WAIT_S,
    Journal,
    JournalError,
    Journals,
    Target,
    from_document,
    migrate,
    to_document,
)
from planner.errors import ApplyError
from planner.sinks.files import temp_file_beside

_LOCK_POLL_S = 0.1


def load_journals(path: str | os.PathLike[str]) -> Journals:
    """Every target's journal in the file at ``path``; none when it does not exist yet."""
    target = Path(path)
    try:
        return from_document(_read(target))
    except JournalError as err:
        raise ApplyError(f"journal {target} is unusable: {err}") from None


def load_journal(path: str | os.PathLike[str], target: Target) -> Journal:
    """The journal of ``target`` in the file at ``path`` (empty when there is none)."""
    return load_journals(path).of(target)


def save_journal(path: str | os.PathLike[str], journal: Journals | Journal) -> None:
    """Write the journals to ``path`` atomically (see the module docstring); a single
    :class:`Journal` replaces its target's entries and keeps every other target's."""
    target = Path(path)
    journals = load_journals(target).put(journal) if isinstance(journal, Journal) else journal
    text = json.dumps(to_document(journals), indent=1, sort_keys=True) + "\n"
    write_atomically(target, text)


def migrate_journal(path: str | os.PathLike[str], target: Target) -> int:
    """Rewrite a format-1 journal in the current format, its steps bound to ``target`` (the
    previous file is kept as ``<journal>.v1``). Returns how many steps were bound; 0 when the
    file is already current or absent."""
    source = Path(path)
    if not source.exists():
        return 0
    doc = _read(source)
    if isinstance(doc, dict) and doc.get("schemaVersion") != 1:
        return 0
    try:
        journals = migrate(doc, target)
    except JournalError as err:
        raise ApplyError(f"journal {source} is unusable: {err}") from None
    write_atomically(source.with_name(source.name + ".v1"), source.read_text(encoding="utf-8"))
    save_journal(source, journals)
    return len(journals.of(target).steps)


def _read(target: Path) -> Any:
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return to_document(Journals())
    except OSError as err:
        raise ApplyError(f"cannot read journal {target}: {err.strerror or err}") from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise ApplyError(f"journal {target} is unusable: not JSON ({err})") from None


@contextlib.contextmanager
def journal_lock(path: str | os.PathLike[str], command: str,
                 wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold the journal's lock file (``<journal>.lock``) for the ``with`` block.

    Waits up to ``wait_s`` seconds for another holder, then raises ApplyError naming it (pid,
    host, command and since when, as it wrote them into the lock file). ``command`` is what
    this holder is doing, for the same message elsewhere."""
    lock_path = Path(f"{os.fspath(path)}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise ApplyError(f"cannot open the journal lock {lock_path}: "
                         f"{err.strerror or err}") from None
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ApplyError(f"journal {os.fspath(path)} is in use by "
                                     f"{_holder(fd)}; wait for it to finish, then run this "
                                     "again") from None
                time.sleep(_LOCK_POLL_S)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder, sort_keys=True) + "\n").encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    """Who holds the lock, from what it wrote into the lock file."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return (f"pid {int(info['pid'])} on {info['host']} ({info['command']}, since "
                f"{info['since']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (it has not said which yet)"


def write_atomically(target: Path, text: str) -> None:
    """Replace ``target`` with ``text``: temp file + fsync + ``os.replace`` + folder fsync.
    Raises ApplyError naming the file on failure."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = temp_file_beside(target)  # the user's umask, not mkstemp's 0600
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
