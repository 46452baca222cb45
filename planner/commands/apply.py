"""``planner apply|rollback|verify|status``: change the cluster one plan step at a time.

Read-only unless ``--write``: ``apply --dry-run``, ``verify`` and ``status`` never change
anything; ``apply`` and ``rollback`` without ``--write`` exit READ_ONLY before scanning. With
manifest input (``-f``) the target is a GitOps folder (``--out DIR``) instead of a cluster.
``apply`` and ``verify`` take ``planner plan``'s traffic options for the plaintext gate of
STRICT steps. Flow, journal, gates and recovery: docs/apply.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypedDict, TypeVar, Unpack

import click

from planner.commands.common import (
    F,
    fail,
    handle_errors,
    input_options,
    output_option,
    print_document,
    run_pipeline,
    stdout_console,
    traffic_options,
)
from planner.commands.completion import complete_step
from planner.commands.plan import plan_options
from planner.domain.journal import LOCK_WAIT_S
from planner.errors import ApplyError, InputError
from planner.exit_codes import ExitCode
from planner.service import (
    DEFAULT_BATCH,
    DEFAULT_JOURNAL,
    DEFAULT_ROLLOUT_TIMEOUT,
    DEFAULT_SETTLE,
    parse_batch,
    parse_duration,
)
from planner.untrusted import one_line

if TYPE_CHECKING:
    from rich.console import Console

    from planner.service import ApplySession, InputSpec, PlanOptions, RolloutTick, TrafficSource

T = TypeVar("T")


class SessionOptions(TypedDict):
    """What :func:`session_options` passes to a step command."""

    journal: str
    out_dir: str | None
    lock_wait: float


def session_options(func: F) -> F:
    """Options every step command shares: journal, GitOps folder."""
    decorators = [
        click.option("--journal", default=DEFAULT_JOURNAL, show_default=True, metavar="FILE",
                     help="Journal of every write, for resume, rollback and status."),
        click.option("--out", "out_dir", default=None, metavar="DIR",
                     help="Manifest input (-f): write the step's GitOps files here."),
        click.option("--lock-wait", default=LOCK_WAIT_S, show_default=True, metavar="SECONDS",
                     type=click.FloatRange(min=0),
                     help="How long to wait for another apply or rollback holding the "
                          "journal."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _open(spec: InputSpec, plan_options: PlanOptions, session: SessionOptions, write: bool,
          traffic: TrafficSource | None = None, step_id: str | None = None,
          journaled: bool = False) -> ApplySession:
    """Analyse, plan and open the apply session for the chosen input (``session``: the
    :func:`session_options`); with ``traffic`` given, its STRICT steps are gated on that
    observed traffic. An unknown ``step_id`` is reported before anything else is asked of the
    user (such as an output folder). ``journaled``: a step the plan lacks but the journal
    holds is known too (a rollback works from the journal: a plan built without ``--authz``
    must not hide an applied authorization step)."""
    from planner.service import ClusterInput, journal_step_ids, open_apply_session

    # The engine reads the traffic itself, right before each gated step: not here.
    rollout = run_pipeline(spec, plan_options)
    plan = rollout.plan
    unplanned = step_id is not None and step_id not in {s.id for s in plan.steps}
    if unplanned and step_id not in journal_step_ids(session["journal"]):
        raise ApplyError(plan.unknown_step(step_id or ""))
    opened = open_apply_session(rollout.analysis, plan, write=write,
                                journal_path=session["journal"],
                                kube=spec if isinstance(spec, ClusterInput) else None,
                                out_dir=session["out_dir"], traffic=traffic,
                                lock_wait_s=session["lock_wait"])
    if unplanned and not journaled:
        with opened:
            raise ApplyError(opened.unknown_step(step_id or ""))
    return opened


def _note(message: str) -> None:
    click.echo(f"planner: {one_line(message)}", err=True)


def print_diff(diff: str) -> None:
    """The unified diff on stdout, coloured on a terminal. Cluster strings are data: they go
    into a Rich Text as they are, never parsed as markup."""
    from rich.text import Text

    text = Text()
    for line in diff.splitlines(keepends=True):
        if line.startswith(("---", "+++")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        text.append(line, style=style)
    stdout_console().print(text, end="")


def _checked(parse: Callable[[str], T]) -> Callable[[click.Context, click.Parameter, str], T]:
    """A Click callback running ``parse`` on the value: its ValueError is a usage error."""

    def callback(_ctx: click.Context, _param: click.Parameter, value: str) -> T:
        try:
            return parse(value)
        except ValueError as err:
            raise click.BadParameter(str(err)) from None

    return callback


def _settle_seconds(text: str) -> float:
    from planner.domain.traffic import window_seconds

    return window_seconds(text)


def post_apply_options(func: F) -> F:
    """``--settle DURATION`` (passed on in seconds) and ``--auto-rollback``: the post-apply
    check of a STRICT step, the same for ``planner apply`` and ``planner tui``."""
    func = click.option(
        "--auto-rollback", is_flag=True,
        help="Roll a STRICT step back when plaintext or connection failures rose after the "
             "settle period.")(func)
    return click.option(
        "--settle", default=DEFAULT_SETTLE, show_default=True, metavar="DURATION",
        callback=_checked(_settle_seconds),
        help="After a STRICT step, wait this long for Istio to push the policy, then re-read "
             "plaintext and connection failures (--prometheus only).")(func)


@contextmanager
def rollout_bars(console: Console | None = None,
                 ) -> Iterator[Callable[[RolloutTick], None] | None]:
    """A Rich bar per restarted workload (ready of desired replicas, batch n of m) on stderr
    when it is a terminal, fed by the engine's RolloutTick; None otherwise (the progress
    lines say when each workload rolled out). ``console``: where to draw instead."""
    if console is None and not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console or Console(stderr=True)) as bar:

        def watch(tick: RolloutTick) -> None:
            total = max(tick.desired, 1)
            if tick.workload not in tasks:
                # Workload names come from the cluster: never parsed as markup.
                tasks[tick.workload] = bar.add_task(
                    escape(f"batch {tick.batch}/{tick.batches} {tick.workload}"), total=total)
            bar.update(tasks[tick.workload], total=total,
                       completed=total if tick.done else tick.ready)

        yield watch


def confirm(question: str, yes: bool) -> bool:
    """True to go ahead: ``--yes``, or an answer on a terminal. Without a terminal and without
    ``--yes`` the change is refused, never assumed."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ApplyError("refusing to change anything without confirmation: stdin is not a "
                         "terminal; pass --yes")
    return click.confirm(question, default=False, err=True)


@click.command()
@click.argument("step_id", metavar="STEP", shell_complete=complete_step)
@input_options
@plan_options
@session_options
@traffic_options
@click.option("--write", is_flag=True, help="Allow changes (read-only without it).")
@click.option("--dry-run", is_flag=True, help="Server-side dry run and diff only.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--resume", is_flag=True, help="Continue an interrupted apply of STEP.")
@click.option("--force", is_flag=True,
              help="Apply although required steps are not applied or the plaintext gate "
                   "does not pass (recorded in the journal).")
@click.option("--force-conflicts", is_flag=True,
              help="Take over fields another field manager owns.")
@click.option("--no-gate", is_flag=True,
              help="Apply a STRICT step without a traffic source to gate it (recorded; "
                   "status shows 'applied without gate').")
@post_apply_options
@click.option("--batch", default=DEFAULT_BATCH, show_default=True, metavar="N|P%",
              callback=_checked(parse_batch),
              help="Restart this many workloads (or this share of the step's) at a time; "
                   "each batch must roll out before the next.")
@click.option("--rollout-timeout", default=DEFAULT_ROLLOUT_TIMEOUT, show_default=True,
              metavar="DURATION", callback=_checked(parse_duration),
              help="How long one batch may take to roll out (90s, 5m, 1h).")
@handle_errors
def apply(step_id: str, spec: InputSpec, plan_options: PlanOptions,
          traffic: TrafficSource | None, write: bool, dry_run: bool, yes: bool, resume: bool,
          force: bool, force_conflicts: bool, no_gate: bool, settle: float, auto_rollback: bool,
          batch: str, rollout_timeout: float, **session: Unpack[SessionOptions]) -> None:
    """Apply one plan step: dry run, diff, confirm, server-side apply, journal.

    A STRICT step needs a traffic source (--prometheus or --traffic) to gate it, or an
    explicit --no-gate. A STRICT step whose plaintext gate fails or cannot be proven is
    refused (exit 11) unless --force. With --prometheus, a STRICT step is checked again after
    --settle: a rise in plaintext or connection failures exits 11 (and is rolled back with
    --auto-rollback). An enrollment restarts its workloads in batches (--batch) and waits
    for each to roll out with istio-proxy in its new pods; the first that does not stops the
    step (exit 12) and --resume goes on from that batch.

    \b
    Examples:
      planner apply 20-mesh-permissive --dry-run
      planner apply 30-enroll-shop --write
      planner apply 30-enroll-shop --write --resume --yes
      planner apply 40-strict-shop --write --prometheus https://prom:9090 \\
        --prometheus-token-file token --prometheus-ca ca.crt
      planner apply 40-strict-shop -f manifests/ -R --out gitops/ --write --traffic edges.csv
    """
    from planner.service import check_writable

    if not dry_run:
        check_writable(write)
    if no_gate and traffic is not None:
        raise InputError("--no-gate and --prometheus/--traffic exclude each other: the gate "
                         "runs whenever a traffic source is given")
    with _open(spec, plan_options, session, write, traffic, step_id) as opened:
        preview = opened.preview(step_id, force_conflicts=force_conflicts)
        print_diff(preview.diff)
        for line in preview.changes:
            _note(f"{step_id}: {line}")
        for line in preview.warnings:
            _note(f"warning: {line}")
        if dry_run:
            if preview.refused:
                fail(preview.refused, ExitCode.APPLY_ERROR)
            return
        if not confirm(f"Apply step {step_id} to {opened.writer.label}?", yes):
            _note("not applied")
            return
        with rollout_bars() as watch:
            outcome = opened.apply(step_id, force=force, resume=resume,
                                   force_conflicts=force_conflicts, progress=_note,
                                   no_gate=no_gate, settle_s=settle,
                                   auto_rollback=auto_rollback, batch=batch,
                                   rollout_timeout_s=rollout_timeout, watch=watch)
    for message in outcome.messages:
        if message.startswith(("applied without gate", "post-apply check",
                               "no post-apply check", "roll it back")):
            _note(message)
    click.echo(f"{outcome.step_id}: {outcome.state}")
    if outcome.check_failed:
        fail(f"post-apply check of {step_id} failed"
             + (": rolled back" if outcome.state == "rolled back" else ""),
             ExitCode.GATE_FAILED)


@click.command()
@click.argument("step_id", metavar="STEP", shell_complete=complete_step)
@input_options
@plan_options
@session_options
@click.option("--write", is_flag=True, help="Allow changes (read-only without it).")
@click.option("--dry-run", is_flag=True,
              help="Print the diff the rollback will make (from the journal) and stop.")
@click.option("--cascade", is_flag=True,
              help="Roll back the applied steps that depend on STEP first, latest first.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def rollback(step_id: str, spec: InputSpec, plan_options: PlanOptions, write: bool,
             dry_run: bool, cascade: bool, yes: bool, **session: Unpack[SessionOptions]) -> None:
    """Restore what one step changed to the journaled before-state.

    Refused while later applied steps depend on STEP (they are named); --cascade rolls them
    back first. The diff is printed before the confirmation, as --dry-run prints it.

    \b
    Examples:
      planner rollback 30-enroll-shop --dry-run
      planner rollback 30-enroll-shop --write
      planner rollback 30-enroll-shop --write --cascade   # 40-strict-shop first
    """
    from planner.service import check_writable

    if not dry_run:
        check_writable(write)
    with _open(spec, plan_options, session, write, step_id=step_id, journaled=True) as opened:
        preview = opened.rollback_preview(step_id, cascade=cascade)
        print_diff(preview.diff)
        for line in preview.changes:
            _note(line)
        for line in preview.warnings:
            if line != preview.refused:
                _note(f"warning: {line}")
        if preview.refused:
            raise ApplyError(preview.refused)
        if dry_run:
            return
        what = f"step {step_id}" + (" and the steps that depend on it" if cascade else "")
        if not confirm(f"Roll back {what} on {opened.writer.label}?", yes):
            _note("not rolled back")
            return
        outcome = opened.rollback(step_id, cascade=cascade, progress=_note)
    for message in outcome.messages:
        if message.startswith(("warning:", "rolled back")):
            _note(message)
    click.echo(f"{outcome.step_id}: {outcome.state}")


@click.command()
@click.argument("step_id", metavar="STEP", shell_complete=complete_step)
@input_options
@plan_options
@session_options
@traffic_options
@handle_errors
def verify(step_id: str, spec: InputSpec, plan_options: PlanOptions,
           traffic: TrafficSource | None, **session: Unpack[SessionOptions]) -> None:
    """Check a step: journal, live objects as applied, plaintext gate (exit 11 on failure).

    The gate reads --prometheus over the last 15 minutes unless --window says otherwise, or
    the --traffic export.

    \b
    Examples:
      planner verify 40-strict-shop --prometheus http://127.0.0.1:9090
      planner verify 40-strict-shop --traffic edges.csv
    """
    with _open(spec, plan_options, session, False, traffic, step_id) as opened:
        outcome = opened.verify(step_id)
    for message in outcome.messages:
        _note(message)
    click.echo(f"{outcome.step_id}: {outcome.state}")
    if outcome.failed:
        if outcome.failed == "gate":
            fail(f"verification of {step_id} failed: its plaintext gate did not pass (state "
                 f"{outcome.state})", ExitCode.GATE_FAILED)
        fail(f"verification of {step_id} failed: outcome not reached (state {outcome.state})",
             ExitCode.NOT_READY)


@click.command()
@input_options
@plan_options
@session_options
@output_option("table", "json")
@click.option("--migrate-journal", is_flag=True,
              help="Bind the steps of a format-1 journal to this cluster (or --out folder) "
                   "and rewrite it in the current format; the old file is kept as .v1.")
@handle_errors
def status(spec: InputSpec, plan_options: PlanOptions, output: str, migrate_journal: bool,
           **session: Unpack[SessionOptions]) -> None:
    """Each step's state on this cluster: pending, applied, verified, failed, rolled back,
    drifted or superseded (written, for a --out folder: files, no cluster checked).

    Only the journal entries of the cluster the command talks to (or of the --out folder)
    are used; a note on stderr says when the journal also holds other clusters' steps.

    \b
    Examples:
      planner status
      planner status -o json
      planner status --migrate-journal    # once, for a journal of planner 0.x (format 1)
    """
    from planner.service import migrate_journal as migrate

    with _open(spec, plan_options, session, False) as opened:
        if migrate_journal:
            bound = migrate(opened)
            _note(f"journal {session['journal']}: {bound} step(s) bound to "
                  f"{opened.target.label()}" if bound else
                  f"journal {session['journal']} is already in the current format")
        rows = opened.status_details()
        note = opened.journal_note()
        target = opened.target
    if note:
        _note(note)
    if output == "json":
        from planner.sinks.status_json import status_document

        print_document(status_document(target, rows))
        return
    from planner.sinks.tables import Column, Id, KubeTable
    from planner.untrusted import plain

    table = KubeTable(f"Rollout status on {target.label()}", [
        Column("step", whole=True), Column("state"), Column("note")])
    for step_id, state, remark in rows:
        table.add_row(Id(step_id), state, plain(remark))
    stdout_console().print(table)
