"""Mermaid flowcharts (``planner graph -o mermaid``, the Markdown report's namespace graph).

Names come from a cluster and are untrusted: node ids are generated (``n0``, ``n1``...), so no
name is ever Mermaid syntax, and labels are quoted with every character Mermaid reads inside a
quoted label replaced by its entity code, in one pass (so an escape is never escaped again).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

#: Characters Mermaid treats as syntax inside a quoted label, and ``&`` and ``#``, which start
#: entity codes.
_ESCAPES = {'"': "#quot;", "<": "#lt;", ">": "#gt;", "#": "#35;", "&": "#38;", "`": "#96;",
            "[": "#91;", "]": "#93;", "{": "#123;", "}": "#125;", "|": "#124;"}
# C1 too: U+009B is a one-byte CSI on some terminals, and this output is often just printed.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def label(text: str) -> str:
    """``text`` as a quoted Mermaid label."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in _CONTROL.sub(" ", text)) + '"'


def flowchart(node_ids: Sequence[str], edges: Iterable[tuple[str, str, str, bool]],
              styles: Mapping[str, tuple[str, Iterable[str]]] | None = None) -> str:
    """A left-to-right flowchart of ``node_ids`` and ``(source, target, label, dashed)``
    edges, ending with a newline. ``styles`` maps a class name (an identifier of the caller's,
    never cluster text) to its Mermaid style and the nodes that take it."""
    ids = {name: f"n{i}" for i, name in enumerate(node_ids)}
    lines = ["flowchart LR"]
    lines.extend(f"  {ids[name]}[{label(name)}]" for name in node_ids)
    for src, dst, text, dashed in edges:
        arrow = "-.->" if dashed else "-->"
        lines.append(f"  {ids[src]} {arrow}|{label(text)}| {ids[dst]}")
    for name, (style, members) in (styles or {}).items():
        nodes = ",".join(ids[m] for m in members if m in ids)
        if nodes:
            lines += [f"  classDef {name} {style}", f"  class {nodes} {name}"]
    return "\n".join(lines) + "\n"
