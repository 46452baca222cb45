"""The ``planner`` command line. Subcommands load lazily so ``--help`` and ``--version`` are fast
and the kubernetes client and Textual are imported only by the commands that use them."""

from __future__ import annotations

import importlib
from typing import Any

import click

from planner import __version__

#: Subcommand name -> "module:attribute". One line per command; help order is this order.
COMMANDS: dict[str, str] = {
    "scan": "planner.commands.scan:scan",
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
}


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="planner")
def cli() -> None:
    """meshplan: is a service mesh worth it here, and how to reach Istio STRICT mTLS safely.

    Read-only unless a command is given --write. Exit codes: docs/exit-codes.md.
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="planner")
