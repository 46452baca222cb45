"""The report document (``planner report --json``): inventory and graph summaries, the plan and
its blockers. Other formats (markdown, HTML) render this same document."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from planner.domain.plan import Plan
from planner.sinks.plan_json import plan_body
from planner.sinks.wire import document, to_wire

if TYPE_CHECKING:
    from planner.service import Analysis

SCHEMA_VERSION = "meshplan.io/report/v1"


def report_document(analysis: Analysis, plan: Plan) -> dict[str, Any]:
    """The report as plain data, ``schemaVersion`` first, every mapping sorted."""
    inv = analysis.scan.inventory
    graph = analysis.graph
    kinds = Counter(w.ref.kind for w in inv.workloads)
    return document(SCHEMA_VERSION, {
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
    })
