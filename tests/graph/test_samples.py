"""The sample clusters' hand-checked edges and the generator's ground truth."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from planner.domain.graph import INGRESS_PREFIX, CallGraph, Edge
from tests.graph.conftest import SAMPLES, graph_of

Triple = tuple[str, str, int | None]


def _app_edges(graph: CallGraph) -> set[Triple]:
    """Edges the truth files list: everything but kubelet probes and Prometheus scrapes (the
    files leave those out on purpose)."""
    def listed(edge: Edge) -> bool:
        return not all(ev.kind in ("probe", "scrape") for ev in edge.evidence)

    return {(e.caller, e.callee, e.port) for e in graph.edges if listed(e)}


def _truth(name: str) -> set[Triple]:
    rows = json.loads((SAMPLES / "truth" / f"{name}-edges.json").read_text())
    return {(r["caller"], r["callee"], r["port"]) for r in rows}


@pytest.mark.parametrize("name", ["tiny", "shop"])
def test_sample_cluster_edges_match_truth(name: str) -> None:
    assert _app_edges(graph_of(SAMPLES / name)) == _truth(name)


def test_shop_ledger_secret_is_a_coverage_gap() -> None:
    graph = graph_of(SAMPLES / "shop")
    gaps = {g.workload: g.reason for g in graph.coverage}
    assert "ledger-db" in gaps["Deployment/payments/ledger"]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", SAMPLES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the module runs.
    sys.modules.setdefault("generate", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("fmt", "density"), [("yaml", None), ("list-json", None),
                                              ("yaml", 3.5)])
def test_generator_ground_truth_recall_and_precision_are_one(
        tmp_path: Path, fmt: str, density: float | None) -> None:
    _generator().generate(6, 30, 7, tmp_path, fmt=fmt, density=density)
    truth = {(r["caller"], r["callee"], r["port"])
             for r in json.loads((tmp_path / "ground-truth.json").read_text())}
    graph = graph_of(tmp_path / "manifests")
    inferred = {(e.caller, e.callee, e.port) for e in graph.edges
                if not e.caller.startswith(("external:", INGRESS_PREFIX))}
    assert truth and inferred == truth
