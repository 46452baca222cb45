"""Plan membership: which namespaces the plan enrolls (and with which data plane), and which
callers end up in the mesh. Shared by the plan builder and the blocker rules, so findings and
plan agree."""

from __future__ import annotations

from collections.abc import Mapping

from planner.domain import policy
from planner.domain.graph import INGRESS_PREFIX, KUBELET, Edge
from planner.domain.inventory import Inventory, ObjectRef, Service, Workload
from planner.domain.plan import NamespaceMode
from planner.domain.roles import GATEWAY_MESHED, is_istio_gateway_caller
from planner.domain.value import value_class

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
MERGE_METRICS_ANNOTATION = "prometheus.istio.io/merge-metrics"
#: pilot-agent's merged metrics port: served in plaintext, never subject to PeerAuthentication.
AGENT_PORT = 15020


@value_class
class Membership:
    """Namespace enrollment decided for the plan. ``modes`` maps every namespace to sidecar,
    ambient or outside; ``reasons`` says why; ``already`` marks labels that enroll it now."""

    modes: Mapping[str, NamespaceMode]
    reasons: Mapping[str, str]
    already: frozenset[str]

    def enrolled(self, namespace: str) -> bool:
        """True when the plan puts (or keeps) the namespace in the mesh."""
        return self.modes.get(namespace, NamespaceMode.OUTSIDE) != NamespaceMode.OUTSIDE


def membership(inventory: Inventory, root_namespace: str,
               dataplane: Mapping[str, str] | None = None,
               why: Mapping[str, str] | None = None) -> Membership:
    """Decide each namespace's enrollment. Existing enrollment labels are kept; the data plane
    chosen for the plan (namespace -> ambient|sidecar, default sidecar) applies to the rest,
    ``why`` saying per namespace how it was chosen."""
    # Grouped once per inventory: a plan decides its membership three times.
    by_ns = inventory.workloads_by_namespace
    modes: dict[str, NamespaceMode] = {}
    reasons: dict[str, str] = {}
    already: set[str] = set()
    for ns in inventory.namespaces:
        name = ns.name
        workloads = by_ns.get(name, ())
        if name == root_namespace:
            modes[name] = NamespaceMode.OUTSIDE
            reasons[name] = "Istio's root namespace (control plane)"
        elif name in SYSTEM_NAMESPACES:
            modes[name], reasons[name] = NamespaceMode.OUTSIDE, "Kubernetes system namespace"
        elif ns.injection == "disabled" or ns.dataplane_mode == "none":
            modes[name] = NamespaceMode.OUTSIDE
            reasons[name] = "opted out by its namespace labels"
        elif ns.enrollment != "none":
            modes[name] = NamespaceMode(ns.enrollment)
            reasons[name] = f"already labelled for {ns.enrollment}"
            already.add(name)
        elif not workloads:
            modes[name], reasons[name] = NamespaceMode.OUTSIDE, "no workloads to enroll"
        elif all(inventory.roles.is_gateway(w) for w in workloads):
            modes[name] = NamespaceMode.OUTSIDE
            reasons[name] = ("holds only Istio gateways ("
                             + policy.join_names(sorted(w.name for w in workloads))
                             + "), proxies of the mesh themselves: nothing to enroll")
        elif roles := sorted({f"{role} {w.name}" for w in workloads
                              if (role := inventory.roles.infrastructure(w)) is not None}):
            modes[name] = NamespaceMode.OUTSIDE
            reasons[name] = ("holds " + policy.join_names(roles)
                             + ", which stays outside the mesh")
        else:
            mode = (dataplane or {}).get(name, NamespaceMode.SIDECAR)
            modes[name] = (NamespaceMode(mode) if mode in (NamespaceMode.SIDECAR,
                                                            NamespaceMode.AMBIENT)
                           else NamespaceMode.SIDECAR)
            reasons[name] = (why or {}).get(name) or f"{modes[name]} (the default data plane)"
    return Membership(modes, reasons, frozenset(already))


def parse_ref(node_id: str) -> ObjectRef | None:
    """The ObjectRef of a ``Kind/namespace/name`` node id; None for other ids."""
    parts = node_id.split("/", 2)
    return ObjectRef(*parts) if len(parts) == 3 else None


def caller_fate(inventory: Inventory, members: Membership, node_id: str) -> tuple[bool, str]:
    """Whether a caller is in the mesh once the plan's enrollment is done, and why not (one
    node's :meth:`CallerFates.of`; keep a :class:`CallerFates` to ask about many)."""
    return CallerFates(inventory, members).of(node_id)


def _fate_outside_inventory(node_id: str) -> tuple[bool, str]:
    """The fate of a node that is no workload of the input."""
    if is_istio_gateway_caller(node_id):
        return True, GATEWAY_MESHED
    if node_id.startswith(INGRESS_PREFIX):
        return False, f"ingress controller {node_id.removeprefix(INGRESS_PREFIX)} " \
                      "outside the mesh"
    return False, f"{node_id} is outside the mesh"


def _workload_fate(members: Membership, workload: Workload,
                   gateway: bool) -> tuple[bool, str]:
    """The fate of a workload of the input (``gateway``: an Istio gateway)."""
    if gateway:
        return True, GATEWAY_MESHED
    mode = members.modes.get(workload.namespace, NamespaceMode.OUTSIDE)
    if mode == NamespaceMode.OUTSIDE:
        return False, (f"namespace {workload.namespace} stays outside the mesh "
                       f"({members.reasons.get(workload.namespace, 'not enrolled')})")
    if workload.host_network:
        return False, "runs with hostNetwork; the mesh never captures its traffic"
    if mode == NamespaceMode.SIDECAR and workload.inject_opt == "false":
        what = "Job/CronJob" if workload.is_batch else "workload"
        return False, f"{what} opted out with sidecar.istio.io/inject=false"
    if (mode == NamespaceMode.AMBIENT
            and workload.pod_labels.get("istio.io/dataplane-mode") == "none"):
        return False, "opted out of ambient with istio.io/dataplane-mode=none"
    return True, f"meshed ({mode})"


def enforces_peer_authentication(inventory: Inventory, members: Membership,
                                 node_id: str) -> bool:
    """Whether the workload ``node_id`` will have a proxy that enforces PeerAuthentication once
    the plan is done: it is in the mesh and is not an Istio gateway, whose listeners only its
    ``Gateway`` objects configure (one node's :meth:`CallerFates.enforces`)."""
    return CallerFates(inventory, members).enforces(node_id)


class CallerFates:
    """:func:`caller_fate` and :func:`enforces_peer_authentication` for one inventory and
    membership (the one place they are worked out), each node once however many calls ask
    about it (a workload's
    gateway role once, not once per edge). It keeps what it worked out for as long as its
    owner keeps it: one plan, one rule context."""

    def __init__(self, inventory: Inventory, members: Membership) -> None:
        self.inventory = inventory
        self.members = members
        self._fates: dict[str, tuple[bool, str]] = {}
        self._enforces: dict[str, bool] = {}

    def of(self, node_id: str) -> tuple[bool, str]:
        """:func:`caller_fate` of ``node_id``."""
        fate = self._fates.get(node_id)
        if fate is None:
            workload = self.inventory.workload_of(node_id)
            fate = (_fate_outside_inventory(node_id) if workload is None
                    else _workload_fate(self.members, workload, self.is_gateway(workload)))
            self._fates[node_id] = fate
        return fate

    def enforces(self, node_id: str) -> bool:
        """:func:`enforces_peer_authentication` of ``node_id``."""
        found = self._enforces.get(node_id)
        if found is None:
            workload = self.inventory.workload_of(node_id)
            found = (workload is not None and not self.is_gateway(workload)
                     and self.of(node_id)[0])
            self._enforces[node_id] = found
        return found

    def is_gateway(self, workload: Workload) -> bool:
        """:func:`~planner.domain.roles.is_istio_gateway`, once per workload of the inventory
        (:attr:`~planner.domain.inventory.Inventory.roles`)."""
        return self.inventory.roles.is_gateway(workload)


def benign_plaintext(inventory: Inventory, members: Membership, edge: Edge,
                     workload: Workload) -> bool:
    """Plaintext calls STRICT does not refuse: kubelet probes rewritten to pilot-agent, and
    scrapes served by metrics merging on :15020 (MESH-NOTES §7.1, §7.2)."""
    sidecar = members.modes.get(workload.namespace) == NamespaceMode.SIDECAR
    if edge.target_ports and all(p == AGENT_PORT for p in edge.target_ports):
        return True
    if edge.caller == KUBELET:
        rewrite_off = workload.pod_annotations.get(
            "sidecar.istio.io/rewriteAppHTTPProbers") == "false"
        # Ambient SNATs probes to 169.254.7.127 and lets them through (MESH-NOTES §7.1).
        return not (sidecar and rewrite_off)
    if any(ev.kind == "scrape" for ev in edge.evidence) and all(
            ev.kind == "scrape" for ev in edge.evidence):
        merge_off = workload.pod_annotations.get(MERGE_METRICS_ANNOTATION) == "false"
        return sidecar and not merge_off
    return False


def container_ports(inventory: Inventory, service: Service, port: int | None,
                    workload: Workload) -> tuple[int, ...]:
    """Container ports of ``workload`` behind ``service``'s port ``port`` (every port when
    ``port`` is None), resolving named targetPorts through the containers' port names."""
    numbers: set[int] = set()
    by_name = {p.name: p.container_port for c in workload.containers for p in c.ports if p.name}
    for sp in service.ports:
        if port is not None and sp.port != port:
            continue
        target = sp.target_port if sp.target_port is not None else sp.port
        if isinstance(target, int):
            numbers.add(target)
        elif target in by_name:
            numbers.add(by_name[target])
    return tuple(sorted(numbers))


def backend_ports(inventory: Inventory, service: Service | None, edge: Edge,
                  workload: Workload) -> tuple[int, ...]:
    """Container ports of ``workload`` a call on ``edge`` reaches.

    With a known Service port the ports are resolved for this backend alone: the edge's
    ``target_ports`` merge the named targetPort of every workload behind the Service, which may
    differ between them. Without one (a scrape of a port no Service exposes, say) the edge's
    ports are all there is, else every port of the Service."""
    if service is not None and edge.port is not None:
        return container_ports(inventory, service, edge.port, workload)
    if edge.target_ports or service is None:
        return edge.target_ports
    return container_ports(inventory, service, None, workload)
