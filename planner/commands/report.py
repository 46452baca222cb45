"""``planner report``: the whole assessment as one document, for CI (JSON) and for people
(Markdown, HTML). docs/report.md describes every field and the exit codes.

Formats are pluggable: each is a function from the report document built by
:func:`planner.sinks.report_json.report_document` to text (``_FORMATS``), so every format says
the same thing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from planner.commands.common import (
    exit_if_invalid,
    handle_errors,
    input_options,
    run_pipeline,
    traffic_options,
)
from planner.commands.plan import plan_options
from planner.exit_codes import ExitCode

if TYPE_CHECKING:
    from planner.service import InputSpec, PlanOptions, TrafficSource


def _json(doc: dict[str, Any]) -> str:
    from planner.sinks.wire import dump_json

    return dump_json(doc)


def _markdown(doc: dict[str, Any]) -> str:
    from planner.sinks.report_markdown import render_markdown

    return render_markdown(doc)


def _html(doc: dict[str, Any]) -> str:
    from planner.sinks.report_html import render_html

    return render_html(doc)


def _sarif(doc: dict[str, Any], docs_uri: str | None = None) -> str:
    from planner import __version__
    from planner.rules.registry import CATALOGUE
    from planner.sinks.report_sarif import render_sarif

    return render_sarif(doc, CATALOGUE, __version__, docs_uri)


def _documentation_url() -> str | None:
    """The ``Documentation`` URL of the installed package's metadata (pyproject's
    ``[project.urls]``), if it has one: a build that publishes its docs says where."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls: list[str] = metadata("meshplan").get_all("Project-URL") or []
    except PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() == "documentation" and url.strip():
            return url.strip()
    return None


def _docs_uri(given: str | None) -> str | None:
    """Where the docs/ folder is published, for SARIF's helpUri: ``--help-base-uri``, else the
    package metadata's Documentation URL, else None (helpUri left out, never invented)."""
    from planner.sinks.report_sarif import check_docs_uri

    if given is not None:
        try:
            return check_docs_uri(given)
        except ValueError as err:
            raise click.UsageError(f"--help-base-uri {err}") from None
    found = _documentation_url()
    try:
        return check_docs_uri(found) if found else None
    except ValueError:
        return None  # a metadata URL that cannot be a helpUri base: left out, as with none


#: Format name -> renderer of the report document.
_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "json": _json, "markdown": _markdown, "html": _html, "sarif": _sarif,
}


def _write(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a reader sees the old report or the new one."""
    from planner.service import write_output

    write_output(Path(path), text)


@click.command()
@input_options
@plan_options
@traffic_options
@click.option("--format", "fmt", type=click.Choice(list(_FORMATS)), default=None,
              help="Output format: json (for machines; the default), markdown, html (one "
                   "self-contained page) or sarif (SARIF 2.1.0, for code scanning).")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--out", "out_file", default=None, metavar="FILE",
              help="Write the report to FILE (atomically) instead of stdout.")
@click.option("--fail-on", type=click.Choice(["info", "warning", "error", "critical"]),
              default=None, help="Exit with code 10 when a blocker that is not suppressed is "
                                 "at or above this level.")
@click.option("--ignore", "ignore", multiple=True, metavar="CODE[:KIND/NS/NAME]",
              help="Accept a finding: it stays in the report, marked suppressed, and "
                   "--fail-on does not count it. Repeatable.")
@click.option("--help-base-uri", default=None, metavar="URL",
              help="SARIF: where meshplan's docs/ folder is published (absolute http(s)); "
                   "each rule's helpUri is URL/rules.md#mpNNN. Without it (or a Documentation "
                   "URL in the package metadata) helpUri is left out.")
@handle_errors
def report(spec: InputSpec, plan_options: PlanOptions, traffic: TrafficSource | None,
           fmt: str | None, as_json: bool, out_file: str | None, fail_on: str | None,
           ignore: tuple[str, ...], help_base_uri: str | None) -> None:
    """Report inventory, call graph, fit verdict, plan and blockers as one deterministic
    document.

    \b
    Examples:
      planner report -f sample_clusters/shop -R --json | jq .blockers
      planner report -f manifests/ -R --json --fail-on error
      planner report -f sample_clusters/shop -R --format html --out report.html
      planner report -f manifests/ -R --format sarif --out meshplan.sarif \\
          --help-base-uri https://git.example.com/platform/meshplan/blob/v0.1.0/docs
      planner report -f manifests/ -R --fail-on error --ignore MP207 \\
          --ignore MP205:StatefulSet/data/postgres
      planner report --context prod --prometheus http://127.0.0.1:9090 --format sarif
    """
    from planner.domain.findings import Level
    from planner.service import suppressions
    from planner.sinks.report_json import report_document

    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json contradicts --format {fmt}")
    if help_base_uri is not None and fmt != "sarif":
        raise click.UsageError("--help-base-uri is for --format sarif (SARIF's helpUri)")
    docs_uri = _docs_uri(help_base_uri) if fmt == "sarif" else None
    rollout = run_pipeline(spec, plan_options, traffic=traffic)
    # With observed traffic, the gated plan: STRICT steps with plaintext carry MP301 findings.
    analysis, plan = rollout.analysis, rollout.gated
    accepted = suppressions(analysis, ignore)
    doc = report_document(analysis, plan, rollout.assessment, accepted)
    text = _sarif(doc, docs_uri) if fmt == "sarif" else _FORMATS[fmt or "json"](doc)
    if out_file is None:
        sys.stdout.write(text)
    else:
        _write(out_file, text)
        click.echo(f"planner: wrote {out_file}", err=True)
    # Incomplete input first: findings on a partial inventory are not a verdict on the cluster.
    exit_if_invalid(analysis.scan)
    if fail_on is not None:
        threshold = Level(fail_on).rank
        # Accepted risks are reported, never counted (the document marks them).
        if any(Level(f["severity"]).rank >= threshold for f in doc["blockers"]
               if "suppressed" not in f):
            sys.exit(int(ExitCode.FINDINGS))
