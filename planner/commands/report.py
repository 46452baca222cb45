"""``planner report``: the whole assessment as one document for CI (``--json``).

Formats are pluggable: each is a function from the report document built by
:func:`planner.sinks.report_json.report_document` to text (``_FORMATS``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from planner.commands.common import handle_errors, input_options, input_spec
from planner.commands.plan import make_plan, plan_options
from planner.exit_codes import ExitCode


def _json(doc: dict[str, Any]) -> str:
    from planner.sinks.wire import dump_json

    return dump_json(doc)


#: Format name -> renderer of the report document.
_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {"json": _json}


@click.command()
@input_options
@plan_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (the default).")
@click.option("--fail-on", type=click.Choice(["info", "warning", "error", "critical"]),
              default=None, help="Exit with code 10 when a blocker is at or above this level.")
@handle_errors
def report(filenames: tuple[str, ...], recursive: bool, namespace: str | None,
           all_namespaces: bool, strict: bool, kubeconfig: str | None, context: str | None,
           root_namespace: str, granularity: str, dataplane: str, as_json: bool,
           fail_on: str | None) -> None:
    """Report inventory, call graph, plan and blockers as one deterministic document.

    \b
    Examples:
      planner report -f sample_clusters/shop -R --json | jq .blockers
      planner report -f manifests/ -R --json --fail-on error
    """
    from planner.rules.base import Level
    from planner.sinks.report_json import report_document

    spec = input_spec(filenames, recursive, namespace, all_namespaces, strict, kubeconfig,
                      context)
    analysis, plan = make_plan(spec, root_namespace, granularity, dataplane)
    sys.stdout.write(_FORMATS["json"](report_document(analysis, plan)))
    if fail_on is not None:
        threshold = Level(fail_on).rank
        if any(f.severity.rank >= threshold for f in plan.blockers):
            sys.exit(int(ExitCode.FINDINGS))
