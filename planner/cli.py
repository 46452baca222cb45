"""The ``planner`` command line. Subcommands load lazily so ``--help`` and ``--version`` are fast
and the kubernetes client and Textual are imported only by the commands that use them."""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from typing import Any

import click

from planner import __version__

#: Subcommand name -> "module:attribute". One line per command; help order is this order.
COMMANDS: dict[str, str] = {
    "scan": "planner.commands.scan:scan",
    "graph": "planner.commands.graph:graph",
    "traffic": "planner.commands.traffic:traffic",
    "assess": "planner.commands.assess:assess",
    "plan": "planner.commands.plan:plan",
    "report": "planner.commands.report:report",
    "apply": "planner.commands.apply:apply",
    "verify": "planner.commands.apply:verify",
    "rollback": "planner.commands.apply:rollback",
    "status": "planner.commands.apply:status",
    "tui": "planner.commands.tui:tui",
    "rules": "planner.commands.rules:rules",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: Any = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing the short help would import every command; the one-line summaries live here.
        rows = [(name, SUMMARIES.get(name, "")) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


SUMMARIES: dict[str, str] = {
    "scan": "Read manifests or a cluster into an inventory.",
    "plan": "Plan the PERMISSIVE -> STRICT mTLS rollout, with rollbacks.",
    "report": "Inventory, graph, verdict, plan and blockers as JSON, Markdown or HTML.",
    "assess": "Mesh-fit verdict, data plane per namespace and its resource cost.",
    "rules": "List every rule (fit factors, blockers, plan findings).",
    "graph": "Show who calls whom, with the evidence for every edge.",
    "apply": "Apply one plan step: dry run, diff, confirm, server-side apply (--write).",
    "rollback": "Restore what one applied step changed (--write).",
    "verify": "Check an applied step: live objects and the Prometheus gate.",
    "status": "Each step's state: pending, applied, verified, failed, rolled back, drifted.",
    "tui": "Explore assessment, graph and plan in the terminal; apply with --write.",
    "traffic": "mTLS status per namespace from observed traffic; the STRICT gates.",
}


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="planner")
def cli() -> None:
    """meshplan: is a service mesh worth it here, and how to reach Istio STRICT mTLS safely.

    Read-only unless a command is given --write. Exit codes: docs/exit-codes.md.
    """


#: What commands hand to :func:`keep_until_exit`; None unless running as the console script.
_kept: list[object] | None = None


def keep_until_exit(*objects: object) -> None:
    """Keep a command's large results alive until the process ends.

    The console script ends with ``os._exit`` once output is flushed, so an inventory of 10^6
    objects is not freed one by one (0.1-0.2 s on a 10,000-service cluster) only for the process
    to exit. Run in-process (tests, Click's runner), objects keep their normal lifetime.
    """
    if _kept is not None:
        _kept.extend(objects)


def main() -> None:
    """Console-script entry point."""
    global _kept
    _kept = []
    # A command is a short batch run: it allocates millions of objects that live to the end and
    # make few reference cycles, then exits without freeing them (below). The cyclic collector
    # would only re-walk them, about 0.15 s per 10,000 services each time it ran. The TUI, a
    # long-running app, turns it back on.
    gc.disable()
    try:
        cli(prog_name="planner")
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
