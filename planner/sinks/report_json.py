"""The report document (``planner report``): inventory and graph summaries, the fit assessment,
the plan and its blockers. Other formats (markdown, HTML) render this same document.

The document's shape is pinned by the committed JSON Schema ``planner/schemas/report-v2.json``
(:func:`report_schema`); docs/report.md documents every field from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from planner.domain.analysis import Analysis
from planner.domain.inventory import Inventory
from planner.domain.plan import Plan
from planner.domain.suppressions import Suppression, match
from planner.sinks.graph_json import coverage_document
from planner.sinks.plan_json import finding_body, plan_body
from planner.sinks.wire import committed_schema, document

if TYPE_CHECKING:
    from planner.domain.fit import Assessment

SCHEMA_VERSION = "meshplan.io/report/v2"
#: The committed JSON Schema of this document, inside the ``planner`` package.
SCHEMA_RESOURCE = "schemas/report-v2.json"


def location(inventory: Inventory, keys: Iterable[str]) -> dict[str, Any] | None:
    """Where the first of ``keys`` (object keys) that came from a file is defined, or None
    (a live cluster, or objects the input does not hold)."""
    for key in keys:
        source = inventory.source_of(key)
        if source is not None and source.in_file and source.doc:
            return {"document": source.doc, "file": source.file, "item": source.item,
                    "line": source.line, "object": key}
    return None


def _mark(entry: dict[str, Any], inventory: Inventory, suppressions: Sequence[Suppression],
          code: str, namespace: str, keys: Sequence[str]) -> dict[str, Any]:
    """A finding's wire entry with its ``location`` and, when an accepted risk covers it,
    ``suppressed`` (keys left out otherwise, as the schema has them optional)."""
    found = location(inventory, keys)
    if found is not None:
        entry["location"] = found
    hit = match(suppressions, code, namespace, keys)
    if hit is not None:
        entry["suppressed"] = {"kind": hit.kind, "origin": hit.origin, "reason": hit.reason}
    return entry


def report_document(analysis: Analysis, plan: Plan,
                    assessment: Assessment | None = None,
                    suppressions: Sequence[Suppression] = ()) -> dict[str, Any]:
    """The report as plain data, ``schemaVersion`` first; other maps in the order they were
    built: the JSON writer sorts them itself, renderers that read maps in order (Markdown,
    HTML) take :func:`planner.sinks.wire.to_wire` of it, whose maps are sorted.

    ``assessment`` (``service.assess``) becomes the ``assessment`` section; without it the
    section is left out (callers timing only the plan, such as bench/plan.py). Top-level
    blockers and the factors carry the ``location`` of their object in the input files and,
    when one of ``suppressions`` covers them, ``suppressed``."""
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
            **({"unreadKinds": list(analysis.scan.unread)} if analysis.scan.unread else {}),
        },
        "graph": {
            "nodes": len(graph.nodes),
            "edges": len(graph.edges),
            "hints": len(graph.hints),
            "entryPoints": len(graph.entry_points()),
            # Every node of the namespace graph, so namespaces without calls still get drawn.
            "namespaces": list(graph.namespace_graph.nodes),
            "namespaceEdges": [{"from": a, "to": b, "calls": calls}
                               for a, b, calls in graph.namespace_graph.edges()],
            "stronglyConnectedNamespaces": [list(g) for g in
                                            graph.strongly_connected_namespaces()],
            "coverageGaps": len(graph.coverage),
            "manifestCoverage": coverage_document(graph.manifest_coverage),
        },
        # Blockers are listed once, at the top level; steps name theirs.
        "plan": {k: v for k, v in plan_body(plan).items() if k != "blockers"},
        "blockers": [_mark(finding_body(f), inv, suppressions, f.code, f.namespace,
                           (f.subject, *f.objects)) for f in plan.blockers],
    }
    if assessment is not None:
        from planner.sinks.assessment_json import assessment_document

        # The assessment document minus what the report already says once at the top.
        body["assessment"] = {k: v for k, v in assessment_document(
            assessment, analysis.scan.source_label).items()
            if k not in ("schemaVersion", "source")}
        body["assessment"]["factors"] = [
            _mark(entry, inv, suppressions, entry["code"], "", entry["evidence"])
            for entry in body["assessment"]["factors"]]
    # Not walked by to_wire: the sinks build plain data, and sorting its 35,000 maps (most
    # of them what-if rows and manifests) is the JSON writer's work (docs/performance.md).
    return document(SCHEMA_VERSION, body, converted=True)


def report_schema() -> dict[str, Any]:
    """The committed JSON Schema (draft 2020-12) of :func:`report_document`'s output."""
    return committed_schema(SCHEMA_RESOURCE)
