"""The service call graph: who calls whom, with the evidence for every edge.

Nodes are workloads, Services, and callers that live outside the manifests (ingress controllers,
the API server, kubelet, Prometheus, the internet). Edges always point from a caller (a workload
or a special caller) to a Service port. Allowed-traffic hints (NetworkPolicy, AuthorizationPolicy,
VirtualService, DestinationRule) are kept apart from calls: they say traffic *may* flow.

``build_graph`` lives in :mod:`planner.domain.graph_builder`; this module is the model and the
derived views every later step reads (fit, plan, report, TUI).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import field
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from planner.domain.digraph import components_sinks_first
from planner.domain.value import value_class

if TYPE_CHECKING:
    import networkx as nx


class NodeKind(StrEnum):
    """What a graph node stands for."""

    WORKLOAD = "workload"
    SERVICE = "service"
    EXTERNAL = "external"


#: Ids of callers outside the manifests. Ingress controllers get ``ingress:<class>``.
APISERVER = "external:apiserver"
KUBELET = "external:kubelet"
PROMETHEUS = "external:prometheus"
INTERNET = "external:internet"
#: The caller of a hint that names no client (a VirtualService, an open NetworkPolicy rule).
ANY_CALLER = "external:any"
INGRESS_PREFIX = "ingress:"


class Origin(StrEnum):
    """Where an edge is known from."""

    INFERRED = "inferred"
    OBSERVED = "observed"
    BOTH = "both"


@value_class(order=True)
class Evidence:
    """One reason to believe in an edge.

    ``kind``: env, configmap, args, command, volume, ingress, httproute, nodeport, loadbalancer,
    webhook, apiservice, scrape, probe, networkpolicy, authorizationpolicy, virtualservice,
    destinationrule, telemetry. ``source`` names the exact place
    (``Deployment shop/cart env PRODUCT_ADDR``, ``ConfigMap shop/app-config key db.url``);
    ``text`` is the matched text; ``confidence`` is 0..1.
    """

    kind: str
    source: str
    text: str
    confidence: float = 1.0


@value_class
class ObservedStats:
    """What telemetry saw on an edge over the window."""

    requests: float = 0.0
    connections: float = 0.0
    mtls_share: float | None = None  # 0..1 of requests+connections that were mutual TLS

    @property
    def share_text(self) -> str:
        """The mTLS share for people: ``75%``; ``unknown`` when traffic was seen but its
        security not (Hubble, Linkerd ...); ``idle`` when the series counted nothing."""
        if self.mtls_share is not None:
            return f"{self.mtls_share:.0%}"
        return "unknown" if self.requests + self.connections > 0 else "idle"


@value_class
class Node:
    """A graph node. ``id`` is ``Kind/namespace/name`` for objects (``ObjectRef.key``) or one of
    the ``external:``/``ingress:`` ids. ``meshed`` says whether the caller is in the mesh *now*
    (label, annotations and pods), with ``mesh_reason`` in words."""

    id: str
    kind: NodeKind
    namespace: str = ""
    name: str = ""
    meshed: bool = False
    mesh_reason: str = ""


@value_class
class Edge:
    """A call from ``caller`` (node id) to ``callee`` (a Service node id) on a Service port.

    ``target_ports`` are the container ports the Service port maps to (numbers, resolved through
    named targetPorts where the selected pods declare them): PeerAuthentication ``portLevelMtls``
    keys need them. ``hint`` is True for allowed-traffic hints, which are not calls.
    """

    caller: str
    callee: str
    port: int | None = None
    target_ports: tuple[int, ...] = ()
    protocol: str = "tcp"
    evidence: tuple[Evidence, ...] = ()
    origin: Origin = Origin.INFERRED
    observed: ObservedStats | None = None
    hint: bool = False

    @property
    def key(self) -> str:
        """``caller -> callee:port``, the form ``--explain`` takes (:func:`edge_key`)."""
        return edge_key(self.caller, self.callee, self.port)


def edge_key(caller: str, callee: str, port: int | None) -> str:
    """The key of the call from ``caller`` to the Service ``callee`` on ``port``:
    ``caller -> callee:port`` (no ``:port`` when it is unknown)."""
    return f"{caller} -> {callee}" + (f":{port}" if port is not None else "")


@value_class
class CoverageGap:
    """A place the graph may be blind: a workload with no edges, or addresses hidden in a
    Secret."""

    workload: str
    reason: str


@value_class(order=True)
class Dangling:
    """An address naming a Service that is not in the input: a missing dependency, or an
    external name. ``source`` is where it was read (``Deployment shop/cart env CART_ADDR``)."""

    workload: str
    source: str
    text: str
    host: str


@value_class
class ManifestCoverage:
    """How much of the application the manifests can show. ``applications`` counts the
    workloads expected to call something (not system, mesh, ingress or monitoring
    infrastructure, datastores or exporters); ``blind`` are those of them with no outbound call
    found: their calls are hard-coded, discovered at run time or hidden in a Secret, and only
    observed traffic can show them."""

    applications: int = 0
    blind: tuple[str, ...] = ()
    dangling: tuple[Dangling, ...] = ()

    @property
    def share(self) -> float | None:
        """Of the application workloads, the share with at least one outbound call found
        (None without any)."""
        if not self.applications:
            return None
        return round((self.applications - len(self.blind)) / self.applications, 2)


@value_class
class CallGraph:
    """Nodes, call edges, hint edges and coverage gaps, all sorted. Views are cached."""

    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    hints: tuple[Edge, ...] = ()
    coverage: tuple[CoverageGap, ...] = ()
    #: Service node id -> workload node ids it selects (a Service is served by these).
    backends: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: What the manifests could show of the application's calls (blind workloads, dangling
    #: addresses); built from the manifests alone, kept as is when traffic is merged.
    manifest_coverage: ManifestCoverage = field(default_factory=ManifestCoverage)

    @cached_property
    def node_index(self) -> dict[str, Node]:
        """Nodes by id."""
        return {n.id: n for n in self.nodes}

    @cached_property
    def has_observed(self) -> bool:
        """True when observed traffic was merged in (some edge carries observed stats)."""
        return any(e.observed is not None for e in self.edges)

    @cached_property
    def inbound(self) -> dict[str, tuple[Edge, ...]]:
        """Call edges by callee Service id."""
        grouped: dict[str, list[Edge]] = defaultdict(list)
        for e in self.edges:
            grouped[e.callee].append(e)
        return {k: tuple(v) for k, v in grouped.items()}

    @cached_property
    def outbound(self) -> dict[str, tuple[Edge, ...]]:
        """Call edges by caller id."""
        grouped: dict[str, list[Edge]] = defaultdict(list)
        for e in self.edges:
            grouped[e.caller].append(e)
        return {k: tuple(v) for k, v in grouped.items()}

    @cached_property
    def workloads_named(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """Workload node ids by (namespace, name), sorted: kinds may share a name."""
        grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
        for n in self.nodes:
            if n.kind is NodeKind.WORKLOAD:
                grouped[(n.namespace, n.name)].append(n.id)
        return {k: tuple(sorted(v)) for k, v in grouped.items()}

    def namespace_of(self, node_id: str) -> str:
        """The namespace of a node; ``""`` for callers outside the cluster's namespaces."""
        return self._namespace_by_id.get(node_id, "")

    @cached_property
    def _namespace_by_id(self) -> dict[str, str]:
        # The views below look up both ends of every edge (10^5 look-ups on a 10,000-service
        # cluster): a plain dictionary, not a method call through the node, per look-up.
        return {n.id: n.namespace for n in self.nodes}

    @cached_property
    def _edges_by_callee_namespace(self) -> dict[str, tuple[Edge, ...]]:
        namespace_by_id = self._namespace_by_id
        grouped: dict[str, list[Edge]] = defaultdict(list)
        for e in self.edges:
            grouped[namespace_by_id.get(e.callee, "")].append(e)
        return {k: tuple(v) for k, v in grouped.items()}

    def edges_into_namespace(self, namespace: str) -> tuple[Edge, ...]:
        """Call edges whose callee Service is in ``namespace``."""
        return self._edges_by_callee_namespace.get(namespace, ())

    def to_networkx(self) -> nx.MultiDiGraph:
        """The call graph as a networkx multigraph; Services point to their backends with
        ``kind="serves"`` edges so reachability follows calls through Services."""
        import networkx as nx  # only this export needs it: ~0.12 s of import

        g = nx.MultiDiGraph()
        for n in self.nodes:
            g.add_node(n.id, kind=n.kind.value, namespace=n.namespace, meshed=n.meshed)
        for e in self.edges:
            g.add_edge(e.caller, e.callee, key=e.port, kind="calls", protocol=e.protocol)
        for svc, workloads in self.backends.items():
            for w in workloads:
                g.add_edge(svc, w, kind="serves")
        return g

    @cached_property
    def namespace_graph(self) -> NamespaceGraph:
        """The call graph collapsed to namespaces: an edge ``a -> b`` counts the call edges
        from a caller in ``a`` to a Service in ``b``. Callers outside the namespaces (ingress,
        API server...) are nodes of their own id."""
        external = NodeKind.EXTERNAL  # an enum member costs a look-up on its class per use
        nodes = {n.namespace for n in self.nodes if n.kind is not external and n.namespace}
        namespace_by_id = self._namespace_by_id
        counts = Counter((namespace_by_id.get(e.caller) or e.caller, callee_namespace)
                         for e in self.edges
                         if (callee_namespace := namespace_by_id.get(e.callee)))
        for a, b in counts:
            nodes.update((a, b))
        return NamespaceGraph(tuple(sorted(nodes)), dict(sorted(counts.items())))

    def strongly_connected_namespaces(self) -> list[tuple[str, ...]]:
        """Groups of namespaces that call each other in a cycle (size > 1), sorted."""
        return list(self.namespace_graph.cycles)

    def entry_points(self) -> tuple[Edge, ...]:
        """Edges from callers outside the cluster (ingress, internet, API server)."""
        index, external = self.node_index, NodeKind.EXTERNAL  # looked up once, not per edge
        return tuple(e for e in self.edges if e.caller not in index
                     or index[e.caller].kind is external)

    def inbound_callers(self, namespace: str) -> dict[str, tuple[str, ...]]:
        """Callers of Services in ``namespace`` that STRICT there affects, grouped as ``meshed``
        and ``not_meshed`` (caller ids, sorted): every caller from another namespace or outside,
        and callers inside the namespace that are not meshed."""
        meshed: set[str] = set()
        not_meshed: set[str] = set()
        for e in self.edges_into_namespace(namespace):
            node = self.node_index.get(e.caller)
            if node is not None and node.namespace == namespace and node.meshed:
                continue
            (meshed if node is not None and node.meshed else not_meshed).add(e.caller)
        return {"meshed": tuple(sorted(meshed)), "not_meshed": tuple(sorted(not_meshed))}

    @cached_property
    def _callers_of(self) -> dict[str, set[str]]:
        reverse: dict[str, set[str]] = defaultdict(set)
        for e in self.edges:
            reverse[e.callee].add(e.caller)
        return reverse

    @cached_property
    def _served_by(self) -> dict[str, set[str]]:
        served_by: dict[str, set[str]] = defaultdict(set)
        for svc, workloads in self.backends.items():
            for w in workloads:
                served_by[w].add(svc)
        return served_by

    @cached_property
    def _services_by_namespace(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = defaultdict(list)
        service = NodeKind.SERVICE  # looked up once, not per node
        for n in self.nodes:
            if n.kind is service:
                grouped[n.namespace].append(n.id)
        return grouped

    def dependents(self, namespace: str) -> set[str]:
        """Workload ids that transitively depend on a Service in ``namespace`` (blast radius):
        callers of its Services, callers of the Services those callers serve, and so on."""
        bit = self._namespace_bits.get(namespace)
        if bit is None:
            return set()
        return {w for w, deps in self._dependencies.items() if deps & bit}

    def blast_radius(self) -> dict[str, int]:
        """For every namespace with Services, how many workloads depend on it transitively
        (``len(dependents(ns))`` for all namespaces in one pass over the graph)."""
        # A bit-sliced counter: planes[j] holds bit j of every namespace's count, so adding a
        # workload's whole dependency set is a carry over a few integers, and the work does not
        # grow with how many namespaces each workload depends on.
        planes: list[int] = []
        for deps in self._dependencies.values():
            carry, j = deps, 0
            while carry:
                if j == len(planes):
                    planes.append(0)
                planes[j], carry = planes[j] ^ carry, planes[j] & carry
                j += 1
        return {ns: sum(((plane & bit) != 0) << j for j, plane in enumerate(planes))
                for ns, bit in self._namespace_bits.items()}

    @cached_property
    def _namespace_bits(self) -> dict[str, int]:
        return {ns: 1 << i for i, ns in enumerate(sorted(self._services_by_namespace))}

    @cached_property
    def _dependencies(self) -> dict[str, int]:
        """Workload id -> the namespaces it depends on transitively, as a bitset over
        ``_namespace_bits``. One pass: a caller depends on the namespaces of the Services it
        calls and on everything their backends depend on, so dependencies flow backwards over
        the strongly connected components of caller -> backend, sinks first (Tarjan's order)."""
        ns_bits = self._namespace_bits
        service_bit = {s: ns_bits[ns] for ns, services in self._services_by_namespace.items()
                       for s in services}
        direct: dict[str, int] = defaultdict(int)
        successors: dict[str, set[str]] = defaultdict(set)
        for e in self.edges:
            direct[e.caller] |= service_bit.get(e.callee, 0)
            successors[e.caller].update(self.backends.get(e.callee, ()))
        deps: dict[str, int] = {}
        for component in components_sinks_first(successors):
            acc = 0
            for node in component:
                acc |= direct.get(node, 0)
                for succ in successors.get(node, ()):
                    acc |= deps.get(succ, 0)
            for node in component:
                deps[node] = acc
        index, workload = self.node_index, NodeKind.WORKLOAD  # looked up once, not per node
        return {n: d for n, d in deps.items() if n in index and index[n].kind is workload}

    def edge(self, key: str) -> Edge | None:
        """Look an edge up by its ``key`` (``caller -> callee:port``)."""
        for e in self.edges:
            if e.key == key:
                return e
        return None


@value_class
class NamespaceGraph:
    """The call graph collapsed to namespaces (:attr:`CallGraph.namespace_graph`): nodes
    sorted, and for each edge ``(caller namespace, callee namespace)`` how many call edges it
    stands for, sorted by its ends."""

    nodes: tuple[str, ...]
    counts: Mapping[tuple[str, str], int]

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    @cached_property
    def _nodes(self) -> frozenset[str]:
        return frozenset(self.nodes)

    @cached_property
    def _successors(self) -> dict[str, tuple[str, ...]]:
        grouped: dict[str, list[str]] = defaultdict(list)
        for a, b in self.counts:
            grouped[a].append(b)
        return {a: tuple(bs) for a, bs in grouped.items()}

    @cached_property
    def _predecessors(self) -> dict[str, tuple[str, ...]]:
        grouped: dict[str, list[str]] = defaultdict(list)
        for a, b in self.counts:
            grouped[b].append(a)
        return {b: tuple(sorted(as_)) for b, as_ in grouped.items()}

    @property
    def successors_of(self) -> Mapping[str, tuple[str, ...]]:
        """Node -> the nodes it calls (sorted); nodes that call nothing are absent."""
        return self._successors

    def edges(self) -> list[tuple[str, str, int]]:
        """``(from, to, calls)`` for every edge, sorted."""
        return [(a, b, n) for (a, b), n in self.counts.items()]

    def successors(self, node: str) -> tuple[str, ...]:
        """The nodes ``node`` calls, sorted (itself included when it calls itself)."""
        return self._successors.get(node, ())

    def predecessors(self, node: str) -> tuple[str, ...]:
        """The nodes calling ``node``, sorted (itself included when it calls itself)."""
        return self._predecessors.get(node, ())

    def count(self, caller: str, callee: str) -> int:
        """How many call edges go from ``caller`` to ``callee`` (0: none)."""
        return self.counts.get((caller, callee), 0)

    @cached_property
    def cycles(self) -> list[tuple[str, ...]]:
        """Groups of nodes that call each other in a cycle (size > 1), each sorted, sorted."""
        return sorted(tuple(sorted(c)) for c in components_sinks_first(self._successors)
                      if len(c) > 1)


def merge_evidence(evidence: Iterable[Evidence]) -> tuple[Evidence, ...]:
    """Deduplicated, sorted evidence."""
    return tuple(sorted(set(evidence)))
