"""The human view of ``planner traffic`` (Rich): a summary, then one table per namespace.
Cluster strings go in as ``Text``, never markup."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from planner.domain.observed import NamespaceTraffic
from planner.domain.traffic import EVIDENCE_TEXT, TrafficSnapshot, count_text
from planner.sinks.tables import Column, Id, KubeTable
from planner.untrusted import plain

_GATE_STYLE = {"pass": "green", "fail": "red", "unknown": "yellow"}


def share(part: float, total: float, unknown: float = 0.0) -> str:
    """``75% of 1200`` (``-`` when nothing was counted): the mTLS part of the traffic whose
    security is known, and how much is not (``unknown of 33`` when none of it is)."""
    if total <= 0:
        return "-"
    known = total - unknown
    if known <= 0:
        return f"unknown of {count_text(total)}"
    text = f"{part / known:.0%} of {count_text(known)}"
    return text + (f" +{count_text(unknown)} unknown" if unknown > 0 else "")


def render_traffic(console: Console, snapshot: TrafficSnapshot,
                   namespaces: Sequence[NamespaceTraffic], wide: bool = False) -> None:
    """Where the data came from, the per-namespace summary, then each namespace's details.
    ``wide`` adds the connection share and the counts of unpredicted and unobserved edges
    to the summary (the details list them either way), and the pods the source named with the
    workload each went to and how (the notes sum them up either way)."""
    console.print(plain(f"Observed traffic: {snapshot.source}, window {snapshot.window}"))
    console.print(plain(f"evidence: {snapshot.evidence} ({EVIDENCE_TEXT[snapshot.evidence]})"))
    if snapshot.resolution:
        console.print(plain(f"resolution: {snapshot.resolution}"))
    for note in snapshot.notes:
        console.print(plain(f"note: {note}", style="yellow"))
    if not snapshot.has_data:
        console.print(plain("no series at all: every gate is unknown (no data is not the same "
                           "as no plaintext)", style="yellow"))
    # Six columns at most: at 80 columns a seventh would fold namespaces and statuses
    # mid-word. The unpredicted and never-observed counts head each namespace's own table.
    summary = KubeTable("mTLS per namespace", [
        Column("namespace", whole=True), Column("status", whole=True),
        Column("requests mTLS"), Column("connections mTLS", wide=True),
        Column("gate", whole=True), Column("plaintext callers", justify="right")], wide)
    for entry in namespaces:
        summary.add_row(Id(entry.namespace), entry.status,
                        share(entry.requests_mtls, entry.requests, entry.requests_unknown),
                        share(entry.connections_mtls, entry.connections,
                              entry.connections_unknown),
                        plain(entry.gate.status, style=_GATE_STYLE[entry.gate.status]),
                        str(len(entry.plaintext_callers)))
    console.print(summary)
    if wide and snapshot.pod_mappings:
        pods = KubeTable("Pods named by the source -> workloads of the input", [
            Column("pod"), Column("workload (or why not)"), Column("via"),
            Column("count", justify="right")])
        for m in snapshot.pod_mappings:
            # The workload is in the pod's namespace: its kind and name say it.
            kind, _, rest = m.workload.partition("/")
            pods.add_row(Id(f"{m.namespace}/{m.pod}"),
                         Id(f"{kind}/{rest.partition('/')[2]}") if m.workload
                         else plain(m.reason, style="yellow"),
                         m.via or "unmapped", count_text(m.count))
        console.print(pods)
    for entry in namespaces:
        render_namespace(console, entry)
    egress = snapshot.egress()
    if egress:
        table = KubeTable("Egress (hosts outside the cluster's registry; no namespace)",
                          [Column("edge"), Column("count", justify="right"),
                           Column("evidence")])
        for edge in egress:
            table.add_row(Id(edge.label()), count_text(edge.total, at_least=edge.at_least),
                          edge.evidence)
        console.print(table)


def render_namespace(console: Console, entry: NamespaceTraffic) -> None:
    """One namespace: its gate and reason, then plaintext callers, edges the manifests did not
    predict and inferred edges never observed."""
    caption = entry.gate.reason + (f"; {entry.gate.proof}" if entry.gate.proof else "")
    table = KubeTable(f"{entry.namespace}: {entry.status}, gate {entry.gate.status}; "
                      f"{len(entry.unpredicted)} unpredicted, {len(entry.unobserved)} never "
                      "observed",
                      [Column("finding"), Column("edge"), Column("detail")],
                      caption=caption)
    for caller in entry.plaintext_callers:
        detail = (f"{count_text(caller.plaintext)} of {count_text(caller.total)} "
                  f"{caller.protocol} in plaintext")
        if caller.suspects:
            detail += "; manifests suggest " + ", ".join(caller.suspects)
        table.add_row("plaintext", Id(f"{caller.caller} -> {caller.service}"), plain(detail))
    for key in entry.unpredicted:
        table.add_row("unpredicted", Id(key), "observed, not in the manifests")
    for key in entry.unobserved:
        table.add_row("never observed", Id(key), "inferred, no traffic in the window")
    console.print(table)
