"""``planner tui``: explore the assessment, the graph and the plan in the terminal, and step
through the rollout (apply and rollback only with --write). Textual loads only here."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from planner.commands.apply import post_apply_options
from planner.commands.common import (
    handle_errors,
    input_named,
    input_options,
    traffic_options,
)
from planner.commands.plan import (
    answer_options,
    authz_option,
    dataplane_option,
    profile_option,
    root_namespace_option,
)

if TYPE_CHECKING:
    from planner.service import InputSpec, TrafficSource


@click.command()
@input_options
@profile_option()
@click.option("--write", is_flag=True,
              help="Allow apply and rollback (manifests: write the steps' GitOps files).")
@click.option("--out", "out_dir", default=None, metavar="DIR",
              help="Where --write puts the steps' GitOps files in manifest mode "
                   "(default meshplan-rollout).")
@click.option("--journal", "journal_path", default=None, metavar="FILE",
              help="Journal of applied steps (default .meshplan/journal.json, as for apply).")
@root_namespace_option()
@dataplane_option("the plan")
@authz_option()
@answer_options
@traffic_options
@post_apply_options
@click.option("--screen", "start", type=click.Choice(["assess", "graph", "plan"]),
              default="assess", show_default=True, help="The screen to open first.")
@handle_errors
def tui(spec: InputSpec, profile_path: str | None, write: bool, out_dir: str | None,
        journal_path: str | None, root_namespace: str, dataplane: str, authz: bool | None,
        answers: dict[str, int | bool], traffic: TrafficSource | None, settle: float,
        auto_rollback: bool, start: str) -> None:
    """Explore the assessment, the call graph and the rollout plan; apply it step by step.

    Read-only unless --write: dangerous actions (apply, rollback) do not exist without it.
    With --prometheus (or --traffic FILE) the graph shows the observed mTLS status and the
    plan each STRICT step's plaintext gate; --write then refuses a STRICT step whose gate
    does not pass unless you choose "Apply anyway", and without a traffic source unless you
    choose "Apply without gate" (both journaled). With --prometheus a STRICT step is checked
    again after --settle, as planner apply does, and rolled back on a rise with
    --auto-rollback.
    Keys: ? in the app, or docs/tui.md.

    \b
    Examples:
      planner tui -f sample_clusters/shop -R
      planner tui -f sample_clusters/shop -R --write --out rollout/
      planner tui --context prod --write --journal prod-journal.json
      planner tui -f sample_clusters/shop -R --prometheus http://127.0.0.1:9090
      planner tui --context prod --write --prometheus https://prom:9090 --auto-rollback
    """
    from planner.service import ClusterInput, ManifestInput, check_cluster_config

    reads_stdin = isinstance(spec, ManifestInput) and "-" in spec.paths
    if reads_stdin or (traffic is not None and traffic.traffic_file == "-"):
        raise click.UsageError("the TUI reads the terminal; give files, not stdin")
    if auto_rollback and (traffic is None or traffic.prometheus is None):
        raise click.UsageError("--auto-rollback needs --prometheus: the post-apply check "
                               "re-reads it after the settle period (an export file cannot "
                               "be read again)")
    if isinstance(spec, ClusterInput):
        # Before the screen is taken: no input, or a kubeconfig that cannot be loaded, is one
        # line and an exit code, as for every command.
        with input_named(spec):
            check_cluster_config(spec)
    from tui.app import run
    from tui.options import TuiOptions

    run(TuiOptions(spec, profile_path=profile_path, write=write, out_dir=out_dir,
                   journal_path=journal_path, root_namespace=root_namespace, start=start,
                   traffic=traffic, dataplane=dataplane, authz=authz, settle_s=settle,
                   auto_rollback=auto_rollback, overrides=answers))
