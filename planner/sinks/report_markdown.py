"""The report for people, as Markdown (``planner report --format markdown``).

Renders the report document (:func:`planner.sinks.report_json.report_document`), so it says
what the JSON says. Cluster strings are escaped with :func:`md` (``|`` would split a table cell,
backticks open code, ``<`` opens HTML); YAML goes in fences longer than any backtick run it
holds, so a manifest cannot close its fence.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from planner.domain.plan import DATAPLANE_WORDS
from planner.sinks.mermaid import flowchart
from planner.sinks.report_summary import cost_notes, cost_rows, counted, summary_lines
from planner.sinks.whatif_json import step_what_if_lines
from planner.sinks.wire import dump_yaml_all, to_wire
from planner.untrusted import clean, clean_lines

_ESCAPES = str.maketrans({"\\": "\\\\", "|": "\\|", "`": "\\`", "<": "&lt;", "&": "&amp;"})


def md(value: object) -> str:
    """A cluster string made inert in Markdown, on one line (control characters as visible
    escapes: the Markdown is read in terminals too)."""
    return clean(" ".join(str(value).split())).translate(_ESCAPES)


def fence(text: str, info: str = "") -> list[str]:
    """A fenced code block whose fence no backtick run inside ``text`` can close."""
    text = clean_lines(text)  # a code block is still printed by terminals: no escapes in it
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marker = "`" * max(3, longest + 1)
    return [f"{marker}{info}", text.rstrip("\n"), marker]


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _notes(rows: Iterable[tuple[object, str]]) -> list[str]:
    """The prose that belongs to a table's rows, as a list after it: a table of short cells
    reads in an 80-column terminal, a table with a paragraph in a cell does not."""
    lines = [f"- **{md(key)}**: {text}" for key, text in rows if text]
    return [*lines, ""] if lines else []


def _then(first: str, second: str) -> str:
    """Two sentences: ``first`` ends with one full stop, whether it brought its own or not."""
    return f"{first.rstrip('.')}. {second}"


def _names(values: Iterable[object]) -> str:
    return ", ".join(md(v) for v in values) or "—"


def cpu(millicores: int) -> str:
    """Millicores as vCPU (``4.4 vCPU``)."""
    return f"{millicores / 1000:g} vCPU"


def memory(mib: float) -> str:
    """MiB as GiB from 1 GiB on (``6.88 GiB``), else MiB."""
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:g} MiB"


def change_lines(changes: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Split a step's changes into ``kubectl`` command lines (restarts, deletes) and the
    objects to apply. Names are shell-quoted: people paste these lines into a shell, and a
    manifest's name was never validated by an API server."""
    commands: list[str] = []
    objects: list[dict[str, Any]] = []
    for change in changes:
        obj = change["object"]
        meta = obj.get("metadata", {})
        where = f" -n {shlex.quote(meta['namespace'])}" if meta.get("namespace") else ""
        kind, name = obj["kind"].lower(), str(meta["name"])
        if change["action"] == "restart":
            commands.append(f"kubectl rollout restart {shlex.quote(kind + '/' + name)}{where}")
        elif change["action"] == "delete":
            commands.append(f"kubectl delete {shlex.quote(kind)} {shlex.quote(name)}{where}")
        else:
            objects.append(obj)
    return commands, objects


def _changes(title: str, changes: Sequence[Mapping[str, Any]]) -> list[str]:
    if not changes:
        return []
    commands, objects = change_lines(changes)
    lines = [f"**{title}**", ""]
    if objects:
        lines += [*fence(dump_yaml_all(objects), "yaml"), ""]
    if commands:
        lines += [*fence("\n".join(commands), "sh"), ""]
    return lines


def _lighter(alternatives: Sequence[Mapping[str, Any]]) -> list[str]:
    if not alternatives:
        return []
    return ["### Lighter alternatives", "",
            *(f"- **{md(alt['name'])}**: {md(alt['why'])}" for alt in alternatives), ""]


def _verdict(a: Mapping[str, Any] | None, fit: Mapping[str, Any] | None) -> list[str]:
    """The report's opening section: verdict, score and why, then (with the assessment) the
    factors; for mesh-overkill the lighter alternatives come before the factors."""
    if fit is None and a is None:
        return []
    lines = ["## Verdict", ""]
    head = a or fit or {}
    scoring = a["scoring"] if a is not None else None
    lines += [f"**{head['verdict']}**, score {head['score']}/100" + (
        f" (base {scoring['base']}; mesh-overkill below {scoring['overkillBelow']}, "
        f"mesh-recommended from {scoring['recommendedFrom']})." if scoring else "."), ""]
    if fit is not None:
        lines += [md(fit["summary"]), ""]
    overkill = head["verdict"] == "mesh-overkill"
    alternatives = (a or fit or {})["alternatives"]
    if overkill:
        lines += _lighter(alternatives)
    if a is None:
        return lines
    if a["profile"]["origin"]:
        lines += [f"Profile answers from {md(a['profile']['origin'])}.", ""]
    lines += ["### Factors", ""]
    # The threshold goes with the prose: in the table it made rows of 85 columns.
    lines += _table(["code", "factor", "value", "weight"], (
        [md(f["code"]), md(f["title"]), md(f["value"]), f"{f['weight']:+g}"]
        for f in a["factors"]))
    lines += _notes((f["code"], _then(f"{md(f['message'])}; threshold {md(f['threshold'])}",
                                      f"Fix: {md(f['fix'])}")) for f in a["factors"])
    if a["unknowns"]:
        lines += ["### Unknowns", "", "Counted as no effect; each answer would give:", ""]
        lines += [f"- {md(u['question'])} ({md(u['field'])}): {md(u['effect'])}"
                  for u in a["unknowns"]]
        lines.append("")
    if not overkill:
        lines += _lighter(alternatives)
    return lines


def _dataplane(a: Mapping[str, Any], plan_cost: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Data plane and costs", ""]
    rows = []
    for ns, choice in a["dataplane"].items():
        waypoint = choice["waypoint"]
        needs = "—" if waypoint is None else (
            f"{waypoint['scope']}: {_names(waypoint['serviceAccounts'])}"
            if waypoint["serviceAccounts"] else waypoint["scope"])
        rows.append([md(ns), choice["mode"], choice["pods"], needs])
    lines += _table(["namespace", "data plane", "pods", "waypoint (ambient)"], rows)
    lines += _notes((ns, "; ".join(md(r) for r in [*choice["reasons"],
                                                   *choice["ambientBlockers"]]))
                    for ns, choice in a["dataplane"].items())
    costs = a["costs"]
    lines += _table(["option", "proxies", "CPU requests", "memory requests"], (
        [md(o["name"]), o["proxies"], cpu(o["cpuMillicores"]), memory(o["memoryMiB"])]
        for o in cost_rows(costs["options"], plan_cost)))
    lines += [f"- {md(text)}" for text in cost_notes(costs["assumptions"], plan_cost)]
    return [*lines, ""]


def coverage_lines(coverage: Mapping[str, Any]) -> list[str]:
    """The manifest coverage figure, the blind workloads and the dangling names, as sentences
    (plain text: each format escapes them)."""
    share, apps, blind = coverage["share"], coverage["applications"], coverage["blind"]
    if share is None:
        return ["manifest coverage: no application workloads"]
    lines = [f"manifest coverage: {apps - len(blind)} of {apps} application workloads "
             f"({share:.0%}) show an outbound call"]
    if blind:
        lines.append(f"blind (only observed traffic can show their calls): {', '.join(blind)}")
    hosts: dict[str, list[str]] = {}
    for d in coverage["dangling"]:
        kind, _, rest = d["workload"].partition("/")
        # An env var's source names its workload; a ConfigMap key's does not.
        named = d["source"] if d["source"].startswith(f"{kind} {rest} ") else (
            f"{d['workload']} ({d['source']})")
        hosts.setdefault(d["host"], []).append(named)
    lines += [f"dangling: {host} is no Service in the input (a missing dependency or an "
              f"external name); named by {'; '.join(sources)}"
              for host, sources in sorted(hosts.items())]
    return lines


def inventory_lines(doc: Mapping[str, Any]) -> list[str]:
    """What the input holds and what the graph found, counted in words, then the coverage
    lines (plain text: each format escapes them)."""
    inv, graph = doc["inventory"], doc["graph"]
    kinds = ", ".join(f"{n} {k}" for k, n in inv["workloadsByKind"].items()) or "none"
    istio = ", ".join(f"{n} {k}" for k, n in inv["istioObjects"].items()) or "none"
    lines = [f"{counted(inv['namespaces'], 'namespace')}, "
             f"{counted(inv['workloads'], 'workload')} ({kinds}), "
             f"{counted(inv['services'], 'Service')}, {counted(inv['pods'], 'pod')}; "
             f"Istio objects: {istio}",
             f"{counted(graph['nodes'], 'graph node')}, {counted(graph['edges'], 'call edge')}, "
             f"{counted(graph['hints'], 'hint')}, {counted(graph['entryPoints'], 'entry point')}, "
             f"{counted(graph['coverageGaps'], 'coverage gap')}",
             *coverage_lines(graph["manifestCoverage"])]
    if inv["invalidDocuments"]:
        lines.append(f"{counted(inv['invalidDocuments'], 'invalid document')} skipped")
    return lines


def _summary(doc: Mapping[str, Any]) -> list[str]:
    graph = doc["graph"]
    lines = ["## Inventory and call graph", "", *(f"- {md(line)}" for line in inventory_lines(doc))]
    for group in graph["stronglyConnectedNamespaces"]:
        lines.append(f"- namespaces calling each other in a cycle: {_names(group)}")
    lines.append("")
    lines += ["Namespaces and who calls whom (numbers count call edges; green ends STRICT, "
              "yellow PERMISSIVE, grey outside the mesh; dashed: callers outside the "
              "namespaces):", "", *fence(_mermaid(doc), "mermaid"), ""]
    lines += _table(["from", "to", "calls"], ([md(e["from"]), md(e["to"]), e["calls"]]
                                              for e in graph["namespaceEdges"]))
    return lines


#: Node colours by where a namespace ends up, as in the HTML report's graph.
_FATE_STYLES = {"STRICT": ("strict", "fill:#d1f0d9,stroke:#8c959f"),
                "PERMISSIVE": ("permissive", "fill:#fff1c2,stroke:#8c959f"),
                "outside": ("outside", "fill:#eaeef2,stroke:#8c959f")}


def _mermaid(doc: Mapping[str, Any]) -> str:
    """The namespace graph as a Mermaid flowchart (GitHub and GitLab draw it), coloured by
    where each namespace ends up; callers outside the namespaces are white and dashed."""
    graph = doc["graph"]
    edges = graph["namespaceEdges"]
    names = sorted({*graph["namespaces"], *(e["from"] for e in edges), *(e["to"] for e in edges)})
    fates = {ns["name"]: ns["final"] for ns in doc["plan"]["namespaces"]}
    styles = {cls: (style, sorted(name for name, final in fates.items() if final == fate))
              for fate, (cls, style) in _FATE_STYLES.items()}
    styles["caller"] = ("fill:#ffffff,stroke:#8c959f,stroke-dasharray:4 3",
                        [name for name in names if name not in fates])
    return flowchart(names, ((e["from"], e["to"], str(e["calls"]), False) for e in edges),
                     styles)


def _summary_first(doc: Mapping[str, Any]) -> list[str]:
    return ["## Summary", "", *(f"- **{label}**: {md(text)}" for label, text in
                               summary_lines(doc)), ""]


def _namespaces(plan: Mapping[str, Any]) -> list[str]:
    return ["## Namespaces and their mTLS fate", "", *_table(
        ["namespace", "data plane", "ends"],
        ([md(ns["name"]), ns["mode"] + (" (already)" if ns["already"] else ""), ns["final"]]
         for ns in plan["namespaces"])), *_notes(
        (ns["name"], _then(md(ns["reason"]), f"Steps: {_names(ns['steps'])}"))
        for ns in plan["namespaces"])]


def where(finding: Mapping[str, Any]) -> str:
    """``file:line`` of a finding's object, ``""`` when the report has no location for it."""
    found = finding.get("location")
    if not found:
        return ""
    return f"{found['file']}:{found['line']}" if found["line"] else found["file"]


def suppressed_note(finding: Mapping[str, Any]) -> str:
    """``suppressed: reason (origin)``, ``""`` for a finding that is not suppressed."""
    hit = finding.get("suppressed")
    return f"suppressed: {hit['reason']} ({hit['origin']})" if hit else ""


def _blockers(blockers: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["## Blockers", ""]
    if not blockers:
        return [*lines, "None: nothing found that STRICT would break.", ""]
    lines += _table(["#", "severity", "code", "namespace", "subject"], (
        [i, b["severity"] + (" (suppressed)" if b.get("suppressed") else ""), md(b["code"]),
         md(b["namespace"]), md(b["subject"])] for i, b in enumerate(blockers, start=1)))
    lines += [f"{i}. {md(b['code'])} {md(b['subject'])}"
              + (f" ({md(at)})" if (at := where(b)) else "") + ": "
              + _then(md(b["message"]), f"Fix: {md(b['fix'])}")
              + (f" ({md(note)})" if (note := suppressed_note(b)) else "")
              for i, b in enumerate(blockers, start=1)]
    return [*lines, ""]


def proof_line(step: Mapping[str, Any]) -> str:
    """``ready: ...`` or ``unproven: ...`` for a STRICT step planned without traffic."""
    if step["status"] == "ready":
        return "ready: the manifests show every caller"
    return (f"unproven: {len(step['blind'])} blind workload(s) ({', '.join(step['blind'])}); "
            "the gate must come from observed traffic")


def _step(step: Mapping[str, Any]) -> list[str]:
    target = step["target"]
    where = " ".join(md(t) for t in (target["scope"], target["namespace"], target["name"]) if t)
    lines = [f"### {step['order']}. {md(step['id'])}: {md(step['title'])}", "",
             f"- phase: {step['phase']}; target: {where}",
             f"- why: {md(step['why'])}"]
    if step["requires"]:
        lines.append(f"- requires: {_names(step['requires'])}")
    if step["forcedBy"]:
        lines.append(f"- forced by: {_names(step['forcedBy'])}")
    if step.get("status"):
        lines.append(f"- {md(proof_line(step))}")
    if step["blockers"]:
        lines.append("- blockers: " + ", ".join(
            f"{md(b['code'])} ({b['severity']}) {md(b['subject'])}" for b in step["blockers"]))
    if "whatIf" in step:
        head, *rest = step_what_if_lines(step["whatIf"])
        lines.append(f"- {md(head)}")
        lines += [f"  - {md(line)}" for line in rest]
    lines.append("")
    if step["preconditions"]:
        lines += ["**Preconditions**", "", *(f"- {md(p)}" for p in step["preconditions"]), ""]
    if step["promql"]:
        lines += ["**Must return no series**", "", *fence("\n".join(step["promql"]), "promql"),
                  ""]
    lines += _changes("Apply", step["apply"])
    lines += _changes("Rollback", step["rollback"])
    if step["verify"]:
        lines += ["**Verify**", "", *(f"- {md(v)}" for v in step["verify"]), ""]
    return lines


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The whole report as Markdown text, ending with a newline."""
    doc = to_wire(doc)  # its maps sorted: manifests and data planes are shown in order
    plan = doc["plan"]
    lines = ["# meshplan report", "",
             f"Source: {md(doc['source'])}. Root namespace {md(plan['rootNamespace'])}, "
             f"granularity {plan['granularity']}. Schema {doc['schemaVersion']}.", ""]
    lines += _summary_first(doc)
    lines += _verdict(doc.get("assessment"), plan["fit"])
    if "assessment" in doc:
        lines += _dataplane(doc["assessment"], plan.get("cost"))
    lines += _summary(doc) + _namespaces(plan) + _blockers(doc["blockers"])
    lines += ["## Rollout plan", "", f"{len(plan['steps'])} steps, in the order to apply them. "
              f"Data plane: {md(DATAPLANE_WORDS.get(plan['dataplane'], plan['dataplane']))}.",
              "", *(f"- Note: {md(note)}" for note in plan["notes"]),
              *([""] if plan["notes"] else [])]
    for step in plan["steps"]:
        lines += _step(step)
    return "\n".join(lines).rstrip("\n") + "\n"

