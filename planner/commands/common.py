"""Options and plumbing every command shares: input selection, output format, error handling."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TypeVar, cast, overload

import click

from planner.commands.completion import complete_namespace
from planner.commands.process import keep_until_exit
from planner.domain.redact import redact_message
from planner.errors import (
    ApplyError,
    ClusterError,
    GateRefused,
    InputError,
    MetricsError,
    NoKubeconfig,
    OutcomeNotReached,
    PlannerError,
    ReadOnlyError,
)
from planner.exit_codes import ExitCode
from planner.untrusted import one_line

if TYPE_CHECKING:
    from rich.console import Console

    from planner.domain.analysis import Analysis, ScanResult
    from planner.service import InputSpec, PlanOptions, Rollout

F = TypeVar("F", bound=Callable[..., Any])

_EXIT_FOR: tuple[tuple[type[PlannerError], ExitCode], ...] = (
    (ReadOnlyError, ExitCode.READ_ONLY),
    (GateRefused, ExitCode.GATE_FAILED),
    (OutcomeNotReached, ExitCode.NOT_READY),
    (InputError, ExitCode.INPUT_ERROR),
    (ClusterError, ExitCode.CLUSTER_ERROR),
    (MetricsError, ExitCode.METRICS_ERROR),
    (ApplyError, ExitCode.APPLY_ERROR),
)


def exit_code_for(err: PlannerError) -> ExitCode:
    """The exit code for one error class (most specific first)."""
    for cls, code in _EXIT_FOR:
        if isinstance(err, cls):
            return code
    return ExitCode.INTERNAL


def fail(message: str, code: ExitCode) -> None:
    """Print ``planner: error: MESSAGE`` on stderr and exit with ``code``. A message can quote
    input (a URL, a line of a file): its credentials are redacted like the output's."""
    click.echo(f"planner: error: {one_line(redact_message(message))}", err=True)
    sys.exit(int(code))


def echo_diagnostics(diagnostics: Iterable[object]) -> None:
    """Diagnostics on stderr, one line each, redacted like the output: every path that prints
    them (a scan, an input with no usable document) goes through here."""
    for diagnostic in diagnostics:
        click.echo(f"planner: {one_line(redact_message(str(diagnostic)))}", err=True)


def handle_errors(func: F) -> F:
    """Turn planner errors into one stderr line and a documented exit code; never a traceback
    (set PLANNER_DEBUG=1 to see one for an internal error)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PlannerError as err:
            echo_diagnostics(getattr(err, "details", ()))  # NoUsableInput: why, per document
            fail(str(err), exit_code_for(err))
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # planner.cli prints these in one line, with Click's exit codes (2 for usage)
        except KeyboardInterrupt:
            click.echo("planner: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # `planner ... | head` closing the pipe is not an error worth a message.
            sys.stderr.close()
            sys.exit(int(ExitCode.OK))
        except Exception as err:  # last resort: one line, not a traceback
            if os.environ.get("PLANNER_DEBUG"):
                raise
            fail(f"internal error: {type(err).__name__}: {err} (set PLANNER_DEBUG=1 for a "
                 "traceback and report it)", ExitCode.INTERNAL)
        return None

    return wrapper  # type: ignore[return-value]


#: The parameters :func:`input_options` turns into one ``spec``.
_INPUT_PARAMETERS = ("filenames", "recursive", "namespace", "all_namespaces", "strict",
                     "kubeconfig", "context", "namespace_per_folder")


@overload
def input_options(func: F) -> F: ...


@overload
def input_options(func: None = None, *, strict_flag: str = "--strict") -> Callable[[F], F]: ...


def input_options(func: F | None = None, *, strict_flag: str = "--strict") -> Any:
    """kubectl's input flags: -f/--filename (repeatable, ``-`` for stdin), -R, -n, --strict,
    and --kubeconfig/--context/-A for a live cluster, passed to the command as one
    ``spec`` (:func:`input_spec`). A command whose own ``--strict`` means something else names
    the input one differently (``@input_options(strict_flag=...)``)."""
    if func is None:
        return functools.partial(input_options, strict_flag=strict_flag)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        spec = input_spec(*(kwargs.pop(name) for name in _INPUT_PARAMETERS))
        return func(*args, spec=spec, **kwargs)

    decorators = [
        click.option("-f", "--filename", "filenames", multiple=True, metavar="PATH",
                     help="Manifest file or directory ('-' reads stdin). Repeatable."),
        click.option("-R", "--recursive", is_flag=True,
                     help="Descend into subdirectories of -f directories."),
        click.option("-n", "--namespace", default=None, metavar="NS",
                     shell_complete=complete_namespace,
                     help="Namespace for objects without one (manifests; default 'default') "
                          "or the only namespace to scan (cluster)."),
        click.option("--namespace-per-folder", is_flag=True,
                     help="Each immediate subfolder of a -f directory is the namespace of the "
                          "objects in it that have none (implies -R)."),
        click.option("-A", "--all-namespaces", is_flag=True,
                     help="Scan every namespace of the cluster (the default for live scans)."),
        click.option(strict_flag, "strict", is_flag=True,
                     help="Stop at the first invalid document instead of skipping it."),
        click.option("--kubeconfig", default=None, metavar="FILE",
                     help="Kubeconfig for a live scan (default: $KUBECONFIG or ~/.kube/config)."),
        click.option("--context", default=None, metavar="NAME",
                     help="Kubeconfig context for a live scan."),
        click.option("-v", "--verbose", is_flag=True, expose_value=False,
                     callback=_remember_verbose,
                     help="Also report what the scan cost on stderr (API calls, kinds the "
                          "cluster does not serve or forbids)."),
    ]
    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper


def input_spec(filenames: tuple[str, ...], recursive: bool, namespace: str | None,
               all_namespaces: bool, strict: bool, kubeconfig: str | None,
               context: str | None, namespace_per_folder: bool = False) -> InputSpec:
    """Choose the input from the flags: manifests when -f is given, else the live cluster.
    A ``namespace`` that cannot name a namespace stops here, in one line (exit 2)."""
    from planner.domain.object_names import namespace_problem
    from planner.service import ClusterInput, ManifestInput

    if namespace is not None and (problem := namespace_problem(namespace)) is not None:
        fail(f"-n/--namespace: {problem}", ExitCode.USAGE)
    if filenames:
        if kubeconfig or context:
            raise click.UsageError("use either -f (manifests) or --kubeconfig/--context")
        return ManifestInput(tuple(filenames), recursive, strict, namespace or "default",
                             namespace_per_folder)
    if namespace_per_folder:
        raise click.UsageError("--namespace-per-folder reads -f directories; a live cluster "
                               "has its namespaces")
    return ClusterInput(kubeconfig, context, None if all_namespaces else namespace)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int, str], None] | None]:
    """A Rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int, what: str = "") -> None:
            bar.update(task, completed=done, total=total or None,
                       description=f"{label}: {what}" if what else label)

        yield update


def _remember_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["planner.verbose"] = value
    return value


def report_scan(result: ScanResult) -> None:
    """Print a ScanResult's diagnostics on stderr, one line each; with -v also what the scan
    cost (objects, API calls) and the notes (kinds not served)."""
    echo_diagnostics(result.diagnostics)
    context = click.get_current_context(silent=True)
    if context is None or not context.meta.get("planner.verbose"):
        return
    inventory = result.inventory
    click.echo(f"planner: scanned {result.source_label}: {len(inventory.workloads)} workloads, "
               f"{len(inventory.services)} services, {len(inventory.namespaces)} namespaces"
               + (f"; {result.api_calls} API calls" if result.api_calls is not None else ""),
               err=True)
    for note in result.notes:
        click.echo(f"planner: {one_line(note)}", err=True)


def exit_if_invalid(result: ScanResult) -> None:
    """After the output was written: exit PARTIAL when a live scan could not read some kinds
    (saying which, once more, as the last line), INVALID_INPUT when it skipped documents."""
    if result.unread:
        click.echo(f"planner: partial result: could not read {', '.join(result.unread)} "
                   "(forbidden or timed out); what depends on them is unknown", err=True)
        sys.exit(int(ExitCode.PARTIAL))
    if result.invalid:
        sys.exit(int(ExitCode.INVALID_INPUT))


def _stdin_for(spec: InputSpec) -> BinaryIO | None:
    """The binary stdin when ``-f -`` was given, else None."""
    return sys.stdin.buffer if "-" in getattr(spec, "paths", ()) else None


def run_scan(spec: InputSpec) -> ScanResult:
    """Scan with a progress bar, print the diagnostics on stderr, return the ScanResult."""
    from planner.service import scan

    with input_named(spec), progress_bar("scanning") as progress:
        result = scan(spec, progress=progress, stdin=_stdin_for(spec))
    report_scan(result)
    keep_until_exit(result)
    return result


@contextmanager
def input_named(spec: InputSpec, needed_for: str = "") -> Iterator[None]:
    """Say "no input" in one line (INPUT_ERROR) when neither manifests (``-f``) nor a cluster
    (``--kubeconfig``/``--context``) were named and no kubeconfig is there for the default
    live scan: the user named no input, and "no kubeconfig found" alone reads as if a
    cluster had been asked for. ``needed_for``: why the command needs one (a sentence)."""
    from planner.service import ClusterInput

    try:
        yield
    except NoKubeconfig as err:
        implicit = (isinstance(spec, ClusterInput) and spec.kubeconfig is None
                    and spec.context is None)
        if not implicit:
            raise
        where = ", ".join(err.paths) or "the default places"
        raise InputError(
            (f"{needed_for}: " if needed_for else "")
            + "no input: give manifests with -f FILE|DIR ('-' reads stdin) or a cluster with "
            f"--kubeconfig FILE or --context NAME (no kubeconfig at {where}, and not running "
            "inside a cluster)") from None


def run_analysis(spec: InputSpec, *, needed_for: str = "", **options: Any) -> Analysis:
    """``service.analyse`` with a progress bar and stdin for ``-f -``; prints the scan's
    diagnostics on stderr and returns the Analysis. ``options`` go to ``analyse``;
    ``needed_for`` to :func:`input_named`."""
    from planner.service import analyse

    with input_named(spec, needed_for), progress_bar("scanning") as progress:
        analysis = analyse(spec, progress=progress, stdin=_stdin_for(spec), **options)
    report_scan(analysis.scan)
    keep_until_exit(analysis)
    return analysis


def run_pipeline(spec: InputSpec, options: PlanOptions, **more: Any) -> Rollout:
    """``service.run_pipeline`` with a progress bar and stdin for ``-f -``; prints the scan's
    diagnostics on stderr as soon as it is done. ``more`` goes to ``run_pipeline``."""
    from planner import service

    with input_named(spec), progress_bar("scanning") as progress:
        rollout = service.run_pipeline(spec, options, progress=progress,
                                       stdin=_stdin_for(spec), scanned=report_scan, **more)
    keep_until_exit(rollout)
    return rollout


def print_document(data: Any, output: str = "json") -> None:
    """Write a wire document to stdout as ``json`` or ``yaml``."""
    from planner.sinks.wire import json_chunks, yaml_document

    if output == "json":
        # As bytes: decoding megabytes only for the text layer to encode them again is
        # wasted work.
        sys.stdout.flush()
        for chunk in json_chunks(data):
            sys.stdout.buffer.write(chunk)
    else:
        sys.stdout.write(yaml_document(data))
    keep_until_exit(data)


def output_option(*choices: str, default: str = "table") -> Callable[[F], F]:
    """``-o/--output`` with the given formats."""
    return click.option("-o", "--output", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format.")


def stdout_console() -> Console:
    """A Rich console for stdout (markup off: cluster strings are data)."""
    from functools import partial

    from rich.console import Console

    console = partial(Console, markup=False, highlight=False, emoji=False)
    if sys.stdout.isatty():
        return console()
    # Piped output gets a fixed, wide layout (Rich would assume 80 columns) so tables in
    # files and CI logs keep one row per line; $COLUMNS still wins.
    width = None if os.environ.get("COLUMNS") else 140
    # Rich writes, flushes and asks isatty() of its file: the wrapper has what it uses.
    return console(width=width, file=cast("IO[str]", _TrimmedLines(sys.stdout)))


class _TrimmedLines:
    """A text stream that drops the spaces ending a line: Rich pads wrapped cells and titles
    with them, and output kept in files or committed (``planner plan > plan.txt``) would then
    fail whitespace checks. Only for output that is no terminal, which Rich writes without
    styles (on a terminal a padded cell may carry a background)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(_LINE_END_SPACES.sub("\n", text))
        return len(text)

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)  # flush, fileno, encoding, ...


_LINE_END_SPACES = re.compile(r"[ \t]+\n")


def _given(name: str) -> bool:
    """Whether the parameter ``name`` was given on the command line (not its default)."""
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) not in (
        None, ParameterSource.DEFAULT)


def _refuse_flags_of_no_source(prometheus: str | None, traffic_file: str | None,
                               flags: dict[str, tuple[bool, str]]) -> None:
    """A flag of one traffic source without that source would be ignored without a word
    (``--window 30d`` with ``--traffic``: an export covers its own window): one line, exit 2."""
    sources = {"--prometheus": prometheus is not None, "--traffic": traffic_file is not None}
    for flag, (used, source) in flags.items():
        if used and not sources[source]:
            fail(f"{flag} is for {source}, which is not given: it would be ignored",
                 ExitCode.USAGE)


def traffic_options(func: F) -> F:
    """Observed-traffic inputs, passed to the command as one ``traffic``: the service's
    ``TrafficSource``, or None without --prometheus and --traffic. --prometheus URL comes with
    --prometheus-token-file, --prometheus-ca and --window, --traffic FILE with
    --traffic-format and --trust-declared. Both at once is an input error.

    ``window`` goes along only when given on the command line: each reader picks its own
    otherwise (the plan's gates look back 7 days; ``verify`` only the last minutes, since
    older plaintext predates the step)."""
    names = ("prometheus", "prometheus_token_file", "prometheus_ca", "window", "traffic_file",
             "traffic_format", "trust_declared")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        prometheus, token_file, ca_file, window, traffic_file, traffic_format, trust = (
            kwargs.pop(name) for name in names)
        _refuse_flags_of_no_source(prometheus, traffic_file, {
            "--prometheus-token-file": (token_file is not None, "--prometheus"),
            "--prometheus-ca": (ca_file is not None, "--prometheus"),
            "--window": (_given("window"), "--prometheus"),
            "--traffic-format": (traffic_format is not None, "--traffic"),
            "--trust-declared": (trust, "--traffic")})
        if traffic_format is not None:
            from planner.domain.traffic import EXPORT_FORMATS

            if traffic_format not in EXPORT_FORMATS:
                raise click.BadParameter(
                    f"{traffic_format!r} is not one of {', '.join(map(repr, EXPORT_FORMATS))}",
                    param_hint="'--traffic-format'")
        traffic = None
        if prometheus is not None or traffic_file is not None:
            from planner.service import TrafficSource

            try:
                traffic = TrafficSource(
                    prometheus=prometheus, token_file=token_file, ca_file=ca_file,
                    traffic_file=traffic_file, traffic_format=traffic_format,
                    window=window if _given("window") else None, trust_declared=trust)
            except PlannerError as err:  # outside the command's handle_errors
                fail(str(err), exit_code_for(err))
        return func(*args, traffic=traffic, **kwargs)

    decorators = [
        click.option("--prometheus", default=None, metavar="URL",
                     help="Read observed traffic from Istio's metrics in this Prometheus."),
        click.option("--prometheus-token-file", default=None, metavar="FILE",
                     help="Bearer token for --prometheus (default: $PLANNER_PROMETHEUS_TOKEN)."),
        click.option("--prometheus-ca", default=None, metavar="FILE",
                     help="CA bundle that signed the --prometheus server certificate."),
        click.option("--window", default="7d", show_default=True, metavar="DURATION",
                     help="How far back --prometheus looks; long enough for weekly jobs."),
        click.option("--traffic", "traffic_file", default=None, metavar="FILE",
                     help="Read observed traffic from an export file (Prometheus JSON, Kiali "
                          "graph, Hubble flows, Linkerd edges or CSV)."),
        click.option("--traffic-format", default=None, metavar="FORMAT",
                     help="Format of --traffic: prometheus, kiali, hubble, linkerd or csv "
                          "(default: detected)."),
        click.option("--trust-declared", is_flag=True, default=False,
                     help="Accept a --traffic CSV's declared mtls_share as proof that passes "
                          "a STRICT gate (recorded in the output; without it such a gate is "
                          "unknown)."),
    ]
    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper  # type: ignore[return-value]
