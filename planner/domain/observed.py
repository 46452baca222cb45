"""What the mesh saw, laid over what the manifests say: merged edges and per-namespace mTLS
status.

Pure functions over a :class:`~planner.domain.graph.CallGraph` and a
:class:`~planner.domain.traffic.TrafficSnapshot` (``docs/traffic.md`` has the rules in words):

* :func:`merge_observed` marks each call edge ``inferred``, ``observed`` or ``both`` and gives it
  :class:`~planner.domain.graph.ObservedStats`;
* :func:`namespace_traffic` says per namespace what arrived, how much was mutual TLS, who sent
  plaintext, and where the static graph and the telemetry disagree.

The STRICT steps' gates on the snapshot are :mod:`planner.domain.gates`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Final

from planner.domain.graph import (
    KUBELET,
    CallGraph,
    Edge,
    Evidence,
    Node,
    NodeKind,
    ObservedStats,
    Origin,
    merge_evidence,
)
from planner.domain.inventory import Inventory, ObjectRef, Workload
from planner.domain.traffic import (
    IP_NAMED_POD,
    POD_VIAS,
    UNKNOWN,
    GateResult,
    ObservedEdge,
    PodMapping,
    SeenPod,
    Status,
    TrafficSnapshot,
    count_text,
    merge_edges,
    namespace_mtls_status,
    plaintext_gate,
)
from planner.domain.value import value_class

UNKNOWN_CALLER_PREFIX: Final = "external:unknown@"
"""Node id prefix of a caller Istio could not name, followed by the namespace it called into:
all we know of a sidecar-less caller is where it sent traffic."""

OBSERVED_PREFIX: Final = "observed:"
"""Node id prefix (``observed:<ns>/<workload>``) of a named caller with no workload in the
input: the telemetry knows it, the manifests do not (a partial input, or a deleted workload)."""

WORKLOAD_KINDS: Final[tuple[str, ...]] = (
    "Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "ReplicaSet", "Pod")
"""Kinds tried, in this order, for Istio's ``source_workload`` (the name of the pod's top
owner; a CronJob's Jobs report the CronJob's name). The order decides ties when two kinds share
a name; kinds not listed come after, by name."""

UNNAMED_SERVICE_PREFIX: Final = "unnamed-service:"
"""Node id prefix (``unnamed-service:<ns>/<workload>``) of a destination reached without a
Service name the input can confirm: the workload is known, the Service is not invented."""

EGRESS_PREFIX: Final = "external:egress/"
"""Node id prefix of an egress destination (``PassthroughCluster``, an unresolved host):
traffic leaving the cluster's registry, never a namespace."""

TELEMETRY: Final = "telemetry"
"""Evidence kind of an observation."""

# ---------------------------------------------------------------------------------------------
# Mapping observed rows to graph ids


def caller_id(graph: CallGraph, edge: ObservedEdge) -> str:
    """The graph node id of an observed caller.

    ``unknown`` callers (no sidecar) become ``external:unknown@<destination namespace>``;
    named callers the workload node of that namespace and name (kinds in
    :data:`WORKLOAD_KINDS` order), else ``observed:<ns>/<name>``.
    """
    if edge.unknown_caller:
        return UNKNOWN_CALLER_PREFIX + edge.destination_namespace
    found = _workloads_by_name(graph).get((edge.source_namespace, edge.source_workload))
    return found or f"{OBSERVED_PREFIX}{edge.source_namespace}/{edge.source_workload}"


def service_id(edge: ObservedEdge) -> str:
    """The Service node id an observed edge called (``Service/<ns>/<name>``), or
    ``external:egress/<host>`` for egress (a host outside the cluster's registry)."""
    if edge.is_egress:
        return EGRESS_PREFIX + edge.destination_service
    return f"Service/{edge.destination_namespace}/{edge.destination_service}"


def callee_id(graph: CallGraph, edge: ObservedEdge) -> str:
    """The graph node an observed edge called: :func:`service_id`, except when the source
    named no Service (Linkerd, a Kiali workload without ``destServices``, Hubble without the
    inventory): then the one Service of the input whose backends hold the destination
    workload, else ``unnamed-service:<ns>/<workload>`` (never a Service named after it)."""
    if edge.destination_service != UNKNOWN or edge.is_egress:
        return service_id(edge)
    workload = _workloads_by_name(graph).get((edge.destination_namespace,
                                               edge.destination_workload))
    services = sorted(svc for svc, backends in graph.backends.items()
                      if workload is not None and workload in backends)
    if len(services) == 1:
        return services[0]
    return f"{UNNAMED_SERVICE_PREFIX}{edge.destination_namespace}/{edge.destination_workload}"


def _workloads_by_name(graph: CallGraph) -> _ByName:
    """(namespace, name) -> workload node id, the first kind in WORKLOAD_KINDS order winning."""
    return _ByName(graph.workloads_named)


_RANK: Final = {kind: i for i, kind in enumerate(WORKLOAD_KINDS)}


@value_class
class _ByName:
    """The workload node of a (namespace, name), by the kind order of WORKLOAD_KINDS (ties
    by id): a view of the graph's cached index, so a lookup costs no walk of the nodes."""

    named: Mapping[tuple[str, str], tuple[str, ...]]

    def get(self, key: tuple[str, str]) -> str | None:
        ids = self.named.get(key)
        if not ids:
            return None
        return min(ids, key=lambda node_id: (_RANK.get(node_id.split("/", 1)[0], len(_RANK)),
                                             node_id))


def _is_http(protocol: str) -> bool:
    """Istio counts HTTP, HTTP/2 and gRPC in istio_requests_total and the rest as TCP."""
    return protocol in ("http", "grpc")


# ---------------------------------------------------------------------------------------------
# Pods named by the source (Hubble) -> workloads and Services of the inventory


def resolve_pods(snapshot: TrafficSnapshot, inventory: Inventory) -> TrafficSnapshot:
    """``snapshot`` with the pods it names (``snapshot.pods``, Hubble without ``workloads``)
    mapped to the workloads of ``inventory``, and the Services that select them filled in
    where the source named none; ``pod_mappings`` says per pod which way it was mapped (or
    why not) and a note sums it up. Ways, most certain first (:data:`POD_VIAS`):

    1. ``owner-references``: the input holds the Pod (a live scan, a pods dump); its
       ownerReferences name the workload it counts toward;
    2. ``pod-ip``: a peer shown by IP only, and exactly one running Pod of the input holds
       that IP. When the input has Pods in that namespace and none holds the IP (a node's
       address, a pod gone), the peer stays unmapped: its labels prove nothing then;
    3. ``pod-name``: the name follows the naming of a controller of the input
       (``<deployment>-<hash>-<id>``, ``<statefulset>-<n>``, ``<daemonset>-<id>``,
       ``<cronjob>-<minute>-<id>`` ...) and the pod's labels, when shown, carry that
       controller's selector;
    4. ``labels``: the pod's labels carry the pod template labels of a workload of its
       namespace (the one whose name prefixes the pod name wins a tie).

    A pod mapped no way keeps its name. Edges that now coincide are merged."""
    if not snapshot.pods:
        return snapshot
    counts: dict[tuple[str, str], float] = defaultdict(float)
    for e in snapshot.edges:
        counts[(e.source_namespace, e.source_workload)] += e.total
        counts[(e.destination_namespace, e.destination_workload)] += e.total
    finder = _PodFinder(inventory)
    owners: dict[tuple[str, str], Workload] = {}
    mappings = []
    for seen in snapshot.pods:
        owner, via, reason = finder.owner(seen)
        if owner is not None:
            owners[(seen.namespace, seen.name)] = owner
        mappings.append(PodMapping(seen.namespace, seen.name,
                                   owner.ref.key if owner is not None else "", via,
                                   round(counts[(seen.namespace, seen.name)], 9), reason))
    edges = []
    for e in snapshot.edges:
        src = owners.get((e.source_namespace, e.source_workload))
        dst = owners.get((e.destination_namespace, e.destination_workload))
        service = e.destination_service
        if dst is not None and service == UNKNOWN:
            names = sorted({svc.name for svc in inventory.services_of.get(dst.ref, ())})
            service = names[0] if len(names) == 1 else UNKNOWN
        edges.append(replace(
            e, source_workload=src.name if src else e.source_workload,
            destination_workload=dst.name if dst else e.destination_workload,
            destination_service=service))
    return replace(snapshot, edges=merge_edges(edges), pod_mappings=tuple(mappings),
                   notes=(*snapshot.notes, _pods_note(mappings)))


_UNMAPPED_SHOWN: Final = 5
# generateName's random suffix, and a ReplicaSet's pod-template-hash (a safe-encoded number;
# decimal in old clusters).
_POD_ID: Final = "[a-z0-9]{5}"
_TEMPLATE_HASH: Final = "[a-z0-9]{1,10}"
#: How each controller names its pods: the part after ``<controller name>-``, and the kinds
#: that name them so (a bare Pod is its own name).
_POD_NAMING: Final[tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]] = (
    (re.compile(f"-{_TEMPLATE_HASH}-{_POD_ID}$"), ("Deployment", "Rollout")),
    (re.compile(f"-[0-9]+-{_POD_ID}$"), ("CronJob",)),
    (re.compile(f"-{_POD_ID}$"), ("DaemonSet", "ReplicaSet", "ReplicationController", "Job")),
    (re.compile("-[0-9]+$"), ("StatefulSet",)),
)


class _PodFinder:
    """Looks seen pods up in the inventory (see :func:`resolve_pods` for the ways)."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        index = inventory.workload_index
        self.by_name = {(p.ref.namespace, p.ref.name): index[p.workload]
                        for p in inventory.pods if p.workload in index}
        holders: dict[str, set[tuple[str, ObjectRef]]] = defaultdict(set)
        for p in inventory.pods:
            for ip in p.ips:
                holders[ip].add((p.ref.namespace, p.workload))
        self.by_ip = holders
        self.with_pods = {p.ref.namespace for p in inventory.pods}

    def owner(self, seen: SeenPod) -> tuple[Workload | None, str, str]:
        """(workload, way, "") or (None, "", why not)."""
        index = self.inventory.workload_index
        by_ip = seen.name.startswith(IP_NAMED_POD)
        if not by_ip and (seen.namespace, seen.name) in self.by_name:
            return self.by_name[(seen.namespace, seen.name)], "owner-references", ""
        if by_ip:
            holders = self.by_ip.get(seen.ip, set())
            if len(holders) == 1:
                namespace, ref = next(iter(holders))
                if namespace == seen.namespace and ref in index:
                    return index[ref], "pod-ip", ""
                return None, "", f"the input's Pod with this IP is in namespace {namespace}"
            if len(holders) > 1:
                return None, "", f"{len(holders)} workloads' Pods of the input hold this IP"
            if seen.namespace in self.with_pods:
                return None, "", ("no Pod of the input holds this IP (a node's address, or a "
                                  "pod gone)")
        labels = _label_map(seen.labels)
        named = None if by_ip else self._named_after(seen.namespace, seen.name, labels)
        if named is not None:
            return named, "pod-name", ""
        owner = _pod_owner(seen.namespace, seen.name, labels, self.inventory)
        if owner is not None:
            return owner, "labels", ""
        if seen.namespace not in self.inventory.namespace_index:
            return None, "", "the input has nothing in this namespace"
        return None, "", "no workload of the input matches its name or labels"

    def _named_after(self, namespace: str, pod: str,
                     labels: Mapping[str, str]) -> Workload | None:
        """The workload whose pod naming ``pod`` follows, the longest name first, and whose
        selector the pod's labels carry (when the source showed labels)."""
        index = self.inventory.workload_index
        found = []
        if (bare := index.get(ObjectRef("Pod", namespace, pod))) is not None:
            found.append(bare)
        for pattern, kinds in _POD_NAMING:
            if (match := pattern.search(pod)) is None:
                continue
            for kind in kinds:
                w = index.get(ObjectRef(kind, namespace, pod[:match.start()]))
                if w is not None and (not labels or all(
                        labels.get(k) == v for k, v in w.selector.items())):
                    found.append(w)
        return max(found, key=lambda w: len(w.name)) if found else None


def _label_map(labels: Iterable[str]) -> dict[str, str]:
    return dict(label.split("=", 1) for label in labels if "=" in label)


def _pod_owner(namespace: str, pod: str, labels: Mapping[str, str],
               inventory: Inventory) -> Workload | None:
    if not labels:
        return None
    candidates = [w for w in inventory.workloads_by_namespace.get(namespace, ())
                  if w.pod_labels and all(labels.get(k) == v for k, v in w.pod_labels.items())]
    if not candidates:
        return None
    # Owners name their pods: Deployment name-<hash>-<id>, StatefulSet name-<n>, Job name-<id>.
    return max(candidates, key=lambda w: (pod.startswith(w.name + "-"), len(w.pod_labels),
                                          w.name))


def _pods_note(mappings: Iterable[PodMapping]) -> str:
    """``11 pod(s) named by the source: 9 mapped to their workloads through the scanned
    inventory (6 by owner references, ...); 2 unmapped keep their names: ns/pod (3), ...``"""
    mappings = list(mappings)
    ways = Counter(m.via for m in mappings if m.via)
    unmapped = sorted((m for m in mappings if not m.via), key=lambda m: (-m.count, m.pod))
    text = (f"{len(mappings)} pod(s) named by the source: {sum(ways.values())} mapped to "
            "their workloads through the scanned inventory")
    if ways:
        text += " (" + ", ".join(f"{ways[via]} by {via.replace('-', ' ')}"
                                 for via in POD_VIAS if ways[via]) + ")"
    if unmapped:
        shown = ", ".join(f"{m.namespace}/{m.pod} ({count_text(m.count)})"
                          for m in unmapped[:_UNMAPPED_SHOWN])
        more = len(unmapped) - _UNMAPPED_SHOWN
        text += (f"; {len(unmapped)} unmapped keep their names: {shown}"
                 + (f" and {more} more" if more > 0 else ""))
    return text


# ---------------------------------------------------------------------------------------------
# Merging


def merge_observed(graph: CallGraph, snapshot: TrafficSnapshot) -> CallGraph:
    """``graph`` with the snapshot's edges merged in.

    An observed (caller, Service) pair that the manifests predicted marks those edges ``both``
    (every predicted port, preferring ports whose protocol family matches, since telemetry
    carries no Service port) and adds ``telemetry`` evidence; one they did not predict becomes
    an ``observed`` edge without a port. Edges that counted nothing in the window are not
    observations and are skipped. Inferred edges never seen keep ``origin=inferred`` and
    ``observed=None``. Callers and Services missing from the graph get nodes of their own.
    """
    where = f"{snapshot.source} window {snapshot.window}"
    groups: dict[tuple[str, str], list[ObservedEdge]] = defaultdict(list)
    for obs in snapshot.edges:
        if obs.total > 0:
            groups[(caller_id(graph, obs), callee_id(graph, obs))].append(obs)
    index = graph.node_index
    new_nodes: dict[str, Node] = {}
    by_pair: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for e in graph.edges:
        by_pair[(e.caller, e.callee)].append(e)
    updated: dict[int, Edge] = {}
    added: list[Edge] = []
    for (caller, callee), observations in sorted(groups.items()):
        for node_id, node in ((caller, _caller_node(caller, observations[0])),
                              (callee, _service_node(callee, observations[0]))):
            if node_id not in index:
                new_nodes.setdefault(node_id, node)
        stats = observed_stats(observations)
        evidence = tuple(_evidence(obs, where) for obs in observations)
        http = any(not obs.connections for obs in observations)
        predicted = by_pair.get((caller, callee), [])
        matching = [e for e in predicted if _is_http(e.protocol) == http] or predicted
        for e in matching:
            updated[id(e)] = replace(e, origin=Origin.BOTH, observed=stats,
                                     evidence=merge_evidence((*e.evidence, *evidence)))
        if not predicted:
            protocol = "http" if http else observations[0].protocol
            added.append(Edge(caller, callee, None, (), protocol,
                              merge_evidence(evidence), Origin.OBSERVED, stats))
    edges = [updated.get(id(e), e) for e in graph.edges] + added
    return CallGraph(
        nodes=tuple(sorted((*graph.nodes, *new_nodes.values()), key=lambda n: n.id)),
        edges=tuple(sorted(edges, key=lambda e: (e.caller, e.callee,
                                                 -1 if e.port is None else e.port))),
        hints=graph.hints, coverage=graph.coverage, backends=graph.backends,
        manifest_coverage=graph.manifest_coverage)


def observed_stats(observations: Iterable[ObservedEdge]) -> ObservedStats:
    """Requests (HTTP), connections (TCP) and the mTLS share of the traffic whose security is
    known (``tls_unknown`` left out); the share is None when none of it is known."""
    requests = connections = mtls = unknown = 0.0
    for obs in observations:
        if obs.connections:
            connections += obs.total
        else:
            requests += obs.total
        mtls += obs.mtls
        unknown += obs.tls_unknown
    known = requests + connections - unknown
    share = min(max(mtls / known, 0.0), 1.0) if known > 0 else None
    return ObservedStats(requests, connections, share)


def _evidence(obs: ObservedEdge, where: str) -> Evidence:
    unit = "connections" if obs.connections else "requests"
    text = (f"{obs.protocol}: {count_text(obs.total, at_least=obs.at_least)} {unit}, "
            f"{count_text(obs.mtls)} mutual TLS")
    if obs.tls_unknown:
        text += f", {count_text(obs.tls_unknown)} of unknown security"
    text += f"; evidence {obs.evidence}"
    return Evidence(TELEMETRY, where, f"{text} (to workload {obs.destination_workload})")


def _caller_node(node_id: str, obs: ObservedEdge) -> Node:
    if node_id.startswith(UNKNOWN_CALLER_PREFIX):
        return Node(node_id, NodeKind.EXTERNAL, "", node_id, False,
                    "a caller Istio could not name (no sidecar, so no metadata exchange); "
                    "find it by source IP in access logs or Hubble")
    # Istio only names callers whose sidecar exchanged metadata: the caller is meshed.
    return Node(node_id, NodeKind.WORKLOAD, obs.source_namespace, obs.source_workload, True,
                "seen in telemetry with a sidecar; no such workload in the input")


def _service_node(node_id: str, obs: ObservedEdge) -> Node:
    if obs.is_egress:
        return Node(node_id, NodeKind.EXTERNAL, "", obs.destination_service, False,
                    "egress: a host outside the cluster's service registry")
    if node_id.startswith(UNNAMED_SERVICE_PREFIX):
        return Node(node_id, NodeKind.SERVICE, obs.destination_namespace,
                    obs.destination_workload, True, "reached in telemetry; the source named "
                    "no Service and the input has none for this workload")
    return Node(node_id, NodeKind.SERVICE, obs.destination_namespace,
                obs.destination_service, True,
                "seen in telemetry (reported by its sidecar); no such Service in the input")


# ---------------------------------------------------------------------------------------------
# Per namespace


@value_class
class PlaintextCaller:
    """A caller that sent plaintext to a Service in the window.

    ``suspects`` (for an unnamed caller only) are the callers the manifests predict for that
    Service that are outside the mesh: the likely owners of the plaintext, kubelet excepted.
    """

    caller: str
    service: str
    protocol: str
    plaintext: float
    total: float
    suspects: tuple[str, ...] = ()


@value_class
class NamespaceTraffic:
    """What arrived in one namespace over the window.

    ``status`` is ``no-data`` both when the namespace has no series (``has_series`` False) and
    when its series counted nothing. ``*_unknown`` are the requests and connections whose
    security the source could not see (part of ``requests`` and ``connections``).
    ``unpredicted`` are keys of observed edges the manifests did not predict (the static graph
    is blind there); ``unobserved`` keys of inferred edges the telemetry never saw (dead
    config, rare callers, or callers outside the mesh that show up as ``unknown``). Kubelet
    probes are not listed: Istio rewrites them to pilot-agent, so they are never in its
    metrics.
    """

    namespace: str
    status: Status
    has_series: bool
    requests: float
    requests_mtls: float
    connections: float
    connections_mtls: float
    requests_unknown: float
    connections_unknown: float
    gate: GateResult
    plaintext_callers: tuple[PlaintextCaller, ...]
    unpredicted: tuple[str, ...]
    unobserved: tuple[str, ...]

    @property
    def tls_unknown(self) -> float:
        """Requests plus connections whose security the source could not see."""
        return self.requests_unknown + self.connections_unknown


def namespace_traffic(graph: CallGraph, snapshot: TrafficSnapshot) -> tuple[NamespaceTraffic, ...]:
    """One entry per namespace that has Services in ``graph`` or series in ``snapshot``, sorted.

    ``graph`` is the merged graph (:func:`merge_observed`); a graph that was not merged shows
    no ``unpredicted`` edges and every inferred edge as ``unobserved``.
    """
    status = namespace_mtls_status(snapshot)
    namespaces = sorted({n.namespace for n in graph.nodes if n.kind is NodeKind.SERVICE
                         and n.namespace} | set(status))
    result = []
    for ns in namespaces:
        into = graph.edges_into_namespace(ns)
        mtls = status.get(ns)
        result.append(NamespaceTraffic(
            namespace=ns,
            status=mtls.status if mtls is not None else "no-data",
            has_series=mtls is not None,
            requests=mtls.requests if mtls else 0.0,
            requests_mtls=mtls.requests_mtls if mtls else 0.0,
            connections=mtls.connections if mtls else 0.0,
            connections_mtls=mtls.connections_mtls if mtls else 0.0,
            requests_unknown=mtls.requests_unknown if mtls else 0.0,
            connections_unknown=mtls.connections_unknown if mtls else 0.0,
            gate=plaintext_gate(snapshot, ns),
            plaintext_callers=plaintext_callers_of(graph, snapshot, ns),
            unpredicted=tuple(e.key for e in into if e.origin is Origin.OBSERVED),
            unobserved=tuple(e.key for e in into
                             if e.origin is Origin.INFERRED and e.caller != KUBELET),
        ))
    return tuple(result)


def plaintext_callers_of(graph: CallGraph, snapshot: TrafficSnapshot,
                         namespace: str) -> tuple[PlaintextCaller, ...]:
    """Callers that sent plaintext into ``namespace``, biggest plaintext first, as graph ids."""
    found = []
    for obs in snapshot.edges:
        if obs.destination_namespace != namespace or obs.plaintext <= 0:
            continue
        service = callee_id(graph, obs)
        suspects: tuple[str, ...] = ()
        if obs.unknown_caller:
            index = graph.node_index
            suspects = tuple(sorted({
                e.caller for e in graph.inbound.get(service, ())
                if e.origin is Origin.INFERRED and e.caller != KUBELET
                and not (e.caller in index and index[e.caller].meshed)}))
        found.append(PlaintextCaller(caller_id(graph, obs), service, obs.protocol,
                                     obs.plaintext, obs.total, suspects))
    return tuple(sorted(found, key=lambda c: (-c.plaintext, c.caller, c.service, c.protocol)))
