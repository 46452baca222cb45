"""``planner plan``: the ordered PERMISSIVE -> STRICT rollout, as a table, JSON/YAML or a
GitOps tree."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from planner.commands.common import (
    F,
    exit_if_invalid,
    fail,
    handle_errors,
    input_options,
    output_option,
    print_document,
    run_pipeline,
    stdout_console,
    traffic_options,
)
from planner.exit_codes import ExitCode

if TYPE_CHECKING:
    from planner.service import InputSpec, PlanOptions, TrafficSource


def plan_options(func: F) -> F:
    """Options ``plan``, ``report`` and the step commands share: root namespace, granularity,
    data plane, the profile and the answer flags behind the verdict the plan opens with and
    its cost, the weakest evidence and the authorization phases; passed to the command as one
    ``plan_options`` (the service's PlanOptions)."""
    names = ("root_namespace", "granularity", "dataplane", "profile_path", "min_confidence",
             "authz", "answers")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from planner.service import PlanOptions

        options = PlanOptions(*(kwargs.pop(name) for name in names))
        return func(*args, plan_options=options, **kwargs)

    decorators = [
        root_namespace_option(),
        click.option("--granularity", type=click.Choice(["namespace", "workload"]),
                     default="namespace", show_default=True,
                     help="Stage STRICT per namespace, or per workload inside namespaces."),
        dataplane_option("the plan"),
        profile_option(", for the fit verdict the plan opens with and its cost"),
        min_confidence_option(),
        authz_option(),
        answer_options,
    ]
    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper  # type: ignore[return-value]


#: The parameters :func:`answer_options` turns into one ``answers`` mapping: the profile's
#: fields a flag overrides (planner.domain.profile.OVERRIDE_FIELDS).
_ANSWER_PARAMETERS = ("platform_engineers", "compliance_mtls", "observability_needed", "nodes")


def answer_options(func: F) -> F:
    """The profile answers as flags, each winning over the ``--profile`` file's:
    ``--platform-engineers``, ``--compliance-mtls``, ``--observability-needed`` and
    ``--nodes`` (manifests rarely hold the Node objects it is counted from). Every command
    that assesses takes the same ones (``assess``, ``plan``, ``report``, the step commands,
    ``tui``), so the verdict and the plan rest on the answers the user just gave; passed to
    the command as one ``answers`` mapping holding only the flags given (docs/profile.md)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = ((name, kwargs.pop(name)) for name in _ANSWER_PARAMETERS)
        return func(*args, answers={k: v for k, v in given if v is not None}, **kwargs)

    decorators = [
        click.option("--platform-engineers", type=click.IntRange(min=0), default=None,
                     metavar="N", help="Dedicated platform engineers (overrides the profile's "
                                       "team.platformEngineers)."),
        click.option("--compliance-mtls/--no-compliance-mtls", default=None,
                     help="Compliance requires mTLS everywhere without code changes "
                          "(overrides the profile's compliance.mtlsEverywhere)."),
        click.option("--observability-needed/--no-observability-needed", default=None,
                     help="Golden metrics and tracing are wanted without instrumenting "
                          "services (overrides the profile's observability.needed)."),
        click.option("--nodes", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Node count for ztunnel and DaemonSet pods in the costs (overrides "
                          "the profile's cluster.nodes; default: the Node objects seen)."),
    ]
    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper  # type: ignore[return-value]


def min_confidence_option() -> Callable[[F], F]:
    """``--min-confidence``: leave out calls whose best evidence is weaker (docs/graph.md)."""
    return click.option(
        "--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
        metavar="C", help="Leave out calls whose best evidence has a lower confidence (0..1), "
                          "e.g. 0.7 drops addresses read only from a shared ConfigMap (0.6).")


def root_namespace_option() -> Callable[[F], F]:
    """``--root-namespace``: Istio's root namespace, held to a namespace's name as ``-n`` is
    (one line, exit 2): the plan writes its mesh-wide PeerAuthentication there, which the API
    server would refuse in a namespace such as ``Istio_System``."""
    def check(ctx: click.Context, _param: click.Parameter, value: str) -> str:
        from planner.domain.object_names import namespace_problem

        # Shell completion parses half-typed lines and must never print or exit.
        if not ctx.resilient_parsing and (problem := namespace_problem(value)) is not None:
            fail(f"--root-namespace: {problem}", ExitCode.USAGE)
        return value

    return click.option("--root-namespace", default="istio-system", show_default=True,
                        metavar="NS", callback=check,
                        help="Istio's root namespace (meshConfig.rootNamespace; never "
                             "enrolled).")


def profile_option(used_for: str = "") -> Callable[[F], F]:
    """``--profile FILE``: the team's answers the manifests cannot give (docs/profile.md);
    ``used_for`` says what the command reads them for."""
    return click.option("--profile", "profile_path", default=None, metavar="FILE",
                        help=f"YAML answers the manifests cannot give{used_for} "
                             "(docs/profile.md).")


def authz_option() -> Callable[[F], F]:
    """``--authz/--no-authz``: whether the plan ends with the authorization phases."""
    return click.option(
        "--authz/--no-authz", default=None,
        help="End the plan with the authorization phases: per namespace, least-privilege "
             "ALLOW policies in dry run, a gate on the denials they would make, then enforced "
             "(docs/authz.md). Default: the profile's plan.authz, else without.")


def dataplane_option(who: str) -> Callable[[F], F]:
    """``--dataplane``: as ``assess`` recommends per namespace (the default), or one mode for
    every namespace ``who`` enrolls."""
    return click.option(
        "--dataplane", type=click.Choice(["recommended", "sidecar", "ambient"]),
        default="recommended", show_default=True,
        help=f"How {who} enrolls namespaces not yet labelled: as `planner assess` recommends "
             "for each (ambient or sidecar), or sidecar or ambient for all.")


@click.command()
@input_options
@output_option("table", "wide", "json", "yaml")
@plan_options
@traffic_options
@click.option("--out", "out_dir", default=None, metavar="DIR",
              help="Write GitOps-ready YAML: one folder per step, named by its id (as "
                   "apply --out writes), with a kustomization.yaml and rollback/; steps.yaml "
                   "gives the order.")
@click.option("--force", is_flag=True, help="Replace a non-empty --out directory.")
@handle_errors
def plan(spec: InputSpec, output: str, plan_options: PlanOptions,
         traffic: TrafficSource | None, out_dir: str | None, force: bool) -> None:
    """Plan the PERMISSIVE -> STRICT mTLS rollout, step by step, with rollbacks.

    \b
    Examples:
      planner plan -f sample_clusters/shop -R
      planner plan -f sample_clusters/shop -R -o wide
      planner plan -f sample_clusters/shop -R -o yaml
      planner plan -f sample_clusters/shop -R --out rollout/ --force
      planner plan -f sample_clusters/shop -R --prometheus http://127.0.0.1:9090
    """
    rollout = run_pipeline(spec, plan_options, traffic=traffic)
    result, gates = rollout.gated, rollout.gates
    if out_dir is not None:
        from planner.sinks.gitops import write_gitops

        path = write_gitops(result, out_dir, force=force)
        click.echo(f"planner: wrote {len(result.steps)} steps to {path}", err=True)
    if output in ("table", "wide"):
        from planner.sinks.plan_table import render_plan

        render_plan(stdout_console(), result, gates, wide=output == "wide")
    else:
        from planner.sinks.plan_json import plan_document

        print_document(plan_document(result, gates), output)
    exit_if_invalid(rollout.analysis.scan)
