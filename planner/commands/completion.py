"""Shell completion for bash, zsh and fish (Click's): ``planner completion SHELL`` prints the
script. Beyond commands, options and choices, it completes the values a user would otherwise
look up: step ids (``STEP`` of apply, verify, rollback) and namespaces (``-n``), from the
manifests given with ``-f`` earlier on the same line.

A completer runs on every TAB, inside the shell's prompt: it never prints, never raises and
never contacts a cluster (a live plan can take seconds); without ``-f`` steps come from the
journal and the ids every plan has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem, get_completion_class

if TYPE_CHECKING:
    from planner.domain.analysis import Analysis

SHELLS = ("bash", "zsh", "fish")
#: The steps every plan has, whatever the cluster (docs/plan.md).
FIXED_STEPS = ("10-prereq", "20-mesh-permissive", "60-mesh-strict")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash:  echo 'eval "$(planner completion bash)"' >> ~/.bashrc
    zsh:   echo 'eval "$(planner completion zsh)"' >> ~/.zshrc   (after compinit)
    fish:  planner completion fish > ~/.config/fish/completions/planner.fish
    """
    root = click.get_current_context().find_root().command
    complete = get_completion_class(shell)
    assert complete is not None  # Click ships all of SHELLS
    click.echo(complete(root, {}, "planner", "_PLANNER_COMPLETE").source())


def _scan(ctx: click.Context) -> Analysis | None:
    """The inventory of the manifests named by -f so far on the line, or None."""
    params = ctx.params
    filenames = tuple(params.get("filenames") or ())
    if not filenames or "-" in filenames:
        return None
    from planner.service import ManifestInput, analyse

    spec = ManifestInput(filenames, bool(params.get("recursive")), False,
                         params.get("namespace") or "default")
    return analyse(spec, root_namespace=params.get("root_namespace") or "istio-system")


def complete_step(ctx: click.Context, _param: click.Parameter,
                  incomplete: str) -> list[CompletionItem]:
    """Step ids: the plan's with -f on the line, else the journal's and the fixed ones."""
    try:
        analysis = _scan(ctx)
        if analysis is not None:
            from planner.service import build_plan

            ids = [s.id for s in build_plan(
                analysis, granularity=ctx.params.get("granularity") or "namespace").steps]
        else:
            from planner.service import DEFAULT_JOURNAL, journal_step_ids

            ids = sorted({*FIXED_STEPS,
                          *journal_step_ids(ctx.params.get("journal") or DEFAULT_JOURNAL)})
    except Exception:  # a completer must not break the prompt; nothing to offer then
        ids = list(FIXED_STEPS)
    return [CompletionItem(i) for i in ids if i.startswith(incomplete)]


def complete_namespace(ctx: click.Context, _param: click.Parameter,
                       incomplete: str) -> list[CompletionItem]:
    """Namespaces of the manifests given with -f (none for a live cluster)."""
    try:
        analysis = _scan(ctx)
    except Exception:  # see complete_step
        return []
    if analysis is None:
        return []
    names = (ns.name for ns in analysis.scan.inventory.namespaces)
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]
