"""``planner traffic``: what the mesh saw, per namespace, against what the manifests say."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from planner.commands.common import (
    exit_if_invalid,
    handle_errors,
    input_options,
    output_option,
    print_document,
    run_analysis,
    stdout_console,
    traffic_options,
)
from planner.errors import InputError

if TYPE_CHECKING:
    from planner.service import InputSpec, TrafficSource


@click.command()
@input_options
@traffic_options
@output_option("table", "wide", "json")
@click.option("--cluster-domain", default="cluster.local", show_default=True, metavar="DOMAIN",
              help="DNS suffix of the cluster (svc.DOMAIN names resolve to Services).")
@handle_errors
def traffic(spec: InputSpec, traffic: TrafficSource | None, output: str,
            cluster_domain: str) -> None:
    """Show mTLS status per namespace from observed traffic (--prometheus or --traffic):
    plaintext callers, the STRICT gate, edges the manifests missed and edges never seen.

    \b
    Examples:
      planner traffic -f sample_clusters/shop -R --prometheus http://127.0.0.1:9090
      planner traffic -f sample_clusters/shop -R --traffic kiali-graph.json -o json
      planner traffic --context prod --prometheus https://prom.example --window 30d
    """
    from planner.service import namespace_report, observe

    if traffic is None:
        # InputError, not click.UsageError: handle_errors turns only planner errors into codes.
        raise InputError("planner traffic needs observed traffic: --prometheus URL or "
                         "--traffic FILE")
    # The traffic is judged against the calls an input declares: without manifests or a
    # cluster there is nothing to judge it against (input_named says so in one line).
    analysis = observe(run_analysis(spec, cluster_domain=cluster_domain,
                                    needed_for="planner traffic compares observed traffic "
                                    "with manifests or a cluster"),
                       traffic)
    snapshot = analysis.traffic
    assert snapshot is not None  # observe() sets it
    entries = namespace_report(analysis)
    if output == "json":
        from planner.sinks.traffic_json import traffic_document

        print_document(traffic_document(snapshot, analysis.graph, entries))
    else:
        from planner.sinks.traffic_table import render_traffic

        render_traffic(stdout_console(), snapshot, entries, wide=output == "wide")
    exit_if_invalid(analysis.scan)
