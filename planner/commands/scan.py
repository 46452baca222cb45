"""``planner scan``: read manifests or a cluster and show the inventory."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from planner.commands.common import (
    exit_if_invalid,
    handle_errors,
    input_options,
    output_option,
    print_document,
    run_scan,
    stdout_console,
)

if TYPE_CHECKING:
    from planner.service import InputSpec


@click.command()
@input_options
@output_option("table", "wide", "json", "yaml")
@handle_errors
def scan(spec: InputSpec, output: str) -> None:
    """Read manifests (-f) or a live cluster into an inventory.

    \b
    Examples:
      planner scan -f sample_clusters/shop -R
      kubectl get -A -o yaml deploy,svc,ns | planner scan -f - -o json
    """
    result = run_scan(spec)
    if output in ("table", "wide"):
        from planner.sinks.inventory_table import render_inventory

        render_inventory(stdout_console(), result, wide=output == "wide")
    else:
        from planner.sinks.inventory_json import inventory_document

        print_document(inventory_document(result.inventory, unread=result.unread), output)
    exit_if_invalid(result)
