"""Shared helpers for plan tests: the shop sample, the Istio CRD schemas and an invariant check."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.domain.membership import benign_plaintext, caller_fate, membership, parse_ref
from planner.domain.plan import Action, Phase, Plan
from planner.service import Analysis, ManifestInput, analyse, build_plan
from tests.shared_data import require_shared

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "sample_clusters" / "shop"


@pytest.fixture(scope="session")
def shop() -> tuple[Analysis, Plan]:
    analysis = analyse(ManifestInput((str(SHOP),), recursive=True))
    return analysis, build_plan(analysis)


def crd_schemas() -> dict[tuple[str, str], Mapping[str, Any]]:
    """``(apiVersion, kind)`` -> openAPIV3Schema of every served version of the Istio CRDs in
    ../shared/schemas (skips the test when they are absent)."""
    return _crd_schemas(require_shared("schemas", "istio-crd-all.gen.yaml"))


@cache
def _crd_schemas(crds: Path) -> dict[tuple[str, str], Mapping[str, Any]]:
    schemas = {}
    with crds.open(encoding="utf-8") as stream:
        for doc in yaml.safe_load_all(stream):
            if not doc:
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def istio_objects(plan: Plan) -> Iterator[Mapping[str, Any]]:
    """Every Istio object the plan applies or restores."""
    for step in plan.steps:
        for change in (*step.apply, *step.rollback):
            if change.action is Action.APPLY and ".istio.io/" in change.object["apiVersion"]:
                yield change.object


def assert_strict_is_safe(analysis: Analysis, plan: Plan) -> None:
    """No namespace goes STRICT before every inbound caller is enrolled by an earlier step or
    covered by an earlier exception on the callee workload's port."""
    inv, graph = analysis.context.inventory, analysis.graph
    members = membership(inv, plan.root_namespace)
    position = {s.id: i for i, s in enumerate(plan.steps)}
    for i, step in enumerate(plan.steps):
        if step.phase is not Phase.STRICT or step.target.scope != "namespace":
            continue
        ns = step.target.namespace
        excepted = {}
        for s in plan.steps[:i]:
            if s.phase is Phase.EXCEPTION and s.target.namespace == ns:
                for c in s.apply:
                    spec = c.object["spec"]
                    if "portLevelMtls" in spec:
                        excepted[s.target.name] = ({int(p) for p in spec["portLevelMtls"]},
                                                   set(s.forced_by))
        for edge in graph.edges_into_namespace(ns):
            meshed, _ = caller_fate(inv, members, edge.caller)
            if meshed:
                caller_ns = parse_ref(edge.caller).namespace  # type: ignore[union-attr]
                assert position[f"30-enroll-{caller_ns}"] < i, (step.id, edge.key)
                continue
            for backend in graph.backends.get(edge.callee, ()):
                ref = parse_ref(backend)
                w = inv.workload_index[ref]  # type: ignore[index]
                if not caller_fate(inv, members, backend)[0] or benign_plaintext(
                        inv, members, edge, w):
                    continue
                ports, callers = excepted.get(w.name, (set(), set()))
                assert set(edge.target_ports) <= ports and edge.caller in callers, \
                    (step.id, edge.key)
