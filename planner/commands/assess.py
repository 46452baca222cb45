"""``planner assess``: is a mesh worth it here, which data plane, and what it costs."""

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
)
from planner.commands.plan import answer_options, profile_option

if TYPE_CHECKING:
    from planner.service import InputSpec


@click.command()
@input_options
@profile_option()
@answer_options
@output_option("table", "wide", "json")
@handle_errors
def assess(spec: InputSpec, profile_path: str | None, answers: dict[str, int | bool],
           output: str) -> None:
    """Give a mesh-fit verdict (mesh-overkill, mesh-optional, mesh-recommended) with every
    factor behind it, a data plane per namespace, and the resource cost of each option.

    Unanswered profile questions are shown as unknown, with what each answer would change.

    \b
    Examples:
      planner assess -f sample_clusters/shop -R --profile sample_clusters/profiles/shop.yaml
      planner assess -f sample_clusters/tiny --compliance-mtls -o json
    """
    from planner.service import assess as run_assess

    analysis = run_analysis(spec, profile_path=profile_path, profile_overrides=answers)
    assessment = run_assess(analysis)
    if output in ("table", "wide"):
        from planner.sinks.assessment_table import render_assessment

        render_assessment(stdout_console(), assessment, analysis.scan.source_label,
                          wide=output == "wide")
    else:
        from planner.sinks.assessment_json import assessment_document

        print_document(assessment_document(assessment, analysis.scan.source_label))
    exit_if_invalid(analysis.scan)
