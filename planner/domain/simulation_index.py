"""What every what-if simulation on one inventory and call graph reads, worked out once.

A plan simulates each namespace going STRICT twice (its port exceptions under the plan's
enrollment, its step's what-if under the scan's), then the mesh-wide step over every
workload; a gate run simulates each STRICT step again. The calls into a workload, the container
ports they reach, their evidence and the DestinationRules of a namespace are the same in all of
these simulations: the index resolves each when first asked and keeps it for as long as its
owner keeps the index (one plan, one gate run). It reads the inventory and graph it was built
on and nothing else, so a simulation with it says exactly what one without it says.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from planner.domain import policy
from planner.domain.graph import ANY_CALLER, CallGraph, Edge, Evidence
from planner.domain.inventory import Inventory, ObjectRef, PolicyObject, Service, Workload
from planner.domain.membership import backend_ports, container_ports
from planner.domain.value import value_class

#: A namespace's DestinationRules by resolved host: those of one exact host, and the wildcard
#: ones with theirs.
NamespaceHosts = tuple[dict[str, list[PolicyObject]], list[tuple[str, PolicyObject]]]
#: :data:`NamespaceHosts` by (namespace, cluster domain).
RuleHosts = dict[tuple[str, str], NamespaceHosts]


@value_class  # one per call edge and backend: a frozen dataclass's __init__ costs more
class InboundCall:
    """One call into a serving workload: the ``edge``, the ``service`` the caller dialled
    (None: observed straight to the workload), the workload's container ``ports`` it reaches
    (``(None,)`` when unknown: one verdict either way) and the edge's ``evidence`` sorted,
    without repeats."""

    edge: Edge
    service: Service | None
    ports: tuple[int | None, ...]
    evidence: tuple[Evidence, ...]


class SimulationIndex:
    """Per-workload views of ``inventory`` and ``graph`` that :func:`planner.domain.whatif.
    simulate` reads, each built on first use."""

    def __init__(self, inventory: Inventory, graph: CallGraph) -> None:
        self.inventory = inventory
        self.graph = graph
        self._calls: dict[ObjectRef, tuple[InboundCall, ...]] = {}
        self._bound: dict[ObjectRef, frozenset[int]] = {}
        #: The DestinationRules' hosts, resolved per namespace when a call is first judged
        #: there (filled by :func:`planner.domain.whatif.destination_rule_tls`).
        self.rule_hosts: RuleHosts = {}

    @cached_property
    def peer_authentications(self) -> policy.PeerAuthentications:
        """The inventory's PeerAuthentications, laid out once for every simulation to lay its
        changes over (:func:`planner.domain.whatif.policy_set`)."""
        return policy.peer_authentications(self.inventory)

    def serves(self, inventory: Inventory, graph: CallGraph) -> bool:
        """True when the index was built on these very objects (a graph merged with observed
        traffic is another graph)."""
        return inventory is self.inventory and graph is self.graph

    def calls_into(self, workload: Workload) -> tuple[InboundCall, ...]:
        """Calls into ``workload``: through each Service that selects it, and, observed only,
        straight to it (a source that named no Service the input has:
        :data:`~planner.domain.observed.UNNAMED_SERVICE_PREFIX`)."""
        found = self._calls.get(workload.ref)
        if found is None:
            found = self._calls[workload.ref] = tuple(self._calls_into(workload))
        return found

    def _calls_into(self, workload: Workload) -> list[InboundCall]:
        inbound = self.graph.inbound
        calls: list[InboundCall] = []
        for service in self.inventory.services_of.get(workload.ref, ()):
            # Callers of one Service port reach the same container ports: resolved once.
            on_port: dict[int, tuple[int, ...]] = {}
            for edge in inbound.get(service.ref.key, ()):
                if edge.caller == ANY_CALLER:
                    continue
                known = on_port.get(edge.port) if edge.port is not None else None
                if known is None:
                    known = backend_ports(self.inventory, service, edge, workload)
                    if edge.port is not None:
                        on_port[edge.port] = known
                calls.append(_call(edge, service, known))
        if self.graph.has_observed:  # only observed traffic names no Service
            # Imported here: observed traffic's model (and the traffic module under it) is
            # ~3 ms of import that a plan from manifests alone never needs.
            from planner.domain.observed import UNNAMED_SERVICE_PREFIX

            unnamed = f"{UNNAMED_SERVICE_PREFIX}{workload.namespace}/{workload.name}"
            calls.extend(_call(edge, None, backend_ports(self.inventory, None, edge, workload))
                         for edge in inbound.get(unnamed, ()))
        return calls

    def bound_ports(self, workload: Workload) -> frozenset[int]:
        """Container ports of ``workload`` behind some Service that selects it: the only ones
        ``portLevelMtls`` applies to, and the ones peers reach through a Service port
        (MESH-NOTES §1, §7.3)."""
        found = self._bound.get(workload.ref)
        if found is None:
            found = self._bound[workload.ref] = frozenset(
                p for s in self.inventory.services_of.get(workload.ref, ())
                for p in container_ports(self.inventory, s, None, workload))
        return found

    @cached_property
    def destination_rules(self) -> Mapping[str, tuple[PolicyObject, ...]]:
        """:func:`destination_rules_by_namespace` of the inventory."""
        return destination_rules_by_namespace(self.inventory)


def _call(edge: Edge, service: Service | None, ports: tuple[int, ...]) -> InboundCall:
    evidence = edge.evidence
    return InboundCall(edge, service, ports or (None,),
                       evidence if len(evidence) < 2 else tuple(sorted(set(evidence))))


def destination_rules_by_namespace(inventory: Inventory) -> dict[str, tuple[PolicyObject, ...]]:
    """The inventory's DestinationRules by namespace, in its order."""
    found: dict[str, list[PolicyObject]] = {}
    for rule in inventory.istio_of_kind(policy.DESTINATION_RULE):
        found.setdefault(rule.ref.namespace, []).append(rule)
    return {ns: tuple(rules) for ns, rules in found.items()}
