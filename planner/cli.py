"""The ``planner`` command line. Subcommands load lazily so ``--help`` and ``--version`` are fast
and the kubernetes client and Textual are imported only by the commands that use them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
    "what-if": "planner.commands.whatif:what_if",
    "authz": "planner.commands.authz:authz",
    "report": "planner.commands.report:report",
    "apply": "planner.commands.apply:apply",
    "verify": "planner.commands.apply:verify",
    "rollback": "planner.commands.apply:rollback",
    "status": "planner.commands.apply:status",
    "tui": "planner.commands.tui:tui",
    "rules": "planner.commands.rules:rules",
    "completion": "planner.commands.completion:completion",
}


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Click's own errors (a bad flag, a bad value, a missing argument), raised while parsing
    the command line or by a command, as the one stderr line every planner error is
    (docs/exit-codes.md), with Click's exit code (2 for usage). The help printed for a bare
    ``planner`` stays help."""
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise
    except click.ClickException as err:
        from planner.untrusted import one_line

        ctx = getattr(err, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        click.echo(f"planner: error: {one_line(err.format_message().rstrip('.'))}{hint}",
                   err=True)
        sys.exit(err.exit_code)


class LazyGroup(click.Group):
    """A group whose subcommands are imported when first used, and whose Click errors are
    one line (:func:`_one_line_errors`)."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        with _one_line_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line_errors():
            return super().invoke(ctx)

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
    "what-if": "Which calls break if a namespace or workload went STRICT now.",
    "authz": "Least-privilege ALLOW AuthorizationPolicies from the graph and traffic.",
    "rules": "List every rule (fit factors, blockers, plan findings).",
    "graph": "Show who calls whom, with the evidence for every edge.",
    "apply": "Apply one plan step: dry run, diff, confirm, server-side apply (--write).",
    "rollback": "Restore what one applied step changed (--write).",
    "verify": "Check an applied step: live objects and the Prometheus gate.",
    "status": "Each step's state: pending, applied, verified, failed, rolled back, drifted.",
    "tui": "Explore assessment, graph and plan in the terminal; apply with --write.",
    "traffic": "mTLS status per namespace from observed traffic; the STRICT gates.",
    "completion": "Print the shell completion script (bash, zsh, fish).",
}


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the version, and which parsers read YAML manifests (the compiled one is
    an optional wheel)."""
    if not value or ctx.resilient_parsing:
        return
    from planner.service import yaml_readers

    click.echo(f"planner, version {__version__}\nYAML: {yaml_readers()}")
    ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_show_version, help="Show the version (and the YAML parsers) and exit.")
def cli() -> None:
    """meshplan: is a service mesh worth it here, and how to reach Istio STRICT mTLS safely.

    Read-only unless a command is given --write. Exit codes: docs/exit-codes.md.
    """


def main() -> None:
    """Console-script entry point (collector and exit policy: :mod:`planner.commands.process`)."""
    from planner.commands.process import run_to_exit

    run_to_exit(lambda: cli(prog_name="planner"))
