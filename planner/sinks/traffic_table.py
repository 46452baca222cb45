"""The human view of ``planner traffic`` (Rich): a summary, then one table per namespace.
Cluster strings go in as ``Text``, never markup."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from planner.domain.observed import NamespaceTraffic
from planner.domain.traffic import EVIDENCE_TEXT, TrafficSnapshot, count_text
from planner.sinks.untrusted import plain

_GATE_STYLE = {"pass": "green", "fail": "red", "unknown": "yellow"}


def share(part: float, total: float) -> str:
    """``75% of 1200`` (or ``-`` when nothing was counted)."""
    return f"{part / total:.0%} of {count_text(total)}" if total > 0 else "-"


def render_traffic(console: Console, snapshot: TrafficSnapshot,
                   namespaces: Sequence[NamespaceTraffic]) -> None:
    """Where the data came from, the per-namespace summary, then each namespace's details."""
    console.print(plain(f"Observed traffic: {snapshot.source}, window {snapshot.window}"))
    console.print(plain(f"evidence: {snapshot.evidence} ({EVIDENCE_TEXT[snapshot.evidence]})"))
    if snapshot.resolution:
        console.print(plain(f"resolution: {snapshot.resolution}"))
    for note in snapshot.notes:
        console.print(plain(f"note: {note}", style="yellow"))
    if not snapshot.has_data:
        console.print(plain("no series at all: every gate is unknown (no data is not the same "
                           "as no plaintext)", style="yellow"))
    summary = Table(title="mTLS per namespace", title_justify="left")
    for column in ("namespace", "status", "requests mTLS", "connections mTLS", "gate",
                   "plaintext callers", "unpredicted", "never observed"):
        summary.add_column(column)
    for entry in namespaces:
        summary.add_row(plain(entry.namespace), entry.status,
                        share(entry.requests_mtls, entry.requests),
                        share(entry.connections_mtls, entry.connections),
                        plain(entry.gate.status, style=_GATE_STYLE[entry.gate.status]),
                        str(len(entry.plaintext_callers)), str(len(entry.unpredicted)),
                        str(len(entry.unobserved)))
    console.print(summary)
    for entry in namespaces:
        render_namespace(console, entry)
    egress = snapshot.egress()
    if egress:
        table = Table(title="Egress (hosts outside the cluster's registry; no namespace)",
                      title_justify="left")
        for column in ("edge", "count", "evidence"):
            table.add_column(column)
        for edge in egress:
            table.add_row(plain(edge.label()), count_text(edge.total, at_least=edge.at_least),
                          edge.evidence)
        console.print(table)


def render_namespace(console: Console, entry: NamespaceTraffic) -> None:
    """One namespace: its gate and reason, then plaintext callers, edges the manifests did not
    predict and inferred edges never observed."""
    caption = entry.gate.reason + (f"; {entry.gate.proof}" if entry.gate.proof else "")
    table = Table(title=plain(f"{entry.namespace}: {entry.status}, gate {entry.gate.status}"),
                  title_justify="left", caption=plain(caption), caption_justify="left")
    for column in ("finding", "edge", "detail"):
        table.add_column(column)
    for caller in entry.plaintext_callers:
        detail = (f"{count_text(caller.plaintext)} of {count_text(caller.total)} "
                  f"{caller.protocol} in plaintext")
        if caller.suspects:
            detail += "; manifests suggest " + ", ".join(caller.suspects)
        table.add_row("plaintext", plain(f"{caller.caller} -> {caller.service}"), plain(detail))
    for key in entry.unpredicted:
        table.add_row("unpredicted", plain(key), "observed, not in the manifests")
    for key in entry.unobserved:
        table.add_row("never observed", plain(key), "inferred, no traffic in the window")
    console.print(table)
