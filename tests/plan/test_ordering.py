"""Ordering rules on hand-built graphs: SCC groups, callers first, blast radius ties by name."""

from __future__ import annotations

from planner.domain.graph import CallGraph, Edge, Node, NodeKind
from planner.domain.inventory import (
    Container,
    ContainerPort,
    Inventory,
    Namespace,
    ObjectRef,
    Service,
    ServicePort,
    Workload,
)
from planner.domain.plan_builder import build_plan_from


def _cluster(calls: list[tuple[str, str]], namespaces: list[str]) -> tuple[Inventory, CallGraph]:
    """One Deployment ``app`` and Service ``app`` per namespace; ``calls`` are ns -> ns."""
    workloads, services, nodes = [], [], []
    backends = {}
    for ns in namespaces:
        w = Workload(ObjectRef("Deployment", ns, "app"), pod_labels={"app": "app"},
                     containers=(Container(name="c", ports=(ContainerPort(8080),)),))
        s = Service(ObjectRef("Service", ns, "app"), selector={"app": "app"},
                    ports=(ServicePort(port=8080, name="http", target_port=8080),),
                    selects=(w.ref,))
        workloads.append(w)
        services.append(s)
        nodes += [Node(w.ref.key, NodeKind.WORKLOAD, ns, "app", True),
                  Node(s.ref.key, NodeKind.SERVICE, ns, "app", True)]
        backends[s.ref.key] = (w.ref.key,)
    edges = tuple(sorted((Edge(f"Deployment/{a}/app", f"Service/{b}/app", 8080, (8080,))
                          for a, b in calls), key=lambda e: e.key))
    inv = Inventory(namespaces=tuple(Namespace(n) for n in sorted(namespaces)),
                    workloads=tuple(sorted(workloads, key=lambda w: w.ref)),
                    services=tuple(sorted(services, key=lambda s: s.ref)))
    graph = CallGraph(nodes=tuple(sorted(nodes, key=lambda n: n.id)), edges=edges,
                      backends=backends)
    return inv, graph


def _ids(calls: list[tuple[str, str]], namespaces: list[str], prefix: str) -> list[str]:
    inv, graph = _cluster(calls, namespaces)
    plan = build_plan_from(inv, graph, [])
    return [s.id.removeprefix(prefix) for s in plan.steps if s.id.startswith(prefix)]


def test_callers_first_and_cycles_together() -> None:
    # a <-> b form a cycle; c calls a; d stands alone.
    calls = [("a", "b"), ("b", "a"), ("c", "a")]
    assert _ids(calls, ["a", "b", "c", "d"], "30-enroll-") == ["c", "a", "b", "d"]


def test_strict_by_blast_radius_then_name() -> None:
    # z is called by y, which is called by x: z has 2 dependents, y 1, x and w none.
    calls = [("x", "y"), ("y", "z")]
    assert _ids(calls, ["w", "x", "y", "z"], "40-strict-") == ["w", "x", "y", "z"]


def test_cycle_members_require_each_others_enrollment() -> None:
    inv, graph = _cluster([("a", "b"), ("b", "a")], ["a", "b"])
    plan = build_plan_from(inv, graph, [])
    assert {"30-enroll-a", "30-enroll-b"} <= set(plan.step("40-strict-a").requires)
    assert {"30-enroll-a", "30-enroll-b"} <= set(plan.step("40-strict-b").requires)


def test_ids_do_not_depend_on_namespace_listing_order() -> None:
    calls = [("a", "b"), ("c", "b")]
    first = _ids(calls, ["a", "b", "c"], "")
    assert first == _ids(calls, ["c", "b", "a"], "")
