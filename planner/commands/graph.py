"""``planner graph``: who calls whom, with the evidence for every edge."""

from __future__ import annotations

import sys
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
from planner.commands.plan import min_confidence_option
from planner.errors import InputError

if TYPE_CHECKING:
    from planner.domain.graph import CallGraph, Edge
    from planner.service import InputSpec, TrafficSource


@click.command()
@input_options
@traffic_options
@output_option("table", "wide", "json", "dot", "mermaid")
@click.option("--namespaces", "by_namespace", is_flag=True,
              help="Show the namespace-level graph (call counts between namespaces).")
@click.option("--explain", metavar="EDGE", default=None,
              help="Print all evidence for one edge: 'CALLER -> CALLEE:PORT' or 'CALLER CALLEE' "
                   "(parts of ids match).")
@click.option("--hints", "show_hints", is_flag=True,
              help="Also list allowed-traffic hints in the table.")
@click.option("--cluster-domain", default="cluster.local", show_default=True, metavar="DOMAIN",
              help="DNS suffix of the cluster (svc.DOMAIN names resolve to Services).")
@min_confidence_option()
@handle_errors
def graph(spec: InputSpec, traffic: TrafficSource | None, output: str, by_namespace: bool,
          explain: str | None, show_hints: bool, cluster_domain: str,
          min_confidence: float) -> None:
    """Build the service call graph from manifests (-f) or a live cluster.

    \b
    Examples:
      planner graph -f sample_clusters/shop -R
      planner graph -f sample_clusters/shop -R -o wide
      planner graph -f sample_clusters/shop -R -o dot | dot -Tsvg > calls.svg
      planner graph -f sample_clusters/shop -R --namespaces -o mermaid
      planner graph -f sample_clusters/shop -R --explain 'storefront/web assets'
      planner graph -f sample_clusters/shop -R --prometheus http://127.0.0.1:9090
    """
    from planner.service import observe

    analysis = run_analysis(spec, cluster_domain=cluster_domain, min_confidence=min_confidence)
    if traffic is not None:
        analysis = observe(analysis, traffic)
    call_graph = analysis.graph
    if explain is not None:
        from planner.sinks.graph_render import render_explain

        render_explain(stdout_console(), find_edges(call_graph, explain))
    elif output == "json":
        from planner.sinks.graph_json import graph_document, namespace_document

        print_document(namespace_document(call_graph) if by_namespace
                       else graph_document(call_graph))
    elif output in ("dot", "mermaid"):
        from planner.sinks import graph_render

        render = {("dot", False): graph_render.to_dot,
                  ("dot", True): graph_render.namespaces_to_dot,
                  ("mermaid", False): graph_render.to_mermaid,
                  ("mermaid", True): graph_render.namespaces_to_mermaid}[(output, by_namespace)]
        sys.stdout.write(render(call_graph))
    else:
        from planner.sinks.graph_render import render_namespace_table, render_table

        if by_namespace:
            render_namespace_table(stdout_console(), call_graph)
        else:
            render_table(stdout_console(), call_graph, include_hints=show_hints,
                         observed=traffic is not None, wide=output == "wide")
    exit_if_invalid(analysis.scan)


def find_edges(call_graph: CallGraph, query: str) -> list[Edge]:
    """Edges (calls, then hints) matching ``query``: an exact key, or ``CALLER CALLEE`` where
    each part is a substring of the ids. Raises ``InputError`` when nothing matches."""
    candidates = (*call_graph.edges, *call_graph.hints)
    exact = [e for e in candidates if e.key == query.strip()]
    if exact:
        return list(exact)
    parts = query.replace("->", " ").split()
    if len(parts) != 2:
        raise InputError(f"--explain: expected 'CALLER -> CALLEE:PORT' or 'CALLER CALLEE', "
                         f"got {query!r}")
    caller, callee = parts
    matched = [e for e in candidates if caller in e.caller
               and (callee in e.callee or callee in f"{e.callee}:{e.port}")]
    if not matched:
        raise InputError(f"--explain: no edge matches {query!r} (see 'planner graph' for the "
                         "edge list)")
    return list(matched)
