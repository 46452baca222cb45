"""``planner scan``: read manifests or a cluster and show the inventory."""

from __future__ import annotations

import click

from planner.commands.common import (
    exit_if_invalid,
    handle_errors,
    input_options,
    input_spec,
    output_option,
    print_document,
    run_scan,
    stdout_console,
)
from planner.service import paused_gc


@click.command()
@input_options
@output_option("table", "wide", "json", "yaml")
@handle_errors
def scan(filenames: tuple[str, ...], recursive: bool, namespace: str | None,
         all_namespaces: bool, strict: bool, kubeconfig: str | None, context: str | None,
         output: str) -> None:
    """Read manifests (-f) or a live cluster into an inventory.

    \b
    Examples:
      planner scan -f sample_clusters/shop -R
      kubectl get -A -o yaml deploy,svc,ns | planner scan -f - -o json
    """
    spec = input_spec(filenames, recursive, namespace, all_namespaces, strict, kubeconfig,
                      context)
    with paused_gc():
        result = run_scan(spec)
        if output in ("table", "wide"):
            from planner.sinks.inventory_table import render_inventory

            render_inventory(stdout_console(), result, wide=output == "wide")
        else:
            from planner.sinks.inventory_json import inventory_document

            print_document(inventory_document(result.inventory, native=output == "json"),
                           output)
    exit_if_invalid(result)
