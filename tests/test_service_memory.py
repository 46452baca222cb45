"""The collector policy of the service layer: paused for scans, and with ``keep`` (the TUI)
the session's analysis is frozen out of its reach, then released when it is replaced."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from planner.service import paused_gc


class Node:
    """A reference cycle, as a networkx graph makes one."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def clean_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_pause_restores_the_collector_state() -> None:
    gc.enable()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # nested: the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()  # was off before, stays off (the console script's state)


def test_keep_freezes_what_was_built_and_the_next_keep_frees_the_old_cycles() -> None:
    gc.enable()
    with paused_gc(keep=True):
        first = Node()
    assert gc.get_freeze_count() > 0 and gc.isenabled()
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is not None  # frozen: the collector does not look at it
    with paused_gc(keep=True):
        pass  # a rescan: the previous analysis was replaced
    assert gone() is None
