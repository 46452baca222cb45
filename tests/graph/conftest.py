"""Helpers for the call-graph tests: corpus paths and graphs built from manifests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.domain.graph import CallGraph
from planner.domain.graph_builder import build_graph
from planner.domain.inventory_builder import build_inventory
from planner.sources.manifests import RawDocument, load_manifests

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_clusters"


def documents(paths: Iterable[Path], namespace: str | None = None) -> list[RawDocument]:
    """Raw documents of ``paths`` (recursive); ``namespace`` is set on objects without one,
    as ``kubectl apply -n NS -f PATH`` would (for folders applied to different namespaces)."""
    docs = load_manifests([str(p) for p in paths], recursive=True).documents
    if namespace is None:
        return docs
    placed = []
    for doc in docs:
        meta: dict[str, Any] = dict(doc.body.get("metadata") or {})
        meta.setdefault("namespace", namespace)
        placed.append(replace(doc, body={**doc.body, "metadata": meta}))
    return placed


def graph_of(*paths: Path, namespace: str = "default",
             folders: Mapping[str, Path] | None = None) -> CallGraph:
    """The call graph of manifests; ``folders`` maps namespaces to folders applied into them."""
    docs = documents(paths) if paths else []
    for ns, folder in (folders or {}).items():
        docs.extend(documents([folder], ns))
    return build_graph(build_inventory(docs, default_namespace=namespace))
