"""The rollout status document (``planner status -o json``): where the steps were applied and
each step's state with its note."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from planner.domain.journal import Target
from planner.sinks.wire import document

#: An integer, as the journal's own version: this document predates the ``meshplan.io/`` kinds.
SCHEMA_VERSION = 1


def status_document(target: Target, rows: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """``rows`` are (step id, state, note) as the apply session reports them."""
    where = ({"folder": target.folder} if target.folder else
             {"server": target.server, "uid": target.uid, "context": target.context})
    return document(SCHEMA_VERSION, {
        "target": where,
        "steps": [{"id": step_id, "state": state, "note": note} for step_id, state, note in rows],
    })
