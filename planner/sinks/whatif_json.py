"""The what-if document (``planner what-if -o json``), pinned by the committed JSON Schema
``planner/schemas/what-if-v1.json``; docs/what-if.md documents every field from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.domain.whatif import EdgeVerdict, WhatIf
from planner.sinks.graph_json import evidence_body, observed_body
from planner.sinks.wire import committed_schema, document

SCHEMA_VERSION = "meshplan.io/what-if/v1"
SCHEMA_RESOURCE = "schemas/what-if-v1.json"


def edge_body(edge: EdgeVerdict) -> dict[str, Any]:
    """One judged call as plain data (keys sorted)."""
    return dict(sorted({
        **_verdict_body(edge),
        "breaks": edge.breaks,
        "evidence": [evidence_body(ev) for ev in edge.evidence],
        "modeBefore": edge.mode_before,
        "note": edge.note,
        "observed": observed_body(edge.observed),
    }.items()))


def _verdict_body(edge: EdgeVerdict) -> dict[str, Any]:
    """What a plan step's what-if says of a call that would break (keys sorted): the call and
    the verdict, without the evidence ``planner what-if`` gives."""
    return {
        "callee": edge.callee,
        "caller": edge.caller,
        "containerPort": edge.container_port,
        "decidedBy": edge.decided_by,
        "mode": edge.mode,
        "port": edge.port,
        "reasons": [{"code": r.code, "message": r.message} for r in edge.reasons],
        "service": edge.service,
    }


def whatif_body(result: WhatIf) -> dict[str, Any]:
    """The simulation as plain data, without a schema version (plan steps embed it)."""
    return {
        "affected": list(result.affected),
        "changes": list(result.changes),
        "edges": [edge_body(e) for e in result.edges],
        "enrollment": result.enrollment,
        "noEffect": [{"reason": n.reason, "scope": n.scope} for n in result.no_effect],
        "summary": {"breaking": len(result.breaking), "edges": len(result.edges)},
        "traffic": result.traffic,
    }


def whatif_document(result: WhatIf, source: str) -> dict[str, Any]:
    """The what-if document, ``schemaVersion`` first."""
    return document(SCHEMA_VERSION, {**whatif_body(result), "source": source}, converted=True)


def whatif_schema() -> dict[str, Any]:
    """The committed JSON Schema (draft 2020-12) of :func:`whatif_document`'s output."""
    return committed_schema(SCHEMA_RESOURCE)


def step_what_if_body(result: WhatIf) -> dict[str, Any]:
    """A plan step's what-if, compact: the counts, the calls that would break (without their
    evidence: ``planner what-if`` gives it) and where the step has no effect."""
    return {
        # Only the fields it shows: a report has thousands of these rows.
        "breaking": [_verdict_body(e) for e in result.breaking],
        "enrollment": result.enrollment,
        "noEffect": [{"reason": n.reason, "scope": n.scope} for n in result.no_effect],
        "summary": {"breaking": len(result.breaking), "edges": len(result.edges)},
    }


def step_what_if_lines(body: Mapping[str, Any]) -> list[str]:
    """A step's what-if (:func:`step_what_if_body`) as plain lines for people: the count, one
    line per call that would break with its reason codes, one per place without effect.
    Cluster strings are left as they are: each format escapes them its own way."""
    summary = body["summary"]
    lines = [f"what-if now: {summary['breaking']} of {summary['edges']} call(s) into the "
             "workloads it reaches would break"]
    for edge in body["breaking"]:
        port = edge["containerPort"] if edge["containerPort"] is not None else "?"
        codes = ", ".join(r["code"] for r in edge["reasons"])
        lines.append(f"breaks: {edge['caller']} -> {edge['callee']}:{port} ({codes})")
    lines += [f"no effect now: {n['reason']}" for n in body["noEffect"]]
    return lines
