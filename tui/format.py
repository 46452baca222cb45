"""Rendering helpers: cluster strings are data, never markup or terminal control codes
(:mod:`planner.untrusted` has the rules)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from planner.domain.traffic import count_text
from planner.untrusted import clean

if TYPE_CHECKING:
    from planner.domain.traffic import GateResult
    from planner.domain.whatif import WhatIf

#: Longest cluster string shown in a table cell; the full value stays in the detail panes.
CELL_LIMIT = 60


def safe(value: object, style: str = "", limit: int | None = CELL_LIMIT) -> Text:
    """A Rich ``Text`` that shows ``value`` literally (a ``[bold red]x`` stays as typed)."""
    return Text(clean(value, limit), style=style, no_wrap=True, end="")


def wrapping(value: object, style: str = "") -> Text:
    """Like :func:`safe`, for a cell of a fixed-width column that wraps onto more lines (its
    row's height follows) instead of growing the table past an 80-column terminal."""
    return Text(clean(value), style=style, end="")


def needle(query: str) -> tuple[str, bool]:
    """The ``/`` filter's text, lower-cased, and whether it hides matches (``!x``)."""
    query = query.strip()
    invert = query.startswith("!")
    return (query[1:].strip().lower() if invert else query.lower()), invert


def matches(query: str, *fields: object) -> bool:
    """The ``/`` filter: case-insensitive substring over ``fields``; ``!x`` inverts."""
    text, invert = needle(query)
    if not text:
        return True
    found = any(text in str(f).lower() for f in fields)
    return found != invert


STATE_STYLE = {
    "pending": "dim",
    "applied": "bold cyan",
    "verified": "bold green",
    "failed": "bold red",
    "rolled back": "yellow",
    "rolled-back": "yellow",
    "drifted": "bold magenta",
    # The plan's own later step rewrote its objects: expected, not an alarm.
    "superseded": "cyan",
    # Files in a GitOps folder: done here, not yet seen on a cluster.
    "written": "cyan",
}


#: How the plan table marks an applied STRICT step whose gate was not met on evidence.
GATE_MODE_MARK = {"none": " without gate", "forced": " over its gate"}


def state_text(state: str, gate_mode: str = "") -> Text:
    """A step state with its colour; ``gate_mode`` (``none``, ``forced``) says how an
    applied STRICT step got past its gate when it was not on evidence ("applied without
    gate", as ``planner status`` notes it)."""
    text = Text(state, style=STATE_STYLE.get(state, ""), end="")
    if gate_mode in GATE_MODE_MARK:
        text.append(GATE_MODE_MARK[gate_mode], style="bold yellow")
    return text


GATE_STYLE = {"pass": "bold green", "fail": "bold red", "unknown": "bold yellow"}
#: How many offending callers a gate shows; the MP301 blockers list every one.
GATE_OFFENDERS = 6


def gate_text(gate: GateResult, traffic_error: str = "", *, authz: bool = False) -> Text:
    """A gate as lines: status, reason, and the offending callers with their plaintext (for
    an authorization enforce step, ``authz``: the would-be-denials gate, whose offenders are
    callers the policies do not name). ``traffic_error`` (the traffic asked for could not be
    read) replaces the reason of an ``unknown`` gate, which would otherwise say that none was
    given."""
    reason = gate.reason
    if traffic_error and gate.status == "unknown":
        reason = f"observed traffic could not be read: {traffic_error}"
    text = Text(end="")
    text.append("  would-be denials gate " if authz else "  plaintext gate ", style="bold")
    text.append(gate.status, style=GATE_STYLE.get(gate.status, ""))
    text.append(": " + clean(reason) + "\n")
    for edge in gate.offenders[:GATE_OFFENDERS]:
        # An unknown gate's offenders sent traffic the source could not classify, not plaintext.
        amount = ("not named by the policy" if authz
                  else f"{count_text(edge.plaintext, at_least=edge.at_least)} plaintext"
                  if edge.plaintext else f"{count_text(edge.tls_unknown)} unverified")
        text.append("    ✗ ", style="red")
        text.append(clean(edge.label(), 100))
        text.append(f"  {amount} of {count_text(edge.total, at_least=edge.at_least)}",
                    style="dim")
        if edge.unknown_caller:
            text.append(" (no sidecar)", style="red")
        text.append("\n")
    if len(gate.offenders) > GATE_OFFENDERS:
        text.append(f"    … and {len(gate.offenders) - GATE_OFFENDERS} more\n", style="dim")
    if gate.proof:
        text.append(f"    {clean(gate.proof)}\n", style="dim")
    return text


#: How many calls a step's what-if lists; ``planner what-if`` lists them all, with evidence.
WHAT_IF_CALLS = 8


def what_if_text(what_if: WhatIf) -> Text:
    """A step's what-if as lines: how many calls would break if it were applied now, each
    with its reasons, and where it has no effect yet."""
    text = Text(end="")
    breaking = what_if.breaking
    text.append("  what-if now ", style="bold")
    text.append(f"{len(breaking)} of {len(what_if.edges)} call(s) would break\n",
                style="bold red" if breaking else "bold green")
    for edge in breaking[:WHAT_IF_CALLS]:
        port = "?" if edge.container_port is None else edge.container_port
        text.append("    ✗ ", style="red")
        text.append(clean(f"{edge.caller} → {edge.callee}:{port}", 100))
        text.append("  " + ", ".join(r.code for r in edge.reasons) + "\n", style="dim")
        for reason in edge.reasons:
            text.append("      " + clean(reason.message) + "\n", style="dim")
    if len(breaking) > WHAT_IF_CALLS:
        text.append(f"    … and {len(breaking) - WHAT_IF_CALLS} more (planner what-if)\n",
                    style="dim")
    for entry in what_if.no_effect:
        text.append("    no effect now: " + clean(entry.reason) + "\n", style="yellow")
    return text
