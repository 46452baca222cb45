"""The report for people, as one self-contained HTML page (``planner report --format html``).

Renders the report document (:func:`planner.sinks.report_json.report_document`). The page
loads nothing: inline CSS, no scripts, no external URLs, and the namespace graph is inline SVG
laid out here (:func:`layout`). Every string from the document goes through :func:`_e`
(:func:`planner.untrusted.html_text`), in text and attributes alike: names come from the
cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from planner.domain.digraph import layers
from planner.domain.plan import DATAPLANE_WORDS
from planner.domain.value import value_class
from planner.sinks.report_markdown import (
    change_lines,
    cpu,
    inventory_lines,
    memory,
    proof_line,
    suppressed_note,
    where,
)
from planner.sinks.report_summary import cost_notes, cost_rows, summary_lines
from planner.sinks.whatif_json import step_what_if_lines
from planner.sinks.wire import dump_yaml_all, to_wire
from planner.untrusted import html_text

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:78em;padding:0 1em;color:#1d232a}
h1,h2,h3{line-height:1.2}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0 1em;width:100%}
th,td{border:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:#f3f5f7}pre{background:#f6f8fa;padding:.6em;overflow:auto;font-size:12px}
.verdict{font-size:1.3em;font-weight:bold}.num{text-align:right}
.sev-critical{color:#fff;background:#a40e26}.sev-error{color:#a40e26;font-weight:bold}
.sev-warning{color:#9a6700}.sev-info{color:#57606a}
.step{border:1px solid #d0d7de;border-radius:6px;padding:0 1em;margin:1em 0}
.summary th{width:11em;white-space:nowrap}.summary{font-size:15px}
figure{margin:1em 0}svg.graph{display:block;width:100%;height:auto}
svg text{font:12px system-ui,sans-serif}svg text.count{font-size:10px}
svg a rect:hover{stroke:#0969da;stroke-width:2}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4em 1.4em;font-size:13px}
.swatch{display:inline-block;width:1.6em;height:.9em;border:1px solid #8c959f;
border-radius:3px;vertical-align:middle;margin-right:.3em}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none;font-size:11px;color:#000}
h2{break-before:page}.summary h2,h1+p+section h2{break-before:auto}
h2,h3,h4{break-after:avoid}thead{display:table-header-group}
tr,figure,.step,pre{break-inside:avoid}pre{white-space:pre-wrap;overflow:visible}
a{color:inherit;text-decoration:none}svg.graph{max-width:100%!important}}
""".strip()

#: Node fill by where a namespace ends up; outside callers (not namespaces) get ``caller``.
_FILL = {"STRICT": "#d1f0d9", "PERMISSIVE": "#fff1c2", "outside": "#eaeef2", "caller": "#ffffff"}
_CHAR_WIDTH = 7.2  # px per character of 12px sans-serif, wide enough not to clip
_NODE_HEIGHT, _ROW_GAP, _COLUMN_GAP, _MARGIN = 40, 18, 90, 16
#: Vertical room per edge end on a box side: a box grows so its edges end apart, each with its
#: count beside its own arrow head instead of on top of its neighbours'.
_PORT_GAP = 14


#: Any value for HTML text or a quoted attribute (:mod:`planner.untrusted`): control
#: characters become visible escapes, since most are not allowed in HTML (nor in the inline
#: SVG's XML) and an ANSI escape would still drive a terminal that ``cat``s the file.
_e = html_text


def _cell(value: object) -> str:
    """Escaped text for a table cell that may break after a ``/``: ids such as
    ``AuthorizationPolicy/catalog/ratings-read-only`` would otherwise set a column's least
    width and push the table past the page (and the paper)."""
    return _e(value).replace("/", "/<wbr>")


def _some(items: Sequence[str], shown: int = 12) -> str:
    """The first ``shown`` items and how many more: a factor counting every Service of a
    large cluster would otherwise be a page of names."""
    more = len(items) - shown
    return ", ".join(items[:shown]) + (f" and {more} more (the JSON report lists all)"
                                       if more > 0 else "")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]],
           numeric: Sequence[int] = ()) -> list[str]:
    """A table; cells are escaped here, so callers pass raw values."""
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for row in rows:
        cells = (f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_cell(c)}</td>"
                 for i, c in enumerate(row))
        out.append("<tr>" + "".join(cells) + "</tr>")
    return [*out, "</tbody></table>"]


def _list(items: Iterable[object]) -> list[str]:
    entries = [f"<li>{_e(i)}</li>" for i in items]
    return ["<ul>", *entries, "</ul>"] if entries else []


# --- the namespace graph ----------------------------------------------------------------------


@value_class
class Box:
    """A laid-out node: its layer (column), position and size in px."""

    name: str
    layer: int
    x: float
    y: float
    width: float
    height: float = _NODE_HEIGHT


def layout(names: Sequence[str], edges: Sequence[tuple[str, str]],
           text_lengths: Mapping[str, int] | None = None,
           heights: Mapping[str, float] | None = None) -> dict[str, Box]:
    """Place namespaces in columns: the topological layers of the namespace graph with each
    strongly connected group condensed to one node (so a cycle shares a column), callers left
    of what they call; inside a column, by name. A box is as wide as its longest line of text
    (``text_lengths``, default the name) and as tall as ``heights`` says (default
    ``_NODE_HEIGHT``). Deterministic for the same input."""
    successors: dict[str, list[str]] = {}
    for a, b in edges:
        successors.setdefault(a, []).append(b)
    layer_of = layers([*names, *(n for edge in edges for n in edge)], successors)
    columns: dict[int, list[str]] = {}
    for name in sorted(layer_of):
        columns.setdefault(layer_of[name], []).append(name)
    boxes: dict[str, Box] = {}
    x = float(_MARGIN)
    for depth in sorted(columns):
        lengths = text_lengths or {}
        width = max(max(len(n), lengths.get(n, 0)) for n in columns[depth]) * _CHAR_WIDTH + 24
        y = float(_MARGIN)
        for name in columns[depth]:
            height = (heights or {}).get(name, _NODE_HEIGHT)
            boxes[name] = Box(name, depth, x, y, width, height)
            y += height + _ROW_GAP
        x += width + _COLUMN_GAP
    return boxes


def _ports(boxes: Mapping[str, Box], edges: Sequence[tuple[str, str]]
           ) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """Where each edge leaves its caller's box and enters its callee's, spread down the box
    side in the order of the other ends (so edges do not cross at the box) and apart by at
    least ``_PORT_GAP``."""
    outgoing: dict[str, list[tuple[str, str]]] = {}
    incoming: dict[str, list[tuple[str, str]]] = {}
    for a, b in edges:
        outgoing.setdefault(a, []).append((a, b))
        incoming.setdefault(b, []).append((a, b))
    out_y: dict[tuple[str, str], float] = {}
    in_y: dict[tuple[str, str], float] = {}
    for ends, side, other in ((outgoing, out_y, 1), (incoming, in_y, 0)):
        for name, group in ends.items():
            box = boxes[name]
            group.sort(key=lambda e: (boxes[e[other]].layer, boxes[e[other]].y, e[other]))
            for k, e in enumerate(group, start=1):
                side[e] = box.y + box.height * k / (len(group) + 1)
    return out_y, in_y


def _svg(graph: Mapping[str, Any], fates: Mapping[str, Mapping[str, Any]],
         anchors: Mapping[str, str]) -> list[str]:
    """The namespace graph as inline SVG that scales to the page (``viewBox``, width 100%):
    nothing is cut at any number of namespaces. Each namespace box links to its row of the
    namespace table (``anchors``)."""
    edges = graph["namespaceEdges"]
    internal = {e["from"]: e["calls"] for e in edges if e["from"] == e["to"]}
    names = sorted({*graph["namespaces"], *fates, *(e["from"] for e in edges),
                    *(e["to"] for e in edges)})
    details = {name: _detail(fates.get(name), internal.get(name)) for name in names}
    pairs = [(e["from"], e["to"]) for e in edges if e["from"] != e["to"]]
    degree: dict[str, int] = {}
    for a, b in pairs:
        degree[a] = degree.get(a, 0) + 1
        degree[b] = degree.get(b, 0) + 1
    # Namespaces the plan knows but no call touches are drawn too, alone in the first column.
    boxes = layout(names, pairs, {name: len(text) for name, text in details.items()},
                   {name: max(_NODE_HEIGHT, _PORT_GAP * (n + 1)) for name, n in degree.items()})
    if not boxes:
        return ["<p>No namespaces.</p>"]
    out_y, in_y = _ports(boxes, pairs)
    width = max(b.x + b.width for b in boxes.values()) + _MARGIN
    bottom = max(b.y + b.height for b in boxes.values())
    # Edges that skip a column run in lanes below the boxes instead of through them.
    long_edges = [e for e in edges if boxes[e["to"]].layer - boxes[e["from"]].layer > 1]
    lanes = {(e["from"], e["to"]): bottom + 24 + 14 * i for i, e in enumerate(long_edges)}
    height = bottom + (24 + 14 * len(long_edges) if long_edges else 0) + _MARGIN
    out = [f'<svg class="graph" role="img" aria-label="namespace call graph" '
           f'viewBox="0 0 {width:g} {height:g}" style="max-width:{width:g}px" '
           'preserveAspectRatio="xMinYMin meet">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
           'fill="#57606a"/></marker></defs>']
    for e in edges:
        if e["from"] == e["to"]:
            continue
        a, b = boxes[e["from"]], boxes[e["to"]]
        y1, y2 = out_y[(a.name, b.name)], in_y[(a.name, b.name)]
        x1, x2 = a.x + a.width, b.x
        # The count sits just before the arrow head, on the edge's own port.
        lx, ly, anchor = x2 - 9, y2 - 3, "end"
        if b.layer <= a.layer:
            # Inside a cycle (same column): a loop out to the right and back.
            x1, x2 = a.x + a.width, b.x + b.width
            bend = max(x1, x2) + 40
            path = f"M{x1:g},{y1:g} C{bend:g},{y1:g} {bend:g},{y2:g} {x2:g},{y2:g}"
            lx, ly, anchor = bend - 6, (y1 + y2) / 2, "start"
        elif (lane := lanes.get((e["from"], e["to"]))) is not None:
            path = (f"M{x1:g},{y1:g} C{x1 + 30:g},{y1:g} {x1 + 30:g},{lane:g} {x1 + 60:g},{lane:g}"
                    f" L{x2 - 60:g},{lane:g} C{x2 - 30:g},{lane:g} {x2 - 30:g},{y2:g} "
                    f"{x2:g},{y2:g}")
        else:
            mid = (x1 + x2) / 2
            path = f"M{x1:g},{y1:g} C{mid:g},{y1:g} {mid:g},{y2:g} {x2:g},{y2:g}"
        title = f"{e['from']} -> {e['to']}: {e['calls']} call(s)"
        out.append(f'<g><title>{_e(title)}</title><path d="{path}" fill="none" '
                   f'stroke="#57606a" marker-end="url(#arrow)"/><text class="count" '
                   f'x="{lx:g}" y="{ly:g}" text-anchor="{anchor}">{e["calls"]:d}</text></g>')
    for name in sorted(boxes):
        box = boxes[name]
        fate = fates.get(name)
        final = fate["final"] if fate else "caller"
        tooltip = f"{name}: {fate['reason']}" if fate else name
        dash = ' stroke-dasharray="4 3"' if fate is None else ""
        cx, cy = box.x + box.width / 2, box.y + box.height / 2
        node = (f'<g><title>{_e(tooltip)}</title><rect x="{box.x:g}" y="{box.y:g}" '
                f'width="{box.width:g}" height="{box.height:g}" rx="5" fill="{_FILL[final]}" '
                f'stroke="#8c959f"{dash}/><text x="{cx:g}" y="{cy - 4:g}" '
                f'text-anchor="middle" font-weight="bold">{_e(name)}</text><text x="{cx:g}" '
                f'y="{cy + 12:g}" text-anchor="middle">{_e(details[name])}</text></g>')
        # Anchors are generated ids (ns-0, ns-1...), never cluster text.
        out.append(f'<a href="#{anchors[name]}">{node}</a>' if name in anchors else node)
    return [*out, "</svg>"]


def _legend() -> list[str]:
    swatches = [(_FILL["STRICT"], "", "ends STRICT"), (_FILL["PERMISSIVE"], "",
                                                       "ends PERMISSIVE (port exceptions)"),
                (_FILL["outside"], "", "stays outside the mesh"),
                (_FILL["caller"], "border-style:dashed;", "caller outside the namespaces")]
    items = [f'<li><span class="swatch" style="background:{fill};{extra}"></span>{text}</li>'
             for fill, extra, text in swatches]
    return ['<ul class="legend">', *items,
            "<li>number at an arrow head: call edges from caller to callee namespace</li>",
            "<li>second line of a box: data plane → final mode, calls inside</li>",
            "<li>arrows that skip a column run below the columns</li>", "</ul>"]


def _detail(fate: Mapping[str, Any] | None, internal_calls: int | None) -> str:
    """The second line of a namespace box: data plane -> final mode, and internal calls."""
    detail = f"{fate['mode']} → {fate['final']}" if fate else "outside caller"
    if internal_calls:
        detail += f" · {internal_calls} internal"
    return detail


# --- sections -----------------------------------------------------------------------------------


def _lighter(alternatives: Sequence[Mapping[str, Any]]) -> list[str]:
    if not alternatives:
        return []
    return ["<h3>Lighter alternatives</h3>",
            *_list(f"{alt['name']}: {alt['why']}" for alt in alternatives)]


def _verdict(a: Mapping[str, Any] | None, fit: Mapping[str, Any] | None) -> list[str]:
    """The report's opening section: verdict, score and why, then (with the assessment) the
    factors; for mesh-overkill the lighter alternatives come before the factors."""
    head = a or fit
    if head is None:
        return []
    out = ["<h2>Verdict</h2>",
           f'<p class="verdict">{_e(head["verdict"])}: score {_e(head["score"])}/100</p>']
    if fit is not None:
        out.append(f"<p>{_e(fit['summary'])}</p>")
    overkill = head["verdict"] == "mesh-overkill"
    if overkill:
        out += _lighter(head["alternatives"])
    if a is None:
        return out
    s = a["scoring"]
    out.append(f"<p>Base {_e(s['base'])}; mesh-overkill below {_e(s['overkillBelow'])}, "
               f"mesh-recommended from {_e(s['recommendedFrom'])}.</p>")
    if a["profile"]["origin"]:
        out.append(f"<p>Profile answers from {_e(a['profile']['origin'])}.</p>")
    # Five columns, the finding's prose stacked in the last: eight side by side do not fit a
    # printed page, whatever the browser's width.
    out += ["<h3>Factors</h3>", "<table><thead><tr>",
            *(f"<th>{h}</th>" for h in ("code", "factor", "value (threshold)", "weight",
                                       "finding, evidence and fix")), "</tr></thead><tbody>"]
    for f in a["factors"]:
        prose = [f["message"], *([f"evidence: {_some(f['evidence'])}"] if f["evidence"]
                                 else []), f"fix: {f['fix']}"]
        out.append(f"<tr><td>{_e(f['code'])}</td><td>{_cell(f['title'])}</td>"
                   f"<td>{_cell(f['value'])} ({_cell(f['threshold'])})</td>"
                   f"<td class=\"num\">{f['weight']:+g}</td><td>"
                   + "<br>".join(_cell(line) for line in prose) + "</td></tr>")
    out.append("</tbody></table>")
    if a["unknowns"]:
        out += ["<h3>Unknowns</h3>", "<p>Counted as no effect; each answer would give:</p>",
                *_list(f"{u['question']} ({u['field']}): {u['effect']}" for u in a["unknowns"])]
    if not overkill:
        out += _lighter(a["alternatives"])
    return out


def _dataplane(a: Mapping[str, Any], plan_cost: Mapping[str, Any] | None) -> list[str]:
    rows = []
    for ns, choice in a["dataplane"].items():
        waypoint = choice["waypoint"]
        needs = "—" if waypoint is None else (
            f"{waypoint['scope']}: {', '.join(waypoint['serviceAccounts'])}"
            if waypoint["serviceAccounts"] else waypoint["scope"])
        rows.append([ns, choice["mode"], choice["pods"], needs,
                     "; ".join([*choice["reasons"], *choice["ambientBlockers"]])])
    costs = a["costs"]
    return ["<h2>Data plane and costs</h2>",
            *_table(["namespace", "data plane", "pods", "waypoint (ambient)", "why"], rows,
                    numeric=(2,)),
            *_table(["option", "proxies", "CPU requests", "memory requests"], (
                [o["name"], o["proxies"], cpu(o["cpuMillicores"]), memory(o["memoryMiB"])]
                for o in cost_rows(costs["options"], plan_cost)), numeric=(1, 2, 3)),
            *_list(cost_notes(costs["assumptions"], plan_cost))]


def _summary(doc: Mapping[str, Any]) -> list[str]:
    graph = doc["graph"]
    facts = inventory_lines(doc)
    facts += [f"namespaces calling each other in a cycle: {', '.join(group)}"
              for group in graph["stronglyConnectedNamespaces"]]
    fates = {ns["name"]: ns for ns in doc["plan"]["namespaces"]}
    return ["<h2>Inventory and call graph</h2>", *_list(facts),
            "<p>Namespaces in call order (callers left), colored by where they end up. Select "
            "a namespace for its row in the namespace table.</p>",
            "<figure>", *_svg(graph, fates, _anchors(doc["plan"])), *_legend(), "</figure>",
            *_table(["from", "to", "calls"], ([e["from"], e["to"], e["calls"]]
                                              for e in graph["namespaceEdges"]), numeric=(2,))]


def _anchors(plan: Mapping[str, Any]) -> dict[str, str]:
    """Generated element ids of the namespace table's rows, by namespace name."""
    return {ns["name"]: f"ns-{i}" for i, ns in enumerate(plan["namespaces"])}


def _namespaces(plan: Mapping[str, Any]) -> list[str]:
    anchors = _anchors(plan)
    out = ["<h2>Namespaces and their mTLS fate</h2>", "<table><thead><tr>",
           *(f"<th>{h}</th>" for h in ("namespace", "data plane", "ends", "why", "steps")),
           "</tr></thead><tbody>"]
    for ns in plan["namespaces"]:
        cells = [ns["name"], ns["mode"] + (" (already)" if ns["already"] else ""), ns["final"],
                 ns["reason"], ", ".join(ns["steps"]) or "—"]
        out.append(f'<tr id="{anchors[ns["name"]]}">'
                   + "".join(f"<td>{_cell(c)}</td>" for c in cells) + "</tr>")
    return [*out, "</tbody></table>"]


def _summary_section(doc: Mapping[str, Any]) -> list[str]:
    rows = [f"<tr><th>{_e(label)}</th><td>{_cell(text)}</td></tr>"
            for label, text in summary_lines(doc)]
    return ['<section class="summary">', "<h2>Summary</h2>", "<table>", *rows, "</table>",
            "</section>"]


def _blockers(blockers: Sequence[Mapping[str, Any]]) -> list[str]:
    out = ["<h2>Blockers</h2>"]
    if not blockers:
        return [*out, "<p>None: nothing found that STRICT would break.</p>"]
    out += ["<table><thead><tr><th>severity</th><th>code</th><th>namespace</th><th>subject</th>"
            "<th>what breaks and the fix</th></tr></thead><tbody>"]
    for b in blockers:
        note, at = suppressed_note(b), where(b)
        # The class name comes from the closed severity enum, never from cluster text.
        out.append(f'<tr><td class="sev-{_e(b["severity"])}">{_e(b["severity"])}'
                   + (f"<br><small>{_e(note)}</small>" if note else "") + "</td>"
                   + "".join(f"<td>{_e(b[k])}</td>" for k in ("code", "namespace"))
                   + f"<td>{_cell(b['subject'])}"
                   + (f"<br><small>{_cell(at)}</small>" if at else "") + "</td>"
                   + f"<td>{_cell(b['message'])}<br>fix: {_cell(b['fix'])}</td>"
                   + "</tr>")
    return [*out, "</tbody></table>"]


def _changes(title: str, changes: Sequence[Mapping[str, Any]]) -> list[str]:
    if not changes:
        return []
    commands, objects = change_lines(changes)
    out = [f"<h4>{_e(title)}</h4>"]
    if objects:
        out.append(f"<pre><code>{_e(dump_yaml_all(objects))}</code></pre>")
    if commands:
        out.append(f"<pre><code>{_e(chr(10).join(commands))}</code></pre>")
    return out


def _step(step: Mapping[str, Any]) -> list[str]:
    target = step["target"]
    where = " ".join(t for t in (target["scope"], target["namespace"], target["name"]) if t)
    facts = [f"phase: {step['phase']}; target: {where}", f"why: {step['why']}"]
    if step["requires"]:
        facts.append(f"requires: {', '.join(step['requires'])}")
    if step["forcedBy"]:
        facts.append(f"forced by: {', '.join(step['forcedBy'])}")
    if step.get("status"):
        facts.append(proof_line(step))
    facts += [f"blocker {b['code']} ({b['severity']}): {b['subject']}" for b in step["blockers"]]
    if "whatIf" in step:
        facts += step_what_if_lines(step["whatIf"])
    out = [f'<section class="step"><h3>{_e(step["order"])}. {_e(step["id"])}: '
           f'{_e(step["title"])}</h3>', *_list(facts)]
    if step["preconditions"]:
        out += ["<h4>Preconditions</h4>", *_list(step["preconditions"])]
    if step["promql"]:
        out += ["<h4>Must return no series</h4>",
                f"<pre><code>{_e(chr(10).join(step['promql']))}</code></pre>"]
    out += _changes("Apply", step["apply"]) + _changes("Rollback", step["rollback"])
    if step["verify"]:
        out += ["<h4>Verify</h4>", *_list(step["verify"])]
    return [*out, "</section>"]


def render_html(doc: Mapping[str, Any]) -> str:
    """The whole report as one HTML page, ending with a newline."""
    doc = to_wire(doc)  # its maps sorted: manifests and data planes are shown in order
    plan = doc["plan"]
    body = ["<h1>meshplan report</h1>",
            f"<p>Source: {_e(doc['source'])}. Root namespace {_e(plan['rootNamespace'])}, "
            f"granularity {_e(plan['granularity'])}. Schema {_e(doc['schemaVersion'])}.</p>"]
    body += _summary_section(doc)
    body += _verdict(doc.get("assessment"), plan["fit"])
    if "assessment" in doc:
        body += _dataplane(doc["assessment"], plan.get("cost"))
    body += _summary(doc) + _namespaces(plan) + _blockers(doc["blockers"])
    body += ["<h2>Rollout plan</h2>",
             f"<p>{len(plan['steps'])} steps, in the order to apply them. Data plane: "
             f"{_e(DATAPLANE_WORDS.get(plan['dataplane'], plan['dataplane']))}.</p>",
             *(_list(f"Note: {note}" for note in plan["notes"]) if plan["notes"] else [])]
    for step in plan["steps"]:
        body += _step(step)
    head = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
            f"<title>meshplan report: {_e(doc['source'])}</title>", f"<style>{_CSS}</style>",
            "</head>", "<body>"]
    return "\n".join([*head, *body, "</body>", "</html>"]) + "\n"
