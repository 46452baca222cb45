"""The collector policies: the service's pause around a scan, and the TUI's (``tui.collector``):
the session's analysis is frozen out of the collector's reach, then released when it is
replaced."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from planner.service import paused_gc
from tui import collector


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


def test_the_tui_freezes_what_it_built_and_the_next_build_frees_the_old_cycles() -> None:
    collector.session()
    with collector.building():
        assert not gc.isenabled()
        first = Node()
    assert gc.get_freeze_count() > 0 and gc.isenabled()
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is not None  # frozen: the collector does not look at it
    with collector.building():
        pass  # a rescan: the previous analysis was replaced
    assert gone() is None
