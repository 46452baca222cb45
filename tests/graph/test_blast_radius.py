"""Blast radius (who depends on a namespace, transitively) in one pass over the graph: the same
answer as a search per namespace, with work that grows linearly with the graph."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import planner.domain.graph as graph_module
from planner.domain.graph import CallGraph, Edge, Node, NodeKind

NAMESPACES = ("a", "b", "c", "d", "e")


def _graph(calls: list[tuple[int, int]], size: int, one_namespace_each: bool = False
           ) -> CallGraph:
    """Workload i and Service i in namespace ``NAMESPACES[i % 5]`` (or ``n<i>``); ``calls``
    are i -> j; an ingress calls Service 0."""
    def namespace(i: int) -> str:
        return f"n{i}" if one_namespace_each else NAMESPACES[i % len(NAMESPACES)]

    nodes, backends = [], {}
    for i in range(size):
        ns = namespace(i)
        nodes += [Node(f"Deployment/{ns}/w{i}", NodeKind.WORKLOAD, ns, f"w{i}"),
                  Node(f"Service/{ns}/s{i}", NodeKind.SERVICE, ns, f"s{i}")]
        backends[f"Service/{ns}/s{i}"] = (f"Deployment/{ns}/w{i}",)
    nodes.append(Node("ingress:nginx", NodeKind.EXTERNAL))

    def service(j: int) -> str:
        return f"Service/{namespace(j)}/s{j}"

    edges = [Edge(f"Deployment/{namespace(i)}/w{i}", service(j), 80)
             for i, j in sorted(set(calls))]
    if size:
        edges.append(Edge("ingress:nginx", service(0), 80))
    return CallGraph(nodes=tuple(sorted(nodes, key=lambda n: n.id)),
                     edges=tuple(sorted(edges, key=lambda e: e.key)), backends=backends)


def _searched(graph: CallGraph, namespace: str) -> set[str]:
    """The blast radius by a search from ``namespace``'s Services (the definition)."""
    callers: dict[str, set[str]] = {}
    for e in graph.edges:
        callers.setdefault(e.callee, set()).add(e.caller)
    serves: dict[str, set[str]] = {}
    for svc, workloads in graph.backends.items():
        for w in workloads:
            serves.setdefault(w, set()).add(svc)
    frontier = [n.id for n in graph.nodes
                if n.kind is NodeKind.SERVICE and n.namespace == namespace]
    seen: set[str] = set()
    while frontier:
        for caller in callers.get(frontier.pop(), ()):
            if caller not in seen:
                seen.add(caller)
                frontier.extend(serves.get(caller, ()))
    index = graph.node_index
    return {w for w in seen if w in index and index[w].kind is NodeKind.WORKLOAD}


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=12).flatmap(
    lambda size: st.tuples(st.just(size), st.lists(
        st.tuples(st.integers(0, max(size - 1, 0)), st.integers(0, max(size - 1, 0))),
        max_size=30 if size else 0))))
def test_one_pass_matches_the_search(case: tuple[int, list[tuple[int, int]]]) -> None:
    size, calls = case
    graph = _graph(calls, size)
    radius = graph.blast_radius()
    for ns in NAMESPACES[:size]:
        expected = _searched(graph, ns)
        assert graph.dependents(ns) == expected
        assert radius[ns] == len(expected)
    assert graph.dependents("no-such-namespace") == set()


def test_cycles_and_self_calls() -> None:
    # w0 -> s1, w1 -> s0 (a cycle across a and b), w2 -> s2 (itself), w3 -> s2.
    graph = _graph([(0, 1), (1, 0), (2, 2), (3, 2)], 4)
    assert graph.dependents("a") == {"Deployment/a/w0", "Deployment/b/w1"}
    assert graph.dependents("c") == {"Deployment/c/w2", "Deployment/d/w3"}
    assert graph.blast_radius() == {"a": 2, "b": 2, "c": 2, "d": 0}


@contextmanager
def _line_count() -> Iterator[list[int]]:
    """Counts the lines Python runs in planner/domain/graph.py: work, not time."""
    count = [0]
    target = str(Path(graph_module.__file__).resolve())

    def local(frame: object, event: str, arg: object) -> object:
        if event == "line":
            count[0] += 1
        return local

    def tracer(frame: object, event: str, arg: object) -> object:
        code = frame.f_code  # type: ignore[attr-defined]
        return local if str(Path(code.co_filename).resolve()) == target else None

    sys.settrace(tracer)
    try:
        yield count
    finally:
        sys.settrace(None)


def _chain_work(size: int) -> int:
    # A chain of namespaces, each calling the next: the blast radius of the last one is
    # everything upstream, the shape where a search per namespace costs size squared.
    graph = _graph([(i, i + 1) for i in range(size - 1)], size, one_namespace_each=True)
    graph.node_index  # noqa: B018  (built alike at both sizes; not what is measured)
    with _line_count() as count:
        graph.blast_radius()
    return count[0]


def test_work_grows_linearly_with_the_graph() -> None:
    small, large = _chain_work(200), _chain_work(400)
    assert large / small < 2.2, (small, large)
