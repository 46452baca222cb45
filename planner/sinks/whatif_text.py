"""``planner what-if`` for people: terminal text (Rich) and Markdown, both rendered from the
wire document (:func:`planner.sinks.whatif_json.whatif_document`), so they say what the JSON
says. Cluster strings go to the terminal as ``Text`` (never markup) and into Markdown through
:func:`planner.sinks.report_markdown.md`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console

from planner.sinks.report_markdown import md
from planner.untrusted import plain

#: Calls that keep working listed in the terminal; every breaking call is always listed.
SAFE_SHOWN = 30


def _port(edge: Mapping[str, Any]) -> str:
    port = f"port {edge['port']}" if edge["port"] is not None else "a pod port"
    if edge["containerPort"] is not None and edge["containerPort"] != edge["port"]:
        port += f" (container {edge['containerPort']})"
    return port


def _call(edge: Mapping[str, Any]) -> str:
    return f"{edge['caller']} -> {edge['callee']} {_port(edge)} via {edge['service']}"


def _observed(edge: Mapping[str, Any]) -> str:
    stats = edge["observed"]
    if stats is None:
        return ""
    share = "unknown" if stats["mtlsShare"] is None else f"{stats['mtlsShare'] * 100:.0f}%"
    return (f"observed {stats['requests']:g} requests, {stats['connections']:g} connections, "
            f"mTLS {share}")


def render_text(console: Console, doc: Mapping[str, Any]) -> None:
    """Print the changes, then each breaking call with its reasons and evidence, then the safe
    calls one line each, then where the changes have no effect, then the count."""
    console.print(plain("What if: " + "; ".join(doc["changes"]), style="bold"))
    console.print(plain(f"Callers and servers judged {doc['enrollment']}"
                        + ("; observed traffic included" if doc["traffic"] else "")))
    edges = doc["edges"]
    for edge in (e for e in edges if e["breaks"]):
        console.print()
        console.print(plain("BREAKS " + _call(edge), style="bold red"))
        console.print(plain(f"  mode {edge['mode']} ({edge['decidedBy']}; today "
                            f"{edge['modeBefore']})"))
        for reason in edge["reasons"]:
            console.print(plain(f"  - {reason['code']}: {reason['message']}"))
        for ev in edge["evidence"]:
            console.print(plain(f"  evidence: {ev['kind']} {ev['source']}: {ev['text']}",
                                style="dim"))
        if observed := _observed(edge):
            console.print(plain(f"  {observed}", style="dim"))
    safe = [e for e in edges if not e["breaks"]]
    if safe:
        console.print()
        for edge in safe[:SAFE_SHOWN]:
            console.print(plain(f"ok     {_call(edge)}: {edge['mode']}, {edge['note']}"))
        if len(safe) > SAFE_SHOWN:
            console.print(plain(f"ok     ... and {len(safe) - SAFE_SHOWN} more call(s) that keep "
                                "working (-o json or -o markdown lists them all)", style="dim"))
    if doc["noEffect"]:
        console.print()
        for entry in doc["noEffect"]:
            console.print(plain(f"no effect: {entry['reason']}", style="yellow"))
    summary = doc["summary"]
    console.print()
    console.print(plain(f"{summary['breaking']} of {summary['edges']} call(s) would break.",
                        style="bold red" if summary["breaking"] else "bold green"))


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The same as Markdown: a table of breaking calls with reasons, then the safe ones."""
    lines = ["# What if: " + md("; ".join(doc["changes"])), "",
             f"Callers and servers judged {md(doc['enrollment'])}"
             + ("; observed traffic included." if doc["traffic"] else "."), ""]
    summary = doc["summary"]
    lines += [f"**{summary['breaking']} of {summary['edges']} call(s) would break.**", ""]
    breaking = [e for e in doc["edges"] if e["breaks"]]
    if breaking:
        lines += ["## Calls that would break", "",
                  "| caller | callee | port | mode (decided by) | reasons | evidence |",
                  "|---|---|---|---|---|---|"]
        for e in breaking:
            reasons = "<br>".join(f"`{r['code']}` {md(r['message'])}" for r in e["reasons"])
            evidence = "<br>".join(md(f"{ev['kind']} {ev['source']}: {ev['text']}")
                                   for ev in e["evidence"])
            if observed := _observed(e):
                evidence += ("<br>" if evidence else "") + md(observed)
            lines.append(f"| {md(e['caller'])} | {md(e['callee'])} via {md(e['service'])} | "
                         f"{md(_port(e))} | {e['mode']} ({md(e['decidedBy'])}) | {reasons} | "
                         f"{evidence} |")
        lines.append("")
    safe = [e for e in doc["edges"] if not e["breaks"]]
    if safe:
        lines += ["## Calls that keep working", ""]
        lines += [f"- {md(_call(e))}: {e['mode']}, {md(e['note'])}" for e in safe]
        lines.append("")
    if doc["noEffect"]:
        lines += ["## No effect", ""]
        lines += [f"- {md(n['reason'])}" for n in doc["noEffect"]]
        lines.append("")
    return "\n".join(lines)
