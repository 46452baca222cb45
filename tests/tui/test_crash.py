"""A bug that escapes every handler ends `planner tui` as any planner command ends: the terminal
restored, one line on stderr, exit code 1 (Textual alone exits 0 from `run()` after printing a
page of traceback with locals)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import textwrap

from planner.exit_codes import ExitCode
from tests.tui.conftest import ROOT

CRASH = textwrap.dedent("""
    import sys
    from tui.app import MeshplanApp

    def on_mount(self):
        raise RuntimeError("boom [/] at mount")

    MeshplanApp.on_mount = on_mount
    sys.argv = ["planner", "tui", "-f", "sample_clusters/tiny", "-R"]
    from planner.cli import main
    main()
""")


def test_uncaught_exception_exits_non_zero_with_one_line_and_the_terminal_restored() -> None:
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    env.pop("PLANNER_DEBUG", None)
    process = subprocess.Popen([sys.executable, "-c", CRASH], cwd=ROOT, env=env,
                               stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    screen = b""
    while True:  # until the child closes the terminal (EIO) or a minute passes
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    assert process.wait(timeout=60) == ExitCode.INTERNAL, screen[-500:]
    # Textual entered the alternate screen and left it before the message was written.
    assert b"\x1b[?1049h" in screen
    after = screen[screen.rindex(b"\x1b[?1049l"):].decode()
    text = re.sub(r"\x1b\[[<>?]?[0-9;$]*[a-zA-Z~]|\x07", "", after)
    assert text.strip().splitlines() == [
        "planner: error: internal error: RuntimeError: boom [/] at mount (set PLANNER_DEBUG=1 "
        "for a traceback and report it)"], text
    assert b"Traceback" not in screen
