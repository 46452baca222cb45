"""The report document (``planner report``): inventory and graph summaries, the fit assessment,
the plan and its blockers. Other formats (markdown, HTML) render this same document.

The document's shape is pinned by the committed JSON Schema ``planner/schemas/report-v1.json``
(:func:`report_schema`); docs/report.md documents every field from it.
"""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from typing import TYPE_CHECKING, Any

from planner.domain.analysis import Analysis
from planner.domain.plan import Plan
from planner.sinks.plan_json import plan_body
from planner.sinks.wire import document, to_wire

if TYPE_CHECKING:
    from planner.domain.fit import Assessment

SCHEMA_VERSION = "meshplan.io/report/v1"
#: The committed JSON Schema of this document, inside the ``planner`` package.
SCHEMA_RESOURCE = "schemas/report-v1.json"


def report_document(analysis: Analysis, plan: Plan,
                    assessment: Assessment | None = None) -> dict[str, Any]:
    """The report as plain data, ``schemaVersion`` first, every mapping sorted.

    ``assessment`` (``service.assess``) becomes the ``assessment`` section; without it the
    section is left out (callers timing only the plan, such as bench/plan.py)."""
    inv = analysis.scan.inventory
    graph = analysis.graph
    kinds = Counter(w.ref.kind for w in inv.workloads)
    body: dict[str, Any] = {
        "source": analysis.scan.source_label,
        "inventory": {
            "namespaces": len(inv.namespaces),
            "workloads": len(inv.workloads),
            "workloadsByKind": dict(sorted(kinds.items())),
            "services": len(inv.services),
            "pods": inv.pods_total(),
            "istioObjects": dict(sorted(Counter(o.ref.kind for o in inv.istio).items())),
            "invalidDocuments": analysis.scan.invalid,
        },
        "graph": {
            "nodes": len(graph.nodes),
            "edges": len(graph.edges),
            "hints": len(graph.hints),
            "entryPoints": len(graph.entry_points()),
            # Every node of the namespace graph, so namespaces without calls still get drawn.
            "namespaces": sorted(str(n) for n in graph.namespace_graph.nodes),
            "namespaceEdges": [
                {"from": a, "to": b, "calls": d["count"]}
                for a, b, d in sorted(graph.namespace_graph.edges(data=True))
            ],
            "stronglyConnectedNamespaces": [list(g) for g in
                                            graph.strongly_connected_namespaces()],
            "coverageGaps": len(graph.coverage),
        },
        # Blockers are listed once, at the top level; steps name theirs.
        "plan": {k: v for k, v in plan_body(plan).items() if k != "blockers"},
        "blockers": to_wire(plan.blockers),
    }
    if assessment is not None:
        from planner.sinks.assessment_json import assessment_document

        # The assessment document minus what the report already says once at the top.
        body["assessment"] = {k: v for k, v in assessment_document(
            assessment, analysis.scan.source_label).items()
            if k not in ("schemaVersion", "source")}
    return document(SCHEMA_VERSION, body)


def report_schema() -> dict[str, Any]:
    """The committed JSON Schema (draft 2020-12) of :func:`report_document`'s output."""
    text = resources.files("planner").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
