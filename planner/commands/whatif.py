"""``planner what-if``: which calls break if these PeerAuthentication changes were applied now
(docs/what-if.md). Exit 0 when none does, 10 (FINDINGS) when one does."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from planner.commands.common import (
    exit_if_invalid,
    handle_errors,
    input_options,
    print_document,
    run_analysis,
    stdout_console,
    traffic_options,
)
from planner.commands.plan import dataplane_option, profile_option, root_namespace_option
from planner.exit_codes import ExitCode

if TYPE_CHECKING:
    from planner.service import InputSpec, TrafficSource


@click.command("what-if")
# --strict NS is the simulated change here; the input's stop-at-first-invalid flag moves.
@input_options(strict_flag="--strict-input")
@click.option("-o", "--output", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True, help="Output format.")
@click.option("--strict", "strict_ns", multiple=True, metavar="NS",
              help="Simulate namespace-wide STRICT in NS (the root namespace: mesh-wide). "
                   "Repeatable.")
@click.option("--permissive", "permissive_ns", multiple=True, metavar="NS",
              help="Simulate namespace-wide PERMISSIVE in NS. Repeatable.")
@click.option("--workload", "workloads", multiple=True, metavar="KIND/NS/NAME[=MODE]",
              help="Simulate a workload policy (default PERMISSIVE: one exception) on the "
                   "pods of this workload. Repeatable.")
@click.option("--after-enrollment", is_flag=True,
              help="Judge callers and servers as the plan's enroll steps leave them, not as "
                   "the scan shows them now.")
@root_namespace_option()
@dataplane_option("--after-enrollment")
@profile_option(", for --dataplane recommended")
@traffic_options
@handle_errors
def what_if(spec: InputSpec, output: str, strict_ns: tuple[str, ...],
            permissive_ns: tuple[str, ...], workloads: tuple[str, ...], after_enrollment: bool,
            root_namespace: str, dataplane: str, profile_path: str | None,
            traffic: TrafficSource | None) -> None:
    """Which calls break if these PeerAuthentication changes were applied now.

    Each call into the workloads the changes reach is judged: the effective mode on the port
    it reaches (workload > namespace > mesh-wide policy, port-level settings), whether the
    caller has a mesh identity, DestinationRule TLS, and observed plaintext.

    \b
    Examples:
      planner what-if -f sample_clusters/shop -R --strict catalog
      planner what-if -f sample_clusters/shop -R --strict storefront \\
          --workload Deployment/storefront/web -o json
      planner what-if --context prod --strict payments --prometheus http://127.0.0.1:9090
    """
    from planner.service import observe
    from planner.service import what_if as simulate
    from planner.sinks.whatif_json import whatif_document

    if not (strict_ns or permissive_ns or workloads):
        raise click.UsageError("give at least one change: --strict NS, --permissive NS or "
                               "--workload KIND/NS/NAME")
    _refuse_two_modes(strict_ns, permissive_ns, workloads)
    analysis = run_analysis(spec, root_namespace=root_namespace, profile_path=profile_path)
    if traffic is not None:
        analysis = observe(analysis, traffic)
    result = simulate(analysis, strict=strict_ns, permissive=permissive_ns,
                      workloads=workloads, after_enrollment=after_enrollment,
                      dataplane=dataplane)
    doc = whatif_document(result, analysis.scan.source_label)
    if output == "json":
        print_document(doc)
    elif output == "markdown":
        from planner.sinks.whatif_text import render_markdown

        sys.stdout.write(render_markdown(doc))
    else:
        from planner.sinks.whatif_text import render_text

        render_text(stdout_console(), doc)
    exit_if_invalid(analysis.scan)
    if result.breaking:
        sys.exit(int(ExitCode.FINDINGS))


def _refuse_two_modes(strict_ns: tuple[str, ...], permissive_ns: tuple[str, ...],
                      workloads: tuple[str, ...]) -> None:
    """One namespace or workload given two modes names one PeerAuthentication twice: there is
    no such state to simulate, so it is a usage error rather than one mode silently winning."""
    both = sorted(set(strict_ns) & set(permissive_ns))
    if both:
        raise click.UsageError(f"--strict {both[0]} and --permissive {both[0]}: one namespace "
                               "cannot be both; give one of them")
    from planner.domain.whatif import parse_workload_change

    modes: dict[str, set[str]] = {}
    for change in workloads:
        try:
            ref, mode = parse_workload_change(change)
        except ValueError:
            continue  # the simulation refuses it, saying what is wrong with it
        modes.setdefault(ref.key, set()).add(mode)
    twice = sorted(target for target, found in modes.items() if len(found) > 1)
    if twice:
        raise click.UsageError(f"--workload {twice[0]} is given two modes "
                               f"({', '.join(sorted(modes[twice[0]]))}); give one")
