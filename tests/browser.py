"""A real browser for the report tests: headless Chromium (Debian's ``chromium``).

:func:`probe` loads a page with a small script appended that measures it and writes the result
as JSON into an attribute of ``<body>``; ``--dump-dom`` prints the DOM after the scripts ran, so
the measurement comes back without a DevTools client. The report itself has no script: only the
probed copy does. Skips when Chromium is absent (fails in CI, see :mod:`tests.tools`).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.tools import require_tool

#: Flags for a closed network and a root user (the CI machine): no sandbox, nothing fetched.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--mute-audio")
_RESULT = re.compile(r'data-probe="([^"]*)"')


def chromium() -> str:
    """The Chromium executable, or skip."""
    return require_tool("chromium", "apt-get install chromium")


def probe(page: str, script: str, tmp: Path, width: int = 1400) -> Any:
    """Run ``script`` (JavaScript whose last statement is an expression) on ``page`` in a
    ``width``-pixel wide window; returns what it evaluated to, through JSON."""
    exe = chromium()
    wrapped = (f"<script>document.body.setAttribute('data-probe', JSON.stringify((() => "
               f"{{ {script} }})()));</script>")
    probed = tmp / f"probe-{width}.html"
    probed.write_text(page.replace("</body>", wrapped + "</body>"), encoding="utf-8")
    result = subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}",
         f"--window-size={width},900", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    found = _RESULT.search(result.stdout)
    assert found, f"chromium printed no probe result (exit {result.returncode}): " \
                  f"{result.stderr[-500:]}"
    return json.loads(html.unescape(found.group(1)))


def print_to_pdf(page: Path, pdf: Path, tmp: Path) -> None:
    """Print ``page`` to ``pdf`` as a browser's "Save as PDF" does (print media, A4 from the
    page's ``@page`` rule)."""
    subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}",
         "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
        capture_output=True, timeout=120, check=True)
