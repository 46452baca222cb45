"""The plain-dictionary graph algorithms (planner.domain.digraph) and the namespace graph give
what networkx gave before them: the same components, the same enrollment order (callers first,
ties by name), the same layers and the same collapsed graph."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.domain.digraph import callers_first, components_sinks_first, layers
from planner.domain.graph import CallGraph, Edge, Node, NodeKind

NAMES = tuple("abcdefgh")

graphs = st.tuples(
    st.sets(st.sampled_from(NAMES), max_size=len(NAMES)),
    st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES)), max_size=24),
)


def _successors(edges: list[tuple[str, str]]) -> dict[str, list[str]]:
    successors: dict[str, list[str]] = {}
    for a, b in edges:
        successors.setdefault(a, []).append(b)
    return successors


def _induced(nodes: set[str], edges: list[tuple[str, str]]) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(sorted(nodes))
    g.add_edges_from((a, b) for a, b in edges if a != b and a in nodes and b in nodes)
    return g


@settings(max_examples=300, deadline=None)
@given(graphs)
def test_components_come_sinks_first(case: tuple[set[str], list[tuple[str, str]]]) -> None:
    _, edges = case
    components = components_sinks_first(_successors(edges))
    g = nx.DiGraph(edges)
    assert sorted(map(sorted, components)) == sorted(map(sorted,
                                                         nx.strongly_connected_components(g)))
    position = {n: i for i, c in enumerate(components) for n in c}
    for a, b in edges:
        assert position[b] <= position[a]  # what a calls comes before (or with) a


@settings(max_examples=300, deadline=None)
@given(graphs)
def test_callers_first_is_the_lexicographic_order_of_the_condensation(
        case: tuple[set[str], list[tuple[str, str]]]) -> None:
    nodes, edges = case
    cond = nx.condensation(_induced(nodes, edges))
    members = {c: sorted(cond.nodes[c]["members"]) for c in cond.nodes}
    expected = [members[c] for c in
                nx.lexicographical_topological_sort(cond, key=lambda c: members[c][0])]
    assert callers_first(nodes, _successors(edges)) == expected
    # The order of the input does not matter.
    assert callers_first(sorted(nodes, reverse=True),
                         _successors(list(reversed(edges)))) == expected


@settings(max_examples=300, deadline=None)
@given(graphs)
def test_layers_are_the_generations_of_the_condensation(
        case: tuple[set[str], list[tuple[str, str]]]) -> None:
    nodes, edges = case
    cond = nx.condensation(_induced(nodes, edges))
    expected = {member: depth
                for depth, generation in enumerate(nx.topological_generations(cond))
                for c in generation for member in cond.nodes[c]["members"]}
    assert layers(nodes, _successors(edges)) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from((*NAMES[:4], "")), st.sampled_from(NAMES[:4])),
                max_size=20))
def test_namespace_graph_collapses_calls_as_networkx_did(calls: list[tuple[str, str]]) -> None:
    # Caller namespace "" is an ingress, outside the namespaces.
    nodes = {Node(f"Service/{ns}/s", NodeKind.SERVICE, ns, "s") for ns in NAMES[:4]}
    nodes |= {Node(f"Deployment/{ns}/w", NodeKind.WORKLOAD, ns, "w") for ns in NAMES[:4]}
    nodes.add(Node("ingress:nginx", NodeKind.EXTERNAL))
    edges = {Edge(f"Deployment/{a}/w" if a else "ingress:nginx", f"Service/{b}/s", port)
             for port, (a, b) in enumerate(calls)}
    graph = CallGraph(nodes=tuple(sorted(nodes, key=lambda n: n.id)),
                      edges=tuple(sorted(edges, key=lambda e: e.key)))
    expected = nx.DiGraph()
    expected.add_nodes_from(NAMES[:4])
    for a, b in calls:
        caller = a or "ingress:nginx"
        if expected.has_edge(caller, b):
            expected[caller][b]["count"] += 1
        else:
            expected.add_edge(caller, b, count=1)
    ng = graph.namespace_graph
    assert ng.nodes == tuple(sorted(expected.nodes))
    assert ng.edges() == sorted((a, b, d["count"]) for a, b, d in expected.edges(data=True))
    for n in expected.nodes:
        assert n in ng
        assert ng.predecessors(n) == tuple(sorted(expected.predecessors(n)))
        assert ng.successors(n) == tuple(sorted(expected.successors(n)))
    assert "nowhere" not in ng
    assert graph.strongly_connected_namespaces() == sorted(
        tuple(sorted(c)) for c in nx.strongly_connected_components(expected) if len(c) > 1)
