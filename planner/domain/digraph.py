"""Directed-graph algorithms the call graph and the plan need, on plain mappings of node ->
successors: strongly connected components, their order and their layers.

The graphs are small (namespaces) or walked once (workloads), so plain dictionaries serve, and
commands need not import networkx (about 0.12 s, a third of a run on a small sample).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping


def components_sinks_first(successors: Mapping[str, Collection[str]]) -> list[list[str]]:
    """Strongly connected components of a directed graph (Tarjan's algorithm, iterative so that
    a long call chain cannot exhaust the recursion limit), every component after all the
    components it reaches. Nodes are the keys of ``successors`` and every node they name; the
    members of a component come in no particular order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in successors:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(successors.get(root, ())))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def _condensed(nodes: Iterable[str], successors: Mapping[str, Collection[str]]
               ) -> tuple[list[list[str]], dict[int, set[int]]]:
    """The components of the graph induced by ``nodes`` (members sorted) and the edges between
    them (component index -> indices of the components it calls), self-loops dropped."""
    wanted = set(nodes)
    induced = {n: [s for s in successors.get(n, ()) if s in wanted and s != n]
               for n in sorted(wanted)}
    components = [sorted(c) for c in components_sinks_first(induced)]
    where = {member: i for i, component in enumerate(components) for member in component}
    calls: dict[int, set[int]] = {i: set() for i in range(len(components))}
    for node, targets in induced.items():
        for target in targets:
            if where[target] != where[node]:
                calls[where[node]].add(where[target])
    return components, calls


def callers_first(nodes: Iterable[str], successors: Mapping[str, Collection[str]]
                  ) -> list[list[str]]:
    """The strongly connected groups of the graph induced by ``nodes``, each group after every
    group that calls it, ties broken by the group's first member (members sorted by name): the
    same order for the same graph, whatever order its nodes and edges come in."""
    components, calls = _condensed(nodes, successors)
    waiting = {i: 0 for i in calls}
    for targets in calls.values():
        for t in targets:
            waiting[t] += 1
    ready = [(components[i][0], i) for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[list[str]] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(components[i])
        for t in calls[i]:
            waiting[t] -= 1
            if waiting[t] == 0:
                heapq.heappush(ready, (components[t][0], t))
    return order


def layers(nodes: Iterable[str], successors: Mapping[str, Collection[str]]) -> dict[str, int]:
    """Each node's layer: 0 for a node nothing calls, else one more than the deepest of its
    callers, a strongly connected group sharing one layer (the topological generations of the
    condensed graph)."""
    components, calls = _condensed(nodes, successors)
    waiting = {i: 0 for i in calls}
    for targets in calls.values():
        for t in targets:
            waiting[t] += 1
    depth = {i: 0 for i, n in waiting.items() if n == 0}
    frontier = list(depth)
    while frontier:
        following = []
        for i in frontier:
            for t in calls[i]:
                waiting[t] -= 1
                if waiting[t] == 0:
                    depth[t] = depth[i] + 1
                    following.append(t)
        frontier = following
    return {member: depth[i] for i, component in enumerate(components) for member in component}
