"""External tools some tests run for real (Microsoft's SARIF multitool, Chromium, the Mermaid CLI).

A tool that is not installed makes those tests skip with one reason naming it and how to get
it. CI sets ``MESHPLAN_REQUIRE_TOOLS=1`` (``.ci/run`` installs them), which turns the skips
into failures, so no such test is ever skipped silently there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_ENV = "MESHPLAN_REQUIRE_TOOLS"
#: Where ``.ci/run`` installs npm tools (``npm install --prefix .ci/node``).
CI_NODE_BIN = ROOT / ".ci" / "node" / "node_modules" / ".bin"


def require_tool(name: str, how: str) -> str:
    """The path of executable ``name`` (``$PATH``, then ``.ci/node``), or skip the calling test
    when it is absent (fail when ``MESHPLAN_REQUIRE_TOOLS`` is set). ``how`` says how to
    install it."""
    found = shutil.which(name) or shutil.which(name, path=str(CI_NODE_BIN))
    if found is None:
        reason = f"{name} not installed ({how})"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{reason}; {REQUIRE_ENV} is set", pytrace=False)
        pytest.skip(reason)
    return found
