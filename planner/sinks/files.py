"""Temporary siblings for atomic writes (write beside the target, then rename over it),
created with the mode a plain ``open()`` or ``mkdir`` would give them.

``tempfile.mkstemp`` and ``mkdtemp`` create 0600 files and 0700 folders whatever the umask, and
the rename keeps that mode: a report, a GitOps tree or a journal would be private to whoever
wrote it, which a team's repository checkout or a CI artifact folder does not expect. Here the
kernel applies the user's umask, as for any file a command writes; a file that is replaced
keeps its own mode (someone chose it).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _unique(target: Path, suffix: str, create: Callable[[Path], T]) -> T:
    for _ in range(100):
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}{suffix}")
        try:
            return create(candidate)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name beside it", str(target))


def temp_file_beside(target: Path) -> tuple[int, Path]:
    """A new file in ``target``'s folder, open for writing: ``(fd, path)``. Its mode is the
    mode of the file it will replace, else 0666 less the umask. Raises ``OSError``."""
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None

    def create(path: Path) -> tuple[int, Path]:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        if mode is not None:
            os.fchmod(fd, mode)
        return fd, path

    return _unique(target, ".tmp", create)


def temp_dir_beside(target: Path) -> Path:
    """A new empty folder in ``target``'s folder, 0777 less the umask. Raises ``OSError``."""

    def create(path: Path) -> Path:
        path.mkdir(0o777)
        return path

    return _unique(target, "", create)
