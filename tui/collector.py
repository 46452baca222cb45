"""The TUI's collector and exit policy, in one place (the console script's is
:mod:`planner.commands.process`).

A TUI session is long-running, unlike a command: its screens allocate and drop objects for as
long as it runs, so the cyclic collector is on (:func:`session`; the console script starts
every command with it off). What the session holds for its whole life is the analysis (10^6
objects on a 10,000-service cluster) and the collector must not walk it again and again:

- :func:`building` wraps the analysis worker's pipeline. It pauses the collector while the
  analysis is built (a build makes no reference cycles; each collection would only re-walk
  what is alive), then freezes what is alive (``gc.freeze``: later collections skip it) before
  turning the collector back on, or the first collection after the build would walk every
  object it allocated. The freeze runs on the worker thread, at the end of the build: the
  collector's state is the interpreter's, whatever thread changes it, and the worker holds the
  GIL throughout.
- The next :func:`building` first releases the frozen objects and collects once, so the
  analysis a re-scan replaces is freed.

Exit: ``planner tui`` returns to :func:`planner.commands.process.run_to_exit` once Textual has
restored the terminal, and the process ends there as after any command.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def session() -> None:
    """Turn the collector on for the session (call before the app starts)."""
    gc.enable()


@contextmanager
def building() -> Iterator[None]:
    """Build the session's analysis with the collector paused, then keep it out of the
    collector's reach (see the module doc)."""
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
