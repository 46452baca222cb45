"""Properties: consistent renaming gives the same graph shape; document order never matters."""

from __future__ import annotations

import random
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from planner.domain.diagnostics import Source
from planner.domain.graph import CallGraph
from planner.domain.graph_builder import build_graph
from planner.domain.inventory_builder import build_inventory
from planner.sinks.graph_json import graph_document
from planner.sinks.wire import dump_json
from planner.sources.manifests import RawDocument
from tests.graph.conftest import SAMPLES, documents

NAMES = ("web", "api", "db", "cache")
NAMESPACES = ("front", "back")
_LABEL = st.from_regex(re.compile(r"[a-z][a-z0-9]{1,8}"), fullmatch=True)


def cluster(name: dict[str, str]) -> list[dict[str, Any]]:
    """A two-namespace cluster whose object names come from ``name`` (every DNS form)."""
    def deploy(ns: str, app: str, env: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name[app], "namespace": name[ns]},
                "spec": {"template": {"metadata": {"labels": {"app": name[app]}}, "spec": {
                    "containers": [{"name": "c", "image": "x", "env": [
                        {"name": k, "value": v} for k, v in env.items()]}]}}}}

    def svc(ns: str, app: str, port: int) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name[app], "namespace": name[ns]},
                "spec": {"selector": {"app": name[app]}, "ports": [{"port": port}]}}

    return [
        deploy("front", "web", {"API_URL": f"http://{name['api']}.{name['back']}:8080"}),
        svc("front", "web", 80),
        deploy("back", "api", {"DB": f"postgres://u@{name['db']}:5432/x",
                               "CACHE_HOST": name["cache"],
                               "WEB": f"{name['web']}.{name['front']}.svc.cluster.local:80"}),
        svc("back", "api", 8080), deploy("back", "db", {}), svc("back", "db", 5432),
        deploy("back", "cache", {}), svc("back", "cache", 6379),
    ]


def build(bodies: list[dict[str, Any]]) -> CallGraph:
    docs = [RawDocument(Source("gen.yaml", i), b) for i, b in enumerate(bodies)]
    return build_graph(build_inventory(docs))


def shape(graph: CallGraph, rename: dict[str, str]) -> set[tuple[str, str, int | None, str]]:
    def back(node_id: str) -> str:
        return "/".join(rename.get(part, part) for part in node_id.split("/"))

    return {(back(e.caller), back(e.callee), e.port, e.protocol) for e in graph.edges}


IDENTITY = {n: n for n in (*NAMES, *NAMESPACES)}


@settings(max_examples=40, deadline=None)
@given(st.lists(_LABEL, min_size=6, max_size=6, unique=True))
def test_consistent_renaming_gives_an_isomorphic_graph(labels: list[str]) -> None:
    name = dict(zip((*NAMES, *NAMESPACES), labels, strict=True))
    reverse = {v: k for k, v in name.items()}
    original = build(cluster(IDENTITY))
    renamed = build(cluster(name))
    assert len(original.edges) == 4
    assert shape(renamed, reverse) == shape(original, {})


def test_shuffled_documents_give_byte_identical_json() -> None:
    docs = documents([SAMPLES / "shop"])
    expected = dump_json(graph_document(build_graph(build_inventory(docs))))
    for seed in range(5):
        shuffled = list(docs)
        random.Random(seed).shuffle(shuffled)
        assert dump_json(graph_document(build_graph(build_inventory(shuffled)))) == expected
