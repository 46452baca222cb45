"""The console script's collector and exit policy, in one place.

A command is a short batch run: it allocates millions of objects that live to the end and make
few reference cycles, then the process exits. So :func:`run_to_exit` turns the cyclic collector
off for the run (it would only re-walk live objects) and ends with ``os._exit`` once output is
flushed, so a large inventory is not freed object by object only for the process to exit.
Commands hand their large results to :func:`keep_until_exit`. Run in-process (tests, Click's
runner), none of this applies and objects keep their normal lifetime. The TUI, a long-running
app, keeps its own policy (``planner.commands.tui``, ``tui.app``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable
from typing import NoReturn

#: What commands hand to :func:`keep_until_exit`; None unless running as the console script.
_kept: list[object] | None = None


def keep_until_exit(*objects: object) -> None:
    """Keep a command's large results alive until the process ends (see the module doc)."""
    if _kept is not None:
        _kept.extend(objects)


def run_to_exit(command: Callable[[], object]) -> NoReturn:
    """Run the console script's ``command`` with the collector off, then exit the process with
    its code without freeing what it built."""
    global _kept
    _kept = []
    gc.disable()
    try:
        command()
        code = 0
    except KeyboardInterrupt:  # before a command's own handler is in place (handle_errors)
        print("planner: interrupted", file=sys.stderr)
        code = 130
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:  # sys.exit("message"), as Python itself would report it
            print(stop.code, file=sys.stderr)
            code = 1
    # `planner ... | head` closing the pipe is not an error (see handle_errors, which closes
    # stderr then).
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):
            stream.flush()
    # Every command has closed its files, workers and terminal by now; what is left to do at
    # interpreter exit is freeing memory the operating system reclaims anyway.
    os._exit(code)
