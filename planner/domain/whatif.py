"""What breaks if: PeerAuthentication changes simulated on top of the current state, per edge.

Istio has no dry run for PeerAuthentication (``istioctl authn tls-check`` was removed with no
replacement; MESH-NOTES §1, §10). :func:`simulate` answers "who breaks if this goes STRICT
now?" from what the planner already knows:

* the PeerAuthentications in effect, existing ones with the simulated ones laid over them,
  resolved the way Istio does: port-level setting of the workload policy, then the workload
  policy's mode, then the namespace-wide policy, then the mesh-wide one (root namespace), then
  Istio's default PERMISSIVE; ``UNSET`` inherits; of several workload policies selecting the
  same pods the oldest counts, and a simulated new one is the newest;
* who is in the mesh: the scan's sidecar and ambient enrollment per workload
  (:func:`current_enrollment`) or the plan's enrollment once its enroll steps are done
  (:func:`planned_enrollment`);
* DestinationRule TLS settings, which replace auto mTLS for the client (lookup order client
  namespace, server namespace, root namespace; the first match wins);
* observed traffic, when the graph was merged with a snapshot: plaintext seen in the window.

A call breaks when the server enforces STRICT on the container port it reaches (its pods are in
the mesh) and the caller sends plaintext. The plan (:mod:`planner.domain.plan_builder`) derives
its port exceptions from the same function, so ``planner what-if`` and ``planner plan`` cannot
disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

from planner.domain import policy
from planner.domain.graph import KUBELET, CallGraph, Edge, Evidence, NodeKind, ObservedStats
from planner.domain.inventory import (
    REWRITE_PROBES_ANNOTATION,
    Inventory,
    ObjectRef,
    PolicyObject,
    Service,
    Workload,
)
from planner.domain.membership import CallerFates, Membership, benign_plaintext, parse_ref
from planner.domain.plan import Action, NamespaceMode, Phase, Step
from planner.domain.simulation_index import (
    InboundCall,
    NamespaceHosts,
    RuleHosts,
    SimulationIndex,
    destination_rules_by_namespace,
)
from planner.domain.value import value_class

STRICT = "STRICT"
PERMISSIVE = "PERMISSIVE"
MODES = ("STRICT", "PERMISSIVE", "DISABLE", "UNSET")
#: DestinationRule ``tls.mode`` values that send something other than Istio mTLS.
PLAINTEXT_TLS_MODES = ("DISABLE", "SIMPLE")

# Reason codes: stable strings for JSON consumers; docs/what-if.md explains each.
NO_IDENTITY = "no-mesh-identity"
HOST_NETWORK = "host-network"
POD_IP = "pod-ip"
PROBE = "probe-not-rewritten"
DESTINATION_RULE = "destination-rule-plaintext"
OBSERVED = "observed-plaintext"
REASON_CODES = (NO_IDENTITY, HOST_NETWORK, POD_IP, PROBE, DESTINATION_RULE, OBSERVED)
#: Reasons that lie with the caller, which a port exception on the callee lets through; the
#: plan turns these into exception steps (the others stay blockers).
CALLER_REASONS = frozenset({NO_IDENTITY, HOST_NETWORK, PROBE})


@value_class(order=True)
class Reason:
    """Why a call breaks: a stable ``code`` (one of :data:`REASON_CODES`) and the words."""

    code: str
    message: str


@value_class  # a plan builds tens of thousands: a frozen dataclass's __init__ costs more
class EdgeVerdict:
    """One call into an affected workload, on one container port, under the simulated policy.

    ``callee`` is the serving workload (PeerAuthentication acts on workloads), ``service`` the
    Service the caller dialled and ``port`` its port; ``container_port`` is the workload's port
    behind it (None when unknown). ``mode`` is the effective mTLS mode there after the change
    and ``decided_by`` the policy it comes from; ``mode_before`` is today's. ``reasons`` are
    empty unless ``breaks``; ``note`` says why a call that does not break is safe."""

    caller: str
    callee: str
    service: str
    port: int | None
    container_port: int | None
    mode: str
    mode_before: str
    decided_by: str
    breaks: bool
    reasons: tuple[Reason, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    observed: ObservedStats | None = None
    note: str = ""


@value_class(order=True)
class NoEffect:
    """A namespace (``scope`` is its name) or a workload (``Kind/ns/name``) in the scope of a
    simulated policy whose pods are not in the mesh: nothing enforces the policy there."""

    scope: str
    reason: str


@value_class
class WhatIf:
    """The simulation's answer: the changes, every call into the affected workloads, and the
    places the changes would not reach."""

    changes: tuple[str, ...]
    enrollment: str
    edges: tuple[EdgeVerdict, ...]
    no_effect: tuple[NoEffect, ...] = ()
    affected: tuple[str, ...] = ()
    traffic: bool = False

    @cached_property  # every output of a plan asks it of each step (45,680 rows per plan)
    def breaking(self) -> tuple[EdgeVerdict, ...]:
        """The calls that would be refused."""
        return tuple(e for e in self.edges if e.breaks)


# ---------------------------------------------------------------------------------------------
# Who is in the mesh


@value_class
class Enrollment:
    """Who is in the mesh in the state simulated: ``members`` gives each namespace's data
    plane (sidecar, ambient or outside), ``meshed`` the membership and why of each graph node
    that may call (workloads and callers outside the inventory; a Service calls nothing), and
    ``enforces`` the workloads whose proxy would enforce a PeerAuthentication (in the mesh and
    not an Istio gateway, whose listeners only its Gateway objects configure). ``label`` says
    which state it is, for the output."""

    label: str
    members: Membership
    meshed: Mapping[str, tuple[bool, str]]
    enforces: frozenset[str] = frozenset()

    def of(self, node_id: str) -> tuple[bool, str]:
        """Whether the node is in the mesh, and why (in words)."""
        found = self.meshed.get(node_id)  # asked per call judged: no default built in vain
        return found if found is not None else (False, f"{node_id} is not in the input")


def current_enrollment(inventory: Inventory, graph: CallGraph) -> Enrollment:
    """The mesh as the scan shows it now: namespace labels, pod-template overrides and, from
    a live cluster, the pods' actual sidecars and ambient redirection."""
    modes: dict[str, NamespaceMode] = {}
    reasons: dict[str, str] = {}
    already: set[str] = set()
    for ns in inventory.namespaces:
        mode = ns.enrollment
        modes[ns.name] = NamespaceMode(mode) if mode != "none" else NamespaceMode.OUTSIDE
        reasons[ns.name] = (f"labelled for {mode}" if mode != "none"
                            else "no injection or ambient label")
        if mode != "none":
            already.add(ns.name)
    service = NodeKind.SERVICE  # looked up once, not per node
    meshed = {n.id: (n.meshed, n.mesh_reason) for n in graph.nodes if n.kind is not service}
    is_gateway = inventory.roles.is_gateway
    enforces = frozenset(key for w in inventory.workloads
                         if meshed.get(key := w.ref.key, (False, ""))[0] and not is_gateway(w))
    return Enrollment("now (as the scan shows it)",
                      Membership(modes, reasons, frozenset(already)), meshed, enforces)


def planned_enrollment(inventory: Inventory, graph: CallGraph, members: Membership,
                       fates: CallerFates | None = None) -> Enrollment:
    """The mesh once the plan's enroll steps are done (``members`` is the plan's
    :func:`~planner.domain.membership.membership`; ``fates``, the caller's
    :class:`~planner.domain.membership.CallerFates` of it, if it keeps one)."""
    if fates is None:
        fates = CallerFates(inventory, members)
    # Not the 10,000 Services of a 10,000-service cluster: each one's fate took as long as a
    # workload's, and no call comes from a Service.
    service = NodeKind.SERVICE
    meshed = {n.id: fates.of(n.id) for n in graph.nodes if n.kind is not service}
    enforces = frozenset(key for w in inventory.workloads if fates.enforces(key := w.ref.key))
    return Enrollment("after the plan's enrollment", members, meshed, enforces)


# ---------------------------------------------------------------------------------------------
# Policies in effect


@value_class
class PolicySet:
    """PeerAuthentications in effect, the simulated ones laid over the existing ones.
    ``workload`` lists each namespace's selector policies in the order Istio prefers them
    (oldest first; simulated new ones last)."""

    root: str
    mesh: PolicyObject | None
    namespace: Mapping[str, PolicyObject]
    workload: Mapping[str, tuple[PolicyObject, ...]]
    simulated: frozenset[ObjectRef]


def _policy_object(obj: Mapping[str, Any], created: str) -> PolicyObject:
    meta = obj.get("metadata") or {}
    return PolicyObject(
        ref=ObjectRef(str(obj.get("kind", policy.PEER_AUTHENTICATION)),
                      str(meta.get("namespace", "")), str(meta.get("name", ""))),
        api_version=str(obj.get("apiVersion", policy.PEER_AUTHENTICATION_API)),
        spec=dict(obj.get("spec") or {}), labels=dict(meta.get("labels") or {}),
        created=created)


def policy_set(inventory: Inventory, root: str,
               changes: Sequence[Mapping[str, Any]] = (),
               existing: policy.PeerAuthentications | None = None) -> PolicySet:
    """The PeerAuthentications in effect once ``changes`` (PeerAuthentication manifests, as a
    plan step applies them) are applied: a change with the name of an existing policy edits it
    in place (it keeps its age), any other is new and therefore the newest. ``existing``: the
    inventory's :func:`~planner.domain.policy.peer_authentications`, which a caller laying many
    changes over them keeps (worked out here otherwise)."""
    if existing is None:
        existing = policy.peer_authentications(inventory)
    # Namespaces no change touches keep the existing order as it is; a touched one is ordered
    # again: dated oldest first, then undated by name, then simulated new ones by name.
    scoped, workload = dict(existing.scoped), dict(existing.workload)
    touched: dict[str, dict[ObjectRef, PolicyObject]] = {}
    simulated: set[ObjectRef] = set()
    for obj in changes:
        if obj.get("kind") != policy.PEER_AUTHENTICATION:
            continue
        candidate = _policy_object(obj, "")
        namespace = candidate.ref.namespace
        policies = touched.get(namespace)
        if policies is None:
            policies = touched[namespace] = {p.ref: p for p in (
                *existing.scoped.get(namespace, ()), *existing.workload.get(namespace, ()))}
        old = policies.get(candidate.ref)
        policies[candidate.ref] = _policy_object(obj, old.created if old else "")
        simulated.add(candidate.ref)

    def rank(p: PolicyObject) -> tuple[int, str, str]:
        return policy.age_key(p) if p.ref in existing.by_ref else (2, "", p.ref.name)

    for namespace, policies in touched.items():
        ordered = sorted(policies.values(), key=rank)
        for group, chosen in ((scoped, [p for p in ordered if not policy.has_selector(p)]),
                              (workload, [p for p in ordered if policy.has_selector(p)])):
            if chosen:
                group[namespace] = tuple(chosen)
            else:
                group.pop(namespace, None)
    winners = {ns: ps[0] for ns, ps in scoped.items()}
    return PolicySet(root, winners.pop(root, None), winners, workload, frozenset(simulated))


def selects(p: PolicyObject, workload: Workload) -> bool:
    """True when the policy's ``selector.matchLabels`` all hold on the workload's pods."""
    labels = policy.match_labels(p)
    pod_labels = workload.pod_labels
    return bool(labels) and all(pod_labels.get(str(k)) == str(v) for k, v in labels.items())


def _known(mode: object) -> str:
    # The CRD admits only these; a manifest no API server checked may say anything else,
    # which Istio would never see, so it counts as not set.
    return mode if isinstance(mode, str) and mode in MODES else "UNSET"


def _port_mode(p: PolicyObject, port: int) -> str:
    ports = p.spec.get("portLevelMtls")
    setting = ports.get(str(port), ports.get(port)) if isinstance(ports, Mapping) else None
    return _known(setting.get("mode") if isinstance(setting, Mapping) else None)


def _name(ps: PolicySet, p: PolicyObject, scope: str) -> str:
    mark = ", simulated" if p.ref in ps.simulated else ""
    return f"{scope} PeerAuthentication {p.ref.namespace}/{p.ref.name}{mark}"


def effective_mode(ps: PolicySet, workload: Workload, port: int | None) -> tuple[str, str]:
    """The mTLS mode Istio enforces on ``workload``'s container ``port`` (the workload level
    when None), and the policy that decides it, in words. Narrowest wins; UNSET inherits."""
    return _ModeResolver(ps).of(workload).at(port)


class _ModeResolver:
    """:func:`effective_mode` under one policy set for many workloads: what a namespace's
    workloads inherit (namespace-wide, mesh-wide policy or Istio's default) resolved once per
    namespace, and shared by those no workload policy selects. Lives as long as one
    simulation."""

    def __init__(self, ps: PolicySet) -> None:
        self.ps = ps
        self._inherited: dict[str, _WorkloadMode] = {}
        self._by_label: dict[str, dict[tuple[str, str], list[tuple[int, PolicyObject]]]] = {}

    def of(self, workload: Workload) -> _WorkloadMode:
        """Resolve ``workload``'s policies: narrowest wins, UNSET inherits."""
        ps = self.ps
        namespace = workload.namespace
        # Of several workload policies on the same pods Istio keeps the oldest (list order).
        candidates = ps.workload.get(namespace)
        chosen = self._chosen(namespace, candidates, workload) if candidates else None
        if chosen is None:
            inherited = self._inherited.get(namespace)
            if inherited is None:
                inherited = self._inherited[namespace] = _WorkloadMode(
                    ps, None, *self._inherit(namespace))
            return inherited
        if (mode := _known(policy.mtls_mode(chosen))) != "UNSET":
            return _WorkloadMode(ps, chosen, mode, _name(ps, chosen, "workload"))
        return _WorkloadMode(ps, chosen, *self._inherit(namespace))

    def _chosen(self, namespace: str, candidates: tuple[PolicyObject, ...],
                workload: Workload) -> PolicyObject | None:
        """The first of ``candidates`` (a namespace's workload policies, in order) that selects
        ``workload``. A policy selects only pods that carry its first label: the workload's
        labels find the few that may, instead of every policy of the namespace being tried on
        every workload (a namespace migrated workload by workload holds one per workload)."""
        by_label = self._by_label.get(namespace)
        if by_label is None:
            by_label = self._by_label[namespace] = _by_first_label(candidates)
        found = sorted(hit for item in workload.pod_labels.items()
                       for hit in by_label.get(item, ()))
        return next((p for _, p in found if selects(p, workload)), None)

    def _inherit(self, namespace: str) -> tuple[str, str]:
        """The mode a workload of ``namespace`` inherits, and its source in words."""
        ps = self.ps
        ns_policy = ps.namespace.get(namespace)
        if ns_policy is not None and (mode := _known(policy.mtls_mode(ns_policy))) != "UNSET":
            return mode, _name(ps, ns_policy, "namespace-wide")
        if ps.mesh is not None and (mode := _known(policy.mtls_mode(ps.mesh))) != "UNSET":
            return mode, _name(ps, ps.mesh, "mesh-wide")
        return PERMISSIVE, "Istio's default (no policy sets a mode)"


def _by_first_label(candidates: tuple[PolicyObject, ...]
                    ) -> dict[tuple[str, str], list[tuple[int, PolicyObject]]]:
    """Workload policies by the first ``key=value`` of their ``selector.matchLabels``, each
    with its position in ``candidates`` (Istio keeps the first that selects a pod)."""
    found: dict[tuple[str, str], list[tuple[int, PolicyObject]]] = {}
    for position, p in enumerate(candidates):
        if labels := policy.match_labels(p):
            key, value = next(iter(labels.items()))
            found.setdefault((str(key), str(value)), []).append((position, p))
    return found


@value_class
class _WorkloadMode:
    """:func:`effective_mode` of one workload with the part no port changes resolved: the
    workload policy Istio picks for its pods (``chosen``), and the mode and its source in
    words where no port-level setting of ``chosen`` decides."""

    ps: PolicySet
    chosen: PolicyObject | None
    mode: str
    decided_by: str

    def at(self, port: int | None) -> tuple[str, str]:
        """The mode on container ``port`` (the workload level when None) and its source."""
        chosen = self.chosen
        if chosen is not None and port is not None and \
                (mode := _port_mode(chosen, port)) != "UNSET":
            return mode, f"port {port} of {_name(self.ps, chosen, 'workload')}"
        return self.mode, self.decided_by


def in_scope(ps: PolicySet, inventory: Inventory,
             changes: Iterable[PolicyObject]) -> list[Workload]:
    """Workloads a set of policies reaches: the selected pods, a namespace's workloads, or
    every workload for a mesh-wide policy."""
    found: dict[ObjectRef, Workload] = {}
    by_namespace = inventory.workloads_by_namespace
    for p in changes:
        if policy.has_selector(p):
            found.update((w.ref, w) for w in by_namespace.get(p.ref.namespace, ())
                         if selects(p, w))
        elif p.ref.namespace == ps.root:
            return list(inventory.workloads)  # mesh-wide: every workload, already sorted
        else:
            found.update((w.ref, w) for w in by_namespace.get(p.ref.namespace, ()))
    return [found[r] for r in sorted(found)]


def _simulated(ps: PolicySet) -> list[PolicyObject]:
    """The simulated policies of ``ps``, in effect or not."""
    # Only the namespaces of the simulated policies hold them: a cluster migrated workload by
    # workload has thousands of workload policies, and a plan asks this once per step.
    found = [p for namespace in sorted({ref.namespace for ref in ps.simulated})
             for p in ps.workload.get(namespace, ()) if p.ref in ps.simulated]
    return found + [p for p in (ps.mesh, *ps.namespace.values())
                    if p is not None and p.ref in ps.simulated]


def reached(inventory: Inventory, root: str,
            changes: Sequence[Mapping[str, Any]]) -> list[Workload]:
    """The workloads PeerAuthentication ``changes`` reach: what :func:`simulate` judges
    unless told a ``scope``."""
    after = policy_set(inventory, root, changes)
    return in_scope(after, inventory, _simulated(after))


# ---------------------------------------------------------------------------------------------
# Building the changes a command line asks for


def namespace_policy(inventory: Inventory, root: str, namespace: str, mode: str,
                     current: policy.EffectivePolicies | None = None) -> dict[str, Any]:
    """The namespace-wide (mesh-wide for ``root``) PeerAuthentication with ``mode``: the
    policy Istio uses there today with its mode changed, else a new ``default`` one (a second
    policy of the same scope would be ignored). ``current``: the inventory's
    :func:`~planner.domain.policy.effective_policies` under ``root``, which a caller asking
    for many namespaces keeps (worked out here otherwise)."""
    if current is None:
        current = policy.effective_policies(inventory, root)
    existing = current.mesh_wide if namespace == root else current.namespace_wide.get(namespace)
    if existing is not None:
        return policy.with_mode(existing, mode)
    return policy.peer_authentication(namespace, "default", mode=mode)


def parse_workload_change(text: str) -> tuple[ObjectRef, str]:
    """``KIND/NS/NAME`` or ``KIND/NS/NAME=MODE`` as a workload reference and a mode (default
    PERMISSIVE). Raises ``ValueError`` naming what is wrong."""
    target, _, mode = text.partition("=")
    mode = mode.upper() or PERMISSIVE
    parts = target.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"--workload {text}: expected KIND/NAMESPACE/NAME[=MODE], "
                         "e.g. Deployment/shop/cart")
    if mode not in MODES:
        raise ValueError(f"--workload {text}: mode must be one of {', '.join(MODES)}")
    return ObjectRef(*parts), mode


def workload_policy(workload: Workload, mode: str) -> dict[str, Any]:
    """A PeerAuthentication setting ``mode`` on ``workload``'s pods (all their usable labels as
    the selector, so it selects whatever else carries them too, as Istio would).

    Raises ``ValueError`` when the pods carry no label usable as a selector."""
    labels = policy.selector_labels(workload)
    if not labels:
        raise ValueError(f"{workload.ref} has no pod labels usable as a selector, so no "
                         "workload PeerAuthentication can select it")
    return policy.peer_authentication(workload.namespace, f"meshplan-exception-{workload.name}",
                                      mode=mode, selector=labels)


def describe(obj: Mapping[str, Any], root: str) -> str:
    """One line saying what a simulated PeerAuthentication does."""
    # Read as the simulation reads it: a selector that is no mapping selects no pods, so the
    # policy is namespace-wide (a change may carry one over from a hand-written manifest).
    p = _policy_object(obj, "")
    ns, name = p.ref.namespace, p.ref.name
    mtls = p.spec.get("mtls")
    mode = mtls.get("mode", "UNSET") if isinstance(mtls, Mapping) else "UNSET"
    ports = p.spec.get("portLevelMtls")
    port_text = "".join(
        f", port {port} {s.get('mode') if isinstance(s, Mapping) else None}"
        for port, s in sorted(ports.items())) if isinstance(ports, Mapping) else ""
    selector = policy.match_labels(p)
    if selector:
        labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        return f"{mode} for pods {labels} in {ns}{port_text} (PeerAuthentication {ns}/{name})"
    scope = "mesh-wide" if ns == root else f"namespace {ns}"
    return f"{mode} {scope} (PeerAuthentication {ns}/{name})"


# ---------------------------------------------------------------------------------------------
# The simulation


def simulate(inventory: Inventory, graph: CallGraph, changes: Sequence[Mapping[str, Any]], *,
             root_namespace: str, enrollment: Enrollment,
             scope: Sequence[Workload] | None = None,
             index: SimulationIndex | None = None) -> WhatIf:
    """Every call into the workloads the ``changes`` reach (or ``scope``), judged under the
    policies in effect once they are applied: does it break, why, on what evidence.

    ``changes`` are PeerAuthentication manifests (other kinds are ignored). ``graph`` may be
    merged with observed traffic; its observed stats then count as evidence. ``index`` is a
    :class:`~planner.domain.simulation_index.SimulationIndex` of this inventory and graph
    that a caller simulating many times keeps (built here otherwise). Pure.

    Raises ``ValueError`` when ``index`` was built on another inventory or graph."""
    reasons = _Reasons(inventory, root_namespace, enrollment,
                       _index_of(inventory, graph, index))
    return _simulate(inventory, graph, changes, root_namespace, scope, reasons)


def _simulate(inventory: Inventory, graph: CallGraph, changes: Sequence[Mapping[str, Any]],
              root_namespace: str, scope: Sequence[Workload] | None,
              reasons: _Reasons) -> WhatIf:
    """:func:`simulate` under ``reasons``' enrollment, with its calls judged once."""
    enrollment = reasons.enrollment
    after = policy_set(inventory, root_namespace, changes, reasons.index.peer_authentications)
    simulated = _simulated(after)
    targets = list(scope) if scope is not None else in_scope(after, inventory, simulated)
    strict = any(policy.mtls_mode(p) == STRICT for p in simulated)
    no_effect, enforcing = _enforcing(inventory, enrollment, targets,
                                      "STRICT" if strict else "the change")
    rows = _judge(inventory, root_namespace, reasons, after, enforcing,
                  outside_callers_only=False)
    return WhatIf(
        changes=tuple(describe(c, root_namespace) for c in changes
                      if c.get("kind") == policy.PEER_AUTHENTICATION),
        enrollment=enrollment.label,
        edges=tuple(rows),
        no_effect=tuple(sorted(no_effect)),
        affected=tuple(enforcing),
        traffic=graph.has_observed,
    )


def refused_for_the_caller(inventory: Inventory, graph: CallGraph,
                           changes: Sequence[Mapping[str, Any]], *, root_namespace: str,
                           enrollment: Enrollment, scope: Sequence[Workload],
                           index: SimulationIndex | None = None) -> list[EdgeVerdict]:
    """The rows of :func:`simulate`'s ``breaking`` (same arguments) that break for a reason
    lying with the caller (:data:`CALLER_REASONS`): the calls a port exception on the callee
    lets through, which the plan turns into exception steps.

    Only calls from callers outside ``enrollment`` are judged, as only those can have such a
    reason; each row is built as :func:`simulate` builds it, so the plan and ``planner
    what-if`` never disagree. Raises ``ValueError`` as :func:`simulate` does."""
    reasons = _Reasons(inventory, root_namespace, enrollment,
                       _index_of(inventory, graph, index))
    after = policy_set(inventory, root_namespace, changes, reasons.index.peer_authentications)
    _, enforcing = _enforcing(inventory, enrollment, scope, "the change")
    rows = _judge(inventory, root_namespace, reasons, after, enforcing,
                  outside_callers_only=True)
    return [r for r in rows if r.breaks and any(x.code in CALLER_REASONS for x in r.reasons)]


def _index_of(inventory: Inventory, graph: CallGraph,
              index: SimulationIndex | None) -> SimulationIndex:
    """``index``, checked to be of ``inventory`` and ``graph``, or a new one."""
    if index is None:
        return SimulationIndex(inventory, graph)
    if not index.serves(inventory, graph):
        raise ValueError("simulate: the index was built on another inventory or graph")
    return index


#: What :func:`plaintext_reasons` says of one call.
_Judged = tuple[list[Reason], list[Evidence], str]


class _Reasons:
    """:func:`plaintext_reasons` of the calls into workloads under one ``enrollment``, the
    calls into a workload judged once however many simulations ask: a plan's namespace steps
    and its mesh-wide step judge the same calls under the scan's enrollment. Lives as long as
    the simulations it serves."""

    def __init__(self, inventory: Inventory, root: str, enrollment: Enrollment,
                 index: SimulationIndex) -> None:
        self.inventory = inventory
        self.root = root
        self.enrollment = enrollment
        self.index = index
        self._into: dict[ObjectRef, tuple[_Judged, ...]] = {}

    def of(self, call: InboundCall, workload: Workload) -> _Judged:
        """Why ``call`` into ``workload`` arrives in plaintext (the same on every port)."""
        return plaintext_reasons(self.inventory, self.root, self.enrollment, call.edge,
                                 call.service, workload, index=self.index)

    def into(self, workload: Workload) -> tuple[_Judged, ...]:
        """:meth:`of` every call of ``index.calls_into(workload)``, in its order."""
        found = self._into.get(workload.ref)
        if found is None:
            found = self._into[workload.ref] = tuple(
                self.of(call, workload) for call in self.index.calls_into(workload))
        return found


def _judge(inventory: Inventory, root: str, reasons: _Reasons, after: PolicySet,
           enforcing: Mapping[str, Workload], *, outside_callers_only: bool
           ) -> list[EdgeVerdict]:
    """The verdict on every call into the ``enforcing`` workloads (by key) under the policies
    ``after`` (and their peers' pod-IP traffic), sorted by callee, caller, Service and ports.
    ``outside_callers_only``: calls from callers in the mesh and peer traffic left out."""
    resolve_before = _ModeResolver(policy_set(inventory, root,
                                              existing=reasons.index.peer_authentications))
    resolve_after = _ModeResolver(after)
    index, enrollment = reasons.index, reasons.enrollment
    rows: list[EdgeVerdict] = []
    for callee, workload in enforcing.items():
        calls = index.calls_into(workload)
        if outside_callers_only:
            calls = tuple(c for c in calls if not enrollment.of(c.edge.caller)[0])
            if not calls:
                continue
            judgements = tuple(reasons.of(call, workload) for call in calls)
        else:
            judgements = reasons.into(workload)
        mode_after = resolve_after.of(workload)
        mode_before = resolve_before.of(workload)
        # Why a call arrives in plaintext does not depend on the port: judged once.
        for call, judged in zip(calls, judgements, strict=True):
            for port in call.ports:
                rows.append(_verdict(call, callee, port, mode_before, mode_after, judged))
        if not outside_callers_only:
            rows.extend(_peer_rows(inventory, index, mode_before, mode_after, workload))
    rows.sort(key=lambda r: (r.callee, r.caller, r.service, r.port or 0,
                             r.container_port or 0))
    return rows


def _enforcing(inventory: Inventory, enrollment: Enrollment, targets: Sequence[Workload],
               what: str) -> tuple[list[NoEffect], dict[str, Workload]]:
    """Split the workloads in scope into those whose pods would enforce a policy (by key, in
    scope order: the key names them in every row and in ``affected``) and the places it has no
    effect: one line per namespace with no workload in the mesh, else one per workload left
    out."""
    by_ns: dict[str, list[Workload]] = {}
    for w in targets:
        by_ns.setdefault(w.namespace, []).append(w)
    no_effect: list[NoEffect] = []
    enforcing: dict[str, Workload] = {}
    for ns, workloads in sorted(by_ns.items()):
        keys = [w.ref.key for w in workloads]
        enforces = [key in enrollment.enforces for key in keys]
        if not any(enforces) and not any(enrollment.of(key)[0] for key in keys):
            why = enrollment.members.reasons.get(ns, "not enrolled")
            no_effect.append(NoEffect(ns, f"namespace {ns} is not enrolled in the mesh ({why}):"
                                          f" {what} would have no effect on its workloads"))
            continue
        for w, key, enforced in zip(workloads, keys, enforces, strict=True):
            if enforced:
                enforcing[key] = w
                continue
            meshed, reason = enrollment.of(key)
            if meshed:
                no_effect.append(NoEffect(key, f"{key} is an Istio gateway: PeerAuthentication "
                                               "does not configure its listeners"))
            else:
                no_effect.append(NoEffect(key, f"{key} is not in the mesh ({reason}): nothing "
                                               "enforces the policy on its pods"))
    return no_effect, enforcing


def _verdict(call: InboundCall, callee: str, port: int | None,
             before: _WorkloadMode, after: _WorkloadMode, judged: _Judged) -> EdgeVerdict:
    """The verdict on ``call`` into the workload ``callee``'s container ``port``, the
    workload's modes before and after the change resolved, why the call arrives in plaintext
    ``judged`` (:func:`plaintext_reasons`)."""
    edge = call.edge
    mode, decided_by = after.at(port)
    mode_before = before.at(port)[0]
    reasons, evidence, safe = judged
    breaks = mode == STRICT and bool(reasons)
    if breaks:
        note = ""
    elif mode != STRICT:
        note = f"plaintext is still accepted ({decided_by})"
    else:
        note = safe
    # Positional, in field order: a plan builds ~10^5 rows, and keyword arguments made this
    # call three times as slow (docs/performance.md, Plan).
    return EdgeVerdict(
        edge.caller, callee, edge.callee, edge.port, port,  # caller, callee, service, ports
        mode, mode_before, decided_by, breaks,
        tuple(reasons) if breaks else (),  # reasons
        tuple(sorted({*edge.evidence, *evidence})) if evidence else call.evidence,
        edge.observed, note)


def plaintext_reasons(inventory: Inventory, root: str, enrollment: Enrollment, edge: Edge,
                      service: Service | None, workload: Workload, *,
                      index: SimulationIndex | None = None,
                      ) -> tuple[list[Reason], list[Evidence], str]:
    """Why the call on ``edge`` into ``workload`` arrives in plaintext (empty when it arrives
    as mTLS or is let through anyway), extra evidence, and, when it is safe, why. The same on
    every container port the call reaches. ``index``: as for :func:`simulate`."""
    reasons: list[Reason] = []
    evidence: list[Evidence] = []
    safe = ""
    meshed, why = enrollment.of(edge.caller)
    if not meshed:
        if benign_plaintext(inventory, enrollment.members, edge, workload):
            safe = ("kubelet probes are let through (rewritten to pilot-agent :15020, or "
                    "SNATed by ambient)" if edge.caller == KUBELET
                    else "served in plaintext on pilot-agent :15020 (metrics merging)")
        elif edge.caller == KUBELET:
            reasons.append(Reason(PROBE, f"kubelet probes reach {workload.ref.key} on its app "
                                         "port: sidecar.istio.io/rewriteAppHTTPProbers is "
                                         "\"false\", so they are not rewritten to :15020"))
            evidence.append(Evidence("annotation", str(workload.ref),
                                     f"{REWRITE_PROBES_ANNOTATION}=false"))
        else:
            caller = inventory.workload_of(edge.caller)
            if caller is not None and caller.host_network:
                reasons.append(Reason(HOST_NETWORK, f"{edge.caller} runs with hostNetwork: "
                                                    "the mesh never captures its traffic"))
            else:
                reasons.append(Reason(NO_IDENTITY, f"{edge.caller} has no sidecar or ambient "
                                                   f"identity ({why})"))
    else:
        safe = why if why.startswith("meshed") else f"caller is in the mesh ({why})"
        rules = index.destination_rules if index is not None else None
        # Without a DestinationRule in the input (most clusters) there is nothing to look up.
        found = destination_rule_tls(
            inventory, root, edge.caller, service, edge.port, rules=rules,
            hosts=index.rule_hosts if index is not None else None,
        ) if rules is None or rules else None
        if found is not None:
            rule, tls = found
            reasons.append(Reason(DESTINATION_RULE, f"{rule.ref} sets tls.mode {tls} for "
                                                    f"{edge.callee}, which replaces auto mTLS"))
            evidence.append(Evidence("destinationrule", str(rule.ref), f"tls.mode {tls}"))
    stats = edge.observed
    if stats is not None and stats.mtls_share is not None and stats.mtls_share < 1.0 and (
            stats.requests + stats.connections) > 0:
        total = stats.requests + stats.connections
        reasons.append(Reason(OBSERVED, f"{(1 - stats.mtls_share) * 100:.0f}% of {total:g} "
                                        "observed requests/connections were plaintext in the "
                                        "window"))
    return reasons, evidence, safe


def _peer_rows(inventory: Inventory, index: SimulationIndex, before: _WorkloadMode,
               after: _WorkloadMode, workload: Workload) -> list[EdgeVerdict]:
    """Peers of a StatefulSet (or of pods behind a headless Service) dial each other by pod IP
    or per-pod DNS name. On a container port no Service port covers, that traffic goes through
    PassthroughCluster in plaintext (MESH-NOTES §7.3), so STRICT refuses it even between
    sidecars. One row per such port."""
    services = inventory.services_of.get(workload.ref, ())
    # Asked of every workload in every simulation: most have no peers, found without a key.
    if workload.ref.kind != "StatefulSet" and not any(s.headless for s in services):
        return []
    headless = sorted(s.ref.key for s in services if s.headless)
    declared = sorted({p.container_port for c in workload.containers for p in c.ports
                       if p.protocol.upper() == "TCP"} - index.bound_ports(workload))
    rows = []
    for port in declared:
        mode, decided_by = after.at(port)
        text = (f"container port {port} is behind no Service port; peers reaching it by pod IP "
                "or per-pod DNS name go through PassthroughCluster in plaintext")
        breaks = mode == STRICT
        rows.append(EdgeVerdict(
            caller=workload.ref.key, callee=workload.ref.key,
            service=headless[0] if headless else "", port=None, container_port=port,
            mode=mode, mode_before=before.at(port)[0],
            decided_by=decided_by, breaks=breaks,
            reasons=(Reason(POD_IP, f"peers of {workload.ref.key}: {text}"),) if breaks else (),
            evidence=(Evidence("peer", str(workload.ref),
                               f"containerPort {port}; "
                               + (f"headless {', '.join(headless)}" if headless
                                  else "StatefulSet")),),
            note="" if breaks else f"plaintext is still accepted ({decided_by})"))
    return rows


# ---------------------------------------------------------------------------------------------
# DestinationRules


def _fqdn(host: str, namespace: str, domain: str) -> str:
    host = host.lower().removesuffix(".")
    if host.endswith(f".svc.{domain}") or host.startswith("*"):
        return host
    if host.endswith(".svc"):
        return f"{host}.{domain}"
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.svc.{domain}"
    if len(parts) == 2:
        return f"{host}.svc.{domain}"
    return host


def _rule_hosts(hosts: RuleHosts, rules: Mapping[str, Sequence[PolicyObject]], ns: str,
                domain: str) -> NamespaceHosts:
    """The rules of ``ns`` by resolved host, worked out once into ``hosts``: a plan judges
    tens of thousands of calls, and a namespace may hold a rule per Service."""
    found = hosts.get((ns, domain))
    if found is None:
        exact: dict[str, list[PolicyObject]] = {}
        wildcards: list[tuple[str, PolicyObject]] = []
        for rule in rules.get(ns, ()):
            host = _fqdn(str(rule.spec.get("host") or ""), ns, domain)
            if host.startswith("*"):
                wildcards.append((host, rule))  # only these match other hosts than their own
            else:
                exact.setdefault(host, []).append(rule)
        found = hosts[(ns, domain)] = (exact, wildcards)
    return found


def _host_match(rule_host: str, target: str) -> int:
    """0 no match, 2 exact, 1 wildcard."""
    if rule_host == target:
        return 2
    if rule_host == "*" or (rule_host.startswith("*.") and target.endswith(rule_host[1:])):
        return 1
    return 0


def destination_rule_tls(inventory: Inventory, root: str, caller: str, service: Service | None,
                         port: int | None, domain: str = "cluster.local", *,
                         rules: Mapping[str, Sequence[PolicyObject]] | None = None,
                         hosts: RuleHosts | None = None,
                         ) -> tuple[PolicyObject, str] | None:
    """The DestinationRule that makes ``caller`` send something other than Istio mTLS to
    ``service`` (tls.mode DISABLE or SIMPLE at the port or the traffic policy), or None.

    Istio looks in the client's namespace, then the Service's, then the root namespace; the
    first namespace with a matching rule wins (no inheritance), and inside it an exact host
    beats a wildcard. Subset settings apply only to routed subsets and are left out.
    ``rules``: the inventory's DestinationRules by namespace, when the caller has them
    (:attr:`~planner.domain.simulation_index.SimulationIndex.destination_rules`); ``hosts``:
    where the rules' hosts, resolved per namespace, are kept between calls
    (:attr:`~planner.domain.simulation_index.SimulationIndex.rule_hosts`)."""
    if rules is None:
        rules = destination_rules_by_namespace(inventory)
    if service is None or not rules:
        return None
    caller_ref = parse_ref(caller)
    target = f"{service.name}.{service.namespace}.svc.{domain}"
    order = [n for n in (caller_ref.namespace if caller_ref else "", service.namespace, root)
             if n]
    if hosts is None:
        hosts = {}
    for ns in dict.fromkeys(order):
        exact, wildcards = _rule_hosts(hosts, rules, ns, domain)
        candidates = [(-2, rule.created or "~", rule.ref.name, rule)
                      for rule in exact.get(target, ())]
        candidates += [(-score, rule.created or "~", rule.ref.name, rule)
                       for host, rule in wildcards if (score := _host_match(host, target))]
        if not candidates:
            continue
        rule = min(candidates, key=lambda c: c[:3])[3]
        mode = _rule_tls_mode(rule.spec, port)
        return (rule, mode) if mode in PLAINTEXT_TLS_MODES else None
    return None


def _rule_tls_mode(spec: Mapping[str, Any], port: int | None) -> str:
    traffic = spec.get("trafficPolicy")
    if not isinstance(traffic, Mapping):
        return ""
    for setting in traffic.get("portLevelSettings") or ():
        if isinstance(setting, Mapping) and port is not None and \
                (setting.get("port") or {}).get("number") == port:
            tls = setting.get("tls")
            if isinstance(tls, Mapping) and isinstance(tls.get("mode"), str):
                return str(tls["mode"])
    tls = traffic.get("tls")
    return str(tls["mode"]) if isinstance(tls, Mapping) and isinstance(tls.get("mode"), str) \
        else ""



#: Plan phases whose steps change what servers accept, and so get a what-if.
WHAT_IF_PHASES = frozenset({Phase.EXCEPTION, Phase.STRICT, Phase.MESH_STRICT})


def step_what_ifs(inventory: Inventory, graph: CallGraph, steps: Iterable[Step], *,
                  root_namespace: str, enrollment: Enrollment,
                  index: SimulationIndex | None = None) -> dict[str, WhatIf]:
    """Each STRICT and exception step's what-if: the calls that would break if the step's
    PeerAuthentications were applied on top of ``enrollment``'s state (the scan's: "if
    applied now"), by :func:`simulate`, the function behind ``planner what-if``. ``index``:
    as for :func:`simulate` (one is built for all the steps otherwise)."""
    # One judge of the calls for all the steps: the mesh-wide step judges them all again.
    reasons = _Reasons(inventory, root_namespace, enrollment,
                       _index_of(inventory, graph, index))
    return {
        step.id: _simulate(inventory, graph,
                           [c.object for c in step.apply if c.action is Action.APPLY],
                           root_namespace, None, reasons)
        for step in steps if step.phase in WHAT_IF_PHASES}
