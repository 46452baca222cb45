"""Reading a journal file the way a test asserts on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def journal_steps(path: Path, target: str | None = None) -> dict[str, Any]:
    """The ``steps`` of one target of the journal at ``path``: the only one, or the one whose
    key (``cluster:<kube-system uid>``, ``folder:<path>``) is ``target``."""
    targets = json.loads(path.read_text())["targets"]
    if target is None:
        assert len(targets) == 1, f"journal holds {len(targets)} targets"
        return dict(next(iter(targets.values()))["steps"])
    return dict(targets[target]["steps"])
