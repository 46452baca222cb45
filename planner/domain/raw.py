"""Lenient reading of the raw specs the inventory keeps as parsed (policies, routes, CRDs).

Their shape was never validated, and a field of the wrong shape means "nothing there" to the
analyses that read them: a typo in one PeerAuthentication must not stop the graph or the
verdict. (The inventory builder is strict instead: it reports and skips such documents.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def sequence(value: Any) -> list[Any]:
    """``value`` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []
