"""The plan builder: orders the PERMISSIVE -> STRICT rollout (phases in
:mod:`planner.domain.plan`) from the inventory, the call graph and the blocker findings.

Rollback objects are the exact state before the step, tracked through the plan: the first
change of an existing object restores it as the inventory had it, later changes restore what the
previous step applied, and new objects are deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from shlex import quote
from typing import TYPE_CHECKING, Any

from planner.domain import policy
from planner.domain.digraph import callers_first
from planner.domain.findings import Finding
from planner.domain.graph import CallGraph
from planner.domain.inventory import Inventory, Workload
from planner.domain.membership import CallerFates, Membership, membership, parse_ref
from planner.domain.plan import (
    Action,
    Change,
    DataplaneSelection,
    FinalMtls,
    Granularity,
    IstioState,
    NamespaceFate,
    NamespaceMode,
    Phase,
    Plan,
    Proof,
    Scope,
    Step,
    Target,
)
from planner.domain.promql import plaintext_queries
from planner.domain.roles import is_istio_gateway_caller
from planner.domain.simulation_index import SimulationIndex
from planner.domain.verdict import FitVerdict

if TYPE_CHECKING:
    from planner.domain.authz import AuthzProposal
    from planner.domain.whatif import Enrollment

#: Kinds ``kubectl rollout restart`` accepts.
RESTARTABLE = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


@dataclass
class _Exception:
    """Ports to open on one workload, and the callers that need them."""

    workload: Workload
    #: ``matchLabels`` that select this workload's pods and no other workload's.
    selector: Mapping[str, str]
    ports: set[int] = field(default_factory=set)
    callers: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class _Tracker:
    """The cluster state as the plan leaves it after each step, for exact rollbacks."""

    labels: dict[str, dict[str, str]]
    objects: dict[tuple[str, str, str], dict[str, Any] | None] = field(default_factory=dict)

    def set_labels(self, namespace: str, labels: Mapping[str, str]) -> tuple[Change, Change]:
        previous = self.labels.get(namespace, {})
        self.labels[namespace] = dict(labels)
        return (Change(Action.APPLY, policy.namespace_object(namespace, labels)),
                Change(Action.APPLY, policy.namespace_object(namespace, previous)))

    def put(self, obj: dict[str, Any]) -> tuple[Change, Change]:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace", ""), meta["name"])
        previous = self.objects.get(key)
        self.objects[key] = obj
        undo = (Change(Action.APPLY, previous) if previous is not None else
                Change(Action.DELETE, {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                                       "metadata": {"name": meta["name"],
                                                    "namespace": meta.get("namespace", "")}}))
        return Change(Action.APPLY, obj), undo


def build_plan_from(inventory: Inventory, graph: CallGraph, findings: Iterable[Finding], *,
                    root_namespace: str = "istio-system", granularity: str = "namespace",
                    dataplane: Mapping[str, str] | None = None,
                    dataplane_why: Mapping[str, str] | None = None,
                    dataplane_choice: DataplaneSelection = DataplaneSelection.SIDECAR,
                    fit: FitVerdict | None = None,
                    unread: Collection[str] = (),
                    enrollment_codes: Collection[str] = (),
                    authz: AuthzProposal | None = None,
                    authz_findings: Iterable[Finding] = (),
                    index: SimulationIndex | None = None,
                    fates: CallerFates | None = None) -> Plan:
    """Order the rollout. ``findings`` are the blocker findings; each is attached to the step it
    endangers, and its ``exception`` (caller, workload, ports) becomes a port exception.
    ``dataplane`` maps namespaces to the data plane they get (sidecar where missing),
    ``dataplane_why`` says how each was chosen and ``dataplane_choice`` how all were
    (``recommended``, ``sidecar``, ``ambient`` or ``given``); ``fit`` is the verdict the plan
    opens with. ``unread`` are kinds the scan could not read: see :attr:`Plan.unread`.
    Findings whose code is in ``enrollment_codes`` (ambient readiness) block the namespace's
    enrollment step instead of its STRICT step. With ``authz`` (the least-privilege proposal)
    the authorization phases follow mesh-wide STRICT, blocked by ``authz_findings``
    (:func:`planner.domain.authz_rollout.authz_steps`). ``index`` is the
    :class:`~planner.domain.simulation_index.SimulationIndex` of ``inventory`` and ``graph``
    when the caller simulates the steps too (built here otherwise). ``fates`` are the
    :class:`~planner.domain.membership.CallerFates` of ``membership(inventory,
    root_namespace, dataplane)`` when the caller has them (the blocker rules worked them out):
    ``dataplane_why`` words only namespaces the plan enrolls, and a fate quotes only the
    reasons of namespaces left outside, so they are this plan's fates.

    Raises ``ValueError`` for an unknown ``granularity`` (``namespace`` or ``workload``), or
    ``fates`` of another inventory or data plane."""
    if granularity not in tuple(Granularity):
        raise ValueError(f"granularity must be namespace or workload, not {granularity!r}")
    members = membership(inventory, root_namespace, dataplane, dataplane_why)
    if fates is None:
        fates = CallerFates(inventory, members)
    elif fates.inventory is not inventory or fates.members.modes != members.modes:
        raise ValueError("build_plan_from: fates of another inventory or data plane")
    gaps = tuple(sorted(set(unread)))
    planner = _Planner(inventory, graph, tuple(sorted(findings)), root_namespace,
                       Granularity(granularity), members, frozenset(gaps),
                       frozenset(enrollment_codes), index or SimulationIndex(inventory, graph),
                       fates)
    plan = planner.build()
    if authz is not None:
        from planner.domain.authz_rollout import AUTHORIZATION_POLICY, authz_steps

        for p in inventory.istio_of_kind(AUTHORIZATION_POLICY):
            planner.tracker.objects[(p.ref.kind, p.ref.namespace, p.ref.name)] = \
                policy.restore_object(p)
        plan = authz_steps(plan, authz, inventory, planner.tracker.put, authz_findings)
        plan = replace(plan, steps=tuple(_unseen_rollbacks(s, frozenset(gaps))
                                         for s in plan.steps))
    partial = ((f"The scan could not read {', '.join(gaps)} (forbidden or timed out): what "
                "the plan says "
                "about them is unknown, not absent, and it has no rollback that deletes one. "
                "Grant the meshplan-scan role of docs/rbac.yaml and scan again.",)
               if gaps else ())
    return replace(plan, fit=fit, dataplane=dataplane_choice,
                   notes=(*partial, *gateway_notes(inventory, graph)), unread=gaps)


def _unseen_rollbacks(step: Step, unread: frozenset[str]) -> Step:
    """``step`` without rollback deletions of objects of a kind the scan could not read: the
    plan cannot know they did not exist before (the apply journal reads what is live)."""
    unseen = [c for c in step.rollback
              if c.action is Action.DELETE and c.object.get("kind") in unread]
    if not unseen:
        return step
    notes = tuple(
        f"rollback unknown for {c.object.get('kind')} "
        f"{(c.object.get('metadata') or {}).get('namespace')}/"
        f"{(c.object.get('metadata') or {}).get('name')}: {c.object.get('kind')} objects could "
        "not be read, so whether it existed before is unknown; `planner apply` refuses this "
        "step until they can be read" for c in unseen)
    return replace(step, rollback=tuple(c for c in step.rollback if c not in unseen),
                   preconditions=(*step.preconditions, *notes))


def gateway_notes(inventory: Inventory, graph: CallGraph) -> tuple[str, ...]:
    """One note when calls enter through Istio gateways whose workload is not in the input:
    the plan takes them as mesh clients, which only their Deployment could confirm."""
    # The cheaper test first, once per caller (not per call): most graphs have no call from a
    # gateway class at all.
    gateways = {c for c in {e.caller for e in graph.edges} if is_istio_gateway_caller(c)}
    if not gateways or any(inventory.roles.is_gateway(w) for w in inventory.workloads):
        return ()
    edges = [e for e in graph.edges if e.caller in gateways]
    routes = sorted({" ".join(ev.source.split(" ", 2)[:2]) for e in edges for ev in e.evidence})
    services = sorted({e.callee for e in edges})
    shown = ", ".join(routes[:3]) + (f" and {len(routes) - 3} more" if len(routes) > 3 else "")
    return (f"Calls to {len(services)} Service(s) enter through an Istio gateway whose "
            f"workload is not in the input ({shown}). It is taken as a mesh client, as an "
            "Istio gateway runs the mesh's Envoy and calls meshed backends over mTLS, so these "
            "calls need no exception. Add the gateway's Deployment to the input to have this "
            "checked.",)


class _Planner:
    def __init__(self, inventory: Inventory, graph: CallGraph, findings: tuple[Finding, ...],
                 root: str, granularity: Granularity, members: Membership,
                 unread: frozenset[str] = frozenset(),
                 enrollment_codes: frozenset[str] = frozenset(),
                 index: SimulationIndex | None = None,
                 fates: CallerFates | None = None) -> None:
        self.inv = inventory
        self.enrollment_codes = enrollment_codes
        self.unread = unread
        self.graph = graph
        self.findings = findings
        self.root = root
        self.granularity = granularity
        self.members = members
        #: Each node's fate under ``members``, worked out once for every step that asks.
        self.callers = fates or CallerFates(inventory, members)
        self.index = index or SimulationIndex(inventory, graph)
        self.policies = policy.effective_policies(inventory, root)
        mesh = self.policies.mesh_wide
        #: A mesh already STRICT stays so (see ``mesh_permissive``).
        self.mesh_was_strict = mesh is not None and policy.mtls_mode(mesh) == "STRICT"
        self.tracker = _Tracker({ns.name: dict(ns.labels) for ns in inventory.namespaces})
        for p in inventory.istio_of_kind(policy.PEER_AUTHENTICATION):
            self.tracker.objects[(p.ref.kind, p.ref.namespace, p.ref.name)] = \
                policy.restore_object(p)
        self.istio = self.istio_state()
        # Derived graph views used per namespace: computed once, not once per namespace.
        self.groups = {ns: group for group in graph.strongly_connected_namespaces()
                       for ns in group}
        self.blast: dict[str, int] = {}
        self._group_steps: dict[tuple[str, ...], frozenset[str]] = {}
        self.steps: list[Step] = []
        self.enroll_step: dict[str, str] = {}
        self.fates: dict[str, NamespaceFate] = {}
        #: Who is in the mesh once the enroll steps are done (see ``exceptions_for``).
        self.planned: Enrollment | None = None
        #: Findings that ask for a port exception, by namespace (see ``exceptions_for``).
        self.exception_findings: dict[str, list[Finding]] = defaultdict(list)
        for finding in findings:
            if finding.exception is not None:
                self.exception_findings[finding.namespace].append(finding)

    # -- shared pieces ------------------------------------------------------------------------

    def build(self) -> Plan:
        self.prerequisites()
        self.mesh_permissive()
        self.enrollment()
        self.strict()
        self.mesh_strict()
        steps = [_unseen_rollbacks(s, self.unread) for s in self.attach_findings()]
        step_ids: dict[str, list[str]] = defaultdict(list)
        for s in steps:
            step_ids[s.target.namespace].append(s.id)
        fates = []
        for ns in self.inv.namespaces:
            fate = self.fates.get(ns.name) or NamespaceFate(
                ns.name, NamespaceMode.OUTSIDE, False, FinalMtls.OUTSIDE,
                self.members.reasons.get(ns.name, ""))
            fates.append(NamespaceFate(fate.name, fate.mode, fate.already, fate.final,
                                       fate.reason, tuple(step_ids.get(ns.name, ()))))
        return Plan(self.root, self.granularity, self.istio, tuple(steps),
                    tuple(fates), self.findings)

    def istio_state(self) -> IstioState:
        istiod = [w for w in self.inv.workloads if _is_istiod(w)]
        return IstioState(
            crds=tuple(sorted(c for c in self.inv.crds if c.endswith(".istio.io"))),
            istiod=tuple(sorted(w.ref.key for w in istiod)),
            revisions=tuple(sorted({w.pod_labels.get("istio.io/rev", "default")
                                    for w in istiod})),
            root_namespace=self.root,
            root_namespace_present=self.root in self.inv.namespace_index)

    def revision(self) -> str | None:
        """The one istiod revision to label new sidecar namespaces with, when there is exactly
        one and it is not the default (``istio-injection=enabled`` needs a default)."""
        revisions = self.istio.revisions
        return revisions[0] if len(revisions) == 1 and revisions[0] != "default" else None

    # -- phase 1 and 2 ------------------------------------------------------------------------

    def prerequisites(self) -> None:
        state = self.istio
        notes: list[str] = []
        if not state.present and "Deployment" in self.unread:
            notes.append("Istio: unknown: Deployments could not be read, so istiod could not be "
                         "looked for")
        elif state.present:
            notes.append("Istio is installed: " + ", ".join(
                [*(f"istiod {i}" for i in state.istiod),
                 f"{len(state.crds)} Istio CRDs" if state.crds else "Istio objects"]))
        else:
            notes.append("Istio is not installed: install istiod (and the CRDs) first"
                         + (f" ({len(self.inv.istio)} Istio object(s) in the input do not "
                            "make a control plane)" if self.inv.istio else ""))
        ambient = sorted(n for n, m in self.members.modes.items() if m == NamespaceMode.AMBIENT)
        if ambient:
            notes.append(f"ambient data plane for {policy.join_names(ambient)}: Istio installed "
                         "with the ambient profile (istio-cni and ztunnel on every node)")
        if not state.root_namespace_present:
            notes.append(f"root namespace {self.root} not found in the input")
        mesh = self.policies.mesh_wide
        if policy.PEER_AUTHENTICATION in self.unread:
            notes.append("mesh-wide PeerAuthentication: unknown: PeerAuthentications could not "
                         "be read, so none is assumed absent")
        else:
            notes.append(f"mesh-wide PeerAuthentication: {mesh.ref} mode "
                         f"{policy.mtls_mode(mesh)}" if mesh else
                         "no mesh-wide PeerAuthentication (Istio defaults to PERMISSIVE)")
        for p in sorted(self.policies.namespace_wide.values(), key=lambda p: p.ref):
            notes.append(f"namespace-wide PeerAuthentication {p.ref} mode {policy.mtls_mode(p)}")
        for ignored, winner in self.policies.shadowed:
            notes.append(f"warning: {ignored.ref} is ignored by Istio: {winner.ref} is older "
                         "and of the same scope (only the oldest counts)")
        for p in self.policies.root_selector:
            notes.append(f"warning: {p.ref} has a selector in the root namespace; Istio may "
                         "ignore it or apply it to every namespace (istio/api PR #3604)")
        for rule, mode in policy.tls_destination_rules(self.inv):
            notes.append(f"DestinationRule {rule.ref.namespace}/{rule.ref.name} sets tls.mode "
                         f"{mode}, which overrides auto mTLS")
        self.steps.append(Step(
            id="10-prereq", phase=Phase.PREREQUISITES,
            title="Check Istio and the existing mTLS policy",
            target=Target(Scope.MESH),
            why="Nothing may change before the control plane is present and the policies that "
                "already count are known (only the oldest mesh-wide and namespace-wide "
                "PeerAuthentication are used).",
            preconditions=tuple(notes),
            verify=("kubectl get crd peerauthentications.security.istio.io",
                    f"kubectl get deploy -n {quote(self.root)} -l app=istiod",
                    "kubectl get peerauthentication -A",
                    "istioctl analyze -A"),
        ))

    def mesh_policy(self, mode: str) -> dict[str, Any]:
        mesh = self.policies.mesh_wide
        if mesh is not None:
            current = self.tracker.objects.get((mesh.ref.kind, self.root, mesh.ref.name))
            obj = dict(current or policy.restore_object(mesh))
            obj["spec"] = {**dict(obj.get("spec") or {}), "mtls": {"mode": mode}}
            return obj
        return policy.peer_authentication(self.root, "default", mode=mode)

    def mesh_permissive(self) -> None:
        mesh = self.policies.mesh_wide
        if mesh is not None and self.mesh_was_strict:
            self.steps.append(Step(
                id="20-mesh-permissive", phase=Phase.MESH_PERMISSIVE,
                title=f"Keep mesh-wide STRICT in {self.root} (already STRICT)",
                target=Target(Scope.MESH, self.root),
                why=(f"{mesh.ref} already makes the mesh STRICT. It is not lowered: PERMISSIVE "
                     "would let plaintext into every meshed namespace without a policy of its "
                     "own. Instead, each namespace the plan enrolls gets a namespace-wide "
                     "PERMISSIVE policy at its enroll step (the narrowest policy wins) until "
                     "its own STRICT step."),
                preconditions=("10-prereq done: Istio installed",),
                requires=("10-prereq",),
                verify=(f"kubectl get peerauthentication -n {quote(self.root)}",),
            ))
            return
        apply, undo = self.tracker.put(self.mesh_policy("PERMISSIVE"))
        self.steps.append(Step(
            id="20-mesh-permissive", phase=Phase.MESH_PERMISSIVE,
            title=f"Make mesh-wide PERMISSIVE explicit in {self.root}",
            target=Target(Scope.MESH, self.root),
            why="Servers must accept plaintext and mTLS while clients move into the mesh; an "
                "explicit policy makes the starting point visible and the last step a one-field "
                "change.",
            apply=(apply,), rollback=(undo,),
            preconditions=("10-prereq done: Istio installed",),
            requires=("10-prereq",),
            verify=(f"kubectl get peerauthentication -n {quote(self.root)}",
                    "istioctl x describe pod <any meshed pod> (Effective PeerAuthentication: "
                    "PERMISSIVE)"),
        ))

    # -- phase 3: enrollment ------------------------------------------------------------------

    def enrollment_order(self) -> list[list[str]]:
        """Groups of namespaces to enroll, callers before callees; each strongly connected group
        is one entry (members by name)."""
        enrolled = [n for n in self.members.modes if self.members.enrolled(n)]
        return callers_first(enrolled, self.graph.namespace_graph.successors_of)

    def enrollment(self) -> None:
        workloads = self.inv.workloads_by_namespace  # grouped once per inventory
        for group in self.enrollment_order():
            for ns in group:
                self.enroll(ns, group, workloads.get(ns, ()))

    def enroll(self, ns: str, group: list[str], workloads: Sequence[Workload]) -> None:
        mode = self.members.modes[ns]
        labels = dict(self.tracker.labels.get(ns, {}))
        if mode == NamespaceMode.AMBIENT:
            if labels.get("istio.io/dataplane-mode") != "ambient":
                labels["istio.io/dataplane-mode"] = "ambient"
            # No istio.io/rev here, whatever revision runs: ztunnel serves ambient pods without
            # it, and the revision's sidecar injector selects namespaces that carry it, so
            # the label would win over ambient and inject sidecars (istio/istio#60313).
        elif not (labels.get("istio-injection") == "enabled" or labels.get("istio.io/rev")):
            rev = self.revision()
            if rev:
                labels["istio.io/rev"] = rev
            else:
                labels["istio-injection"] = "enabled"
        apply_label, undo_label = self.tracker.set_labels(ns, labels)
        apply: list[Change] = [apply_label]
        undo: list[Change] = [undo_label]
        pin, precedence = self.permissive_pin(ns, mode)
        if pin is not None:
            a, u = self.tracker.put(pin)
            apply.append(a)
            undo.insert(0, u)
        incompatible = ([f"incompatible with ambient, which does not support DISABLE: {p.ref} "
                         f"sets {', '.join(found)}; change it before labelling {ns}"
                         for p in self.policies.workload.get(ns, ())
                         if (found := policy.disable_settings(p))]
                        if mode == NamespaceMode.AMBIENT else [])
        restarts = [w for w in sorted(workloads, key=lambda w: w.ref)
                    if mode == NamespaceMode.SIDECAR and w.ref.kind in RESTARTABLE
                    and not self.callers.is_gateway(w)
                    and self.callers.of(w.ref.key)[0]
                    and not (w.observed and w.observed.pods
                             and w.observed.sidecar_injected == w.observed.pods)]
        for w in restarts:
            stub = policy.object_stub(w.ref, policy.WORKLOAD_API[w.ref.kind])
            apply.append(Change(Action.RESTART, stub))
            undo.append(Change(Action.RESTART, stub))
        callers = self.caller_namespaces(ns)
        earlier = [self.enroll_step[c] for c in callers if c in self.enroll_step]
        step_id = f"30-enroll-{ns}"
        self.enroll_step[ns] = step_id
        position = (f"Callers are enrolled before the Services they call; namespaces calling "
                    f"{ns} ({policy.join_names(callers) or 'none'}) come first.")
        if len(group) > 1:
            position += (f" {ns} calls and is called by {policy.join_names(group)} in a cycle: "
                         "they are enrolled together, before any of them goes STRICT.")
        already = ns in self.members.already
        how = ("no restart: ztunnel captures traffic as soon as the label is set"
               if mode == NamespaceMode.AMBIENT
               else f"rollout restart of {len(restarts)} workload(s) so their pods get a sidecar")
        self.steps.append(Step(
            id=step_id, phase=Phase.ENROLL,
            title=f"Enroll {ns} ({mode})" if not already else f"Confirm {ns} is enrolled ({mode})",
            target=Target(Scope.NAMESPACE, ns),
            why=f"{position} Mode {mode}: {how}." + (f" {precedence}" if precedence else ""),
            apply=tuple(apply), rollback=tuple(undo),
            preconditions=("20-mesh-permissive done" if self.mesh_was_strict
                           else "mesh-wide PERMISSIVE applied",
                           *(f"{c} enrolled" for c in callers if c in self.enroll_step),
                           *incompatible),
            requires=("20-mesh-permissive", *earlier),
            verify=_enroll_checks(ns, mode),
        ))
        self.fates[ns] = NamespaceFate(ns, mode, already, FinalMtls.PERMISSIVE,
                                       self.members.reasons[ns])

    def permissive_pin(self, ns: str, mode: NamespaceMode) -> tuple[dict[str, Any] | None, str]:
        """The namespace-wide PERMISSIVE policy ``ns`` needs while it joins the mesh, if any, and
        what precedence does to the namespace (text for the step's ``why``).

        A namespace-wide policy overrides the mesh-wide one, and ``UNSET`` inherits it. DISABLE
        goes to PERMISSIVE (never DISABLE -> STRICT; ambient does not support DISABLE). STRICT,
        its own or inherited from a mesh already STRICT, goes to PERMISSIVE when the namespace
        is not enrolled yet: its sidecars would enforce it at once, before the exceptions for
        callers outside the mesh exist. An enrolled namespace already STRICT is left so."""
        existing = self.policies.namespace_wide.get(ns)
        own = policy.mtls_mode(existing) if existing is not None else "UNSET"
        mesh = self.policies.mesh_wide
        if own != "UNSET" and existing is not None:
            effective, source = own, (f"{existing.ref} ({own}) overrides the mesh-wide policy "
                                      f"for {ns} (the narrowest policy wins), so "
                                      "20-mesh-permissive does not reach it")
        elif self.mesh_was_strict and mesh is not None:
            effective, source = "STRICT", f"{ns} inherits STRICT from {mesh.ref}"
        else:
            return None, ""
        if effective == "DISABLE":
            change = ("it goes to PERMISSIVE here: DISABLE -> PERMISSIVE -> STRICT, never "
                      "straight across" + (", and ambient does not support DISABLE"
                                           if mode == NamespaceMode.AMBIENT else ""))
        elif effective == "STRICT" and ns not in self.members.already:
            change = (f"a namespace-wide PERMISSIVE holds until 40-strict-{ns}: STRICT would "
                      "refuse callers outside the mesh as soon as the workloads join, before "
                      "their exceptions exist")
        else:
            return None, f"{source[0].upper()}{source[1:]}; kept as it is."
        obj = (policy.with_mode(existing, "PERMISSIVE") if existing is not None
               else policy.peer_authentication(ns, "default", mode="PERMISSIVE"))
        return obj, f"{source[0].upper()}{source[1:]}; {change}."

    def caller_namespaces(self, ns: str) -> list[str]:
        g = self.graph.namespace_graph
        if ns not in g:
            return []
        return sorted(p for p in g.predecessors(ns)
                      if p != ns and self.members.enrolled(p))

    # -- phase 4: exceptions and STRICT -------------------------------------------------------

    def strict(self) -> None:
        radius = self.graph.blast_radius()
        self.blast = {ns: radius.get(ns, 0) for ns in self.enroll_step}
        order = sorted(self.enroll_step, key=lambda ns: (self.blast[ns], ns))
        for ns in order:
            self.strict_namespace(ns)

    def exceptions_for(self, ns: str) -> tuple[dict[str, _Exception], list[str]]:
        """Port exceptions needed before ``ns`` goes STRICT, and callers none can cover."""
        # The calls that need one are what `planner what-if --after-enrollment --strict NS`
        # says breaks because of the caller: the same rows, built by the same code
        # (whatif.refused_for_the_caller), so the two never disagree.
        # DestinationRule and pod-IP breakage is no caller's to except: it stays a blocker.
        from planner.domain import whatif  # it builds on this module's membership helpers

        needed: dict[str, _Exception] = {}
        # Keyed by caller, workload and problem: a call and the finding about it say the same.
        uncovered: dict[tuple[str, str, str], str] = {}
        if self.planned is None:
            self.planned = whatif.planned_enrollment(self.inv, self.graph, self.members,
                                                     self.callers)
        strict = whatif.namespace_policy(self.inv, self.root, ns, "STRICT", self.policies)
        refused = whatif.refused_for_the_caller(
            self.inv, self.graph, [strict], root_namespace=self.root, enrollment=self.planned,
            scope=self.inv.workloads_by_namespace.get(ns, ()), index=self.index)
        for row in refused:
            server = self.inv.workload_of(row.callee)
            if server is None:
                continue
            reason = self.planned.of(row.caller)[1]
            self.cover(needed, uncovered, row.caller, f"{row.caller} ({reason})", server,
                       () if row.container_port is None else (row.container_port,))
        for finding in self.exception_findings.get(ns, ()):
            offer = finding.exception
            if offer is None:
                continue
            caller, target = offer.caller, offer.workload
            workload = self.inv.workload_of(target)
            if workload is None or self.callers.of(caller)[0] \
                    or not self.callers.enforces(target):
                continue
            ports = tuple(sorted(set(offer.ports)))
            entry = self.cover(needed, uncovered, caller, f"{caller} ({finding.code})",
                               workload, ports)
            if entry is not None:
                entry.findings.append(finding)
        return dict(sorted(needed.items())), [uncovered[k] for k in sorted(uncovered)]

    def cover(self, needed: dict[str, _Exception], uncovered: dict[tuple[str, str, str], str],
              caller: str, who: str, workload: Workload,
              ports: Sequence[int]) -> _Exception | None:
        """Add ``ports`` of ``workload`` to its port exception for ``caller``; when no exception
        can work, record why in ``uncovered`` (``who`` starts with the caller id) instead."""
        selector, clash = self.isolating_selector(workload)
        # portLevelMtls applies only to ports behind a Service (MESH-NOTES §1).
        unbound = sorted(set(ports) - self.index.bound_ports(workload))
        problem = (
            "no container port for a port exception" if not ports
            else clash if clash
            else (f"container port(s) {', '.join(map(str, unbound))} not bound to a Service "
                  "(Istio ignores portLevelMtls on such ports)") if unbound
            else "")
        if problem:
            uncovered.setdefault((caller, workload.ref.key, problem),
                                 f"{who} -> {workload.ref.key}: {problem}")
            return None
        entry = needed.setdefault(workload.ref.key, _Exception(workload, selector))
        entry.ports.update(ports)
        entry.callers.add(caller)
        return entry

    @cached_property
    def _pod_labels(self) -> policy.PodLabelIndex:
        """Workloads by ``(namespace, pod label, value)``."""
        return policy.pod_label_index(self.inv.workloads)

    @cached_property
    def _served(self) -> frozenset[str]:
        """Workload ids some Service sends traffic to."""
        return frozenset(w for ws in self.graph.backends.values() for w in ws)

    @cached_property
    def _blind(self) -> tuple[dict[str, list[int]], list[int]]:
        """Blind workloads (``manifest_coverage.blind``, by position) by namespace, and those
        staying outside the mesh (see ``proof_for``)."""
        by_ns: dict[str, list[int]] = defaultdict(list)
        outside = []
        for i, key in enumerate(self.graph.manifest_coverage.blind):
            ref = parse_ref(key)
            if ref is None:
                continue
            by_ns[ref.namespace].append(i)
            if not self.callers.of(key)[0]:
                outside.append(i)
        return by_ns, outside

    def isolating_selector(self, workload: Workload) -> tuple[dict[str, str], str]:
        """``matchLabels`` for a policy on ``workload`` alone, or ``{}`` and why there is none
        (:func:`planner.domain.policy.isolating_selector`)."""
        return policy.isolating_selector(workload, self._pod_labels)

    def strict_namespace(self, ns: str) -> None:
        start = len(self.steps)
        exceptions, uncovered = self.exceptions_for(ns)
        callers = self.caller_namespaces(ns)
        requires = sorted(self.group_enrollment(ns).union(
            self.enroll_step[c] for c in (ns, *callers) if c in self.enroll_step))
        blast = self.blast[ns]
        if uncovered:
            self.keep_permissive(ns, uncovered, requires)
            return
        names = _unique_names(exceptions)
        exception_ids = []
        for key, entry in exceptions.items():
            step_id = f"50-exception-{ns}-{names[key]}"
            exception_ids.append(step_id)
            self.exception_step(ns, step_id, entry, requires)
        position = (f"Blast radius {blast} dependent workload(s); namespaces go STRICT fewest "
                    "dependents first, ties by name. Every caller is enrolled "
                    f"({policy.join_names(callers) or 'no other namespace calls it'})"
                    + (" or covered by an exception applied just before." if exceptions
                       else "."))
        proof, blind, unproven = self.proof_for(ns)
        if self.granularity == Granularity.WORKLOAD:
            self.workload_strict_steps(ns, exceptions, requires + exception_ids, position,
                                       (proof, blind, unproven))
        existing = self.policies.namespace_wide.get(ns)
        obj = (policy.with_mode(existing, "STRICT") if existing is not None
               else policy.peer_authentication(ns, "default", mode="STRICT"))
        if existing is not None:
            current = self.tracker.objects.get((existing.ref.kind, ns, existing.ref.name))
            if current is not None:
                obj = {**current, "spec": {**dict(current.get("spec") or {}),
                                           "mtls": {"mode": "STRICT"}}}
        apply, undo = self.tracker.put(obj)
        excepted = [e.workload.name for e in exceptions.values()]
        step_id = f"40-strict-{ns}"
        self.steps.append(Step(
            id=step_id, phase=Phase.STRICT,
            title=f"STRICT mTLS for namespace {ns}",
            target=Target(Scope.NAMESPACE, ns),
            why=position + (f" Edits the existing {existing.ref} (the one Istio uses) instead "
                            "of adding a policy Istio would ignore; a namespace-wide policy "
                            "overrides the mesh-wide one, workload policies override it."
                            if existing else ""),
            apply=(apply,), rollback=(undo,),
            preconditions=(f"no plaintext traffic into {ns} over 7 days (queries below return "
                           "no series)", *(f"{c} enrolled" for c in callers), *unproven),
            promql=plaintext_queries(ns, excepted_workloads=excepted),
            # Its per-workload STRICT steps, if any: added above, by this call alone.
            requires=tuple(sorted({*requires, *exception_ids,
                                   *(s.id for s in self.steps[start:]
                                     if s.phase is Phase.STRICT)})),
            verify=_strict_checks(ns),
            proof=proof, blind=blind,
        ))
        fate = self.fates[ns]
        self.fates[ns] = NamespaceFate(ns, fate.mode, fate.already, FinalMtls.STRICT,
                                       fate.reason)

    def group_enrollment(self, ns: str) -> frozenset[str]:
        """The enroll steps of the namespaces calling each other in a cycle with ``ns`` (its
        group of :meth:`CallGraph.strongly_connected_namespaces`): once per group, as every
        namespace of a group of N requires the same N steps."""
        group = self.groups.get(ns, ())
        found = self._group_steps.get(group)
        if found is None:
            found = self._group_steps[group] = frozenset(
                self.enroll_step[c] for c in group if c in self.enroll_step)
        return found

    def proof_for(self, ns: str) -> tuple[Proof, tuple[str, ...], tuple[str, ...]]:
        """What can prove STRICT on ``ns`` safe, the blind workloads that keep the manifests
        from it, and the precondition that says so. Blind workloads (no outbound call in the
        manifests) in ``ns``, in a namespace calling it, or staying outside the mesh may call
        into ``ns`` unseen: only observed traffic can show those calls."""
        by_ns, outside = self._blind
        near = {ns, *self.graph.namespace_graph.predecessors(ns)}
        keys = self.graph.manifest_coverage.blind
        blind = tuple(keys[i] for i in sorted({*outside, *(i for n in near
                                                           for i in by_ns.get(n, ()))}))
        if not blind:
            return Proof.MANIFESTS, (), ()
        shown = policy.join_names([*blind[:3], f"{len(blind) - 3} more"] if len(blind) > 3
                                  else blind)
        return Proof.OBSERVED_TRAFFIC, blind, (
            f"proof from observed traffic: the manifests show no outbound call of {shown}, "
            f"so they cannot show every caller of {ns}: enroll in PERMISSIVE "
            f"(30-enroll-{ns}), observe (--prometheus or --traffic), then STRICT; unproven "
            "until a traffic source gates this step",)

    def exception_step(self, ns: str, step_id: str, entry: _Exception,
                       requires: list[str]) -> None:
        w = entry.workload
        mode = "STRICT" if self.granularity == Granularity.WORKLOAD else None
        obj = policy.peer_authentication(
            ns, f"meshplan-exception-{w.name}", mode=mode,
            selector=entry.selector,
            port_modes={p: "PERMISSIVE" for p in entry.ports})
        apply, undo = self.tracker.put(obj)
        callers = sorted(entry.callers)
        ports = ", ".join(str(p) for p in sorted(entry.ports))
        self.steps.append(Step(
            id=step_id, phase=Phase.EXCEPTION,
            title=f"Port exception for {w.ref.kind} {ns}/{w.name} (ports {ports})",
            target=Target(Scope.WORKLOAD, ns, w.name),
            why=(f"{policy.join_names(callers)} cannot join the mesh and call(s) {w.name} on "
                 f"container port(s) {ports}; a workload policy keeps exactly those ports "
                 f"PERMISSIVE. Applied before 40-strict-{ns} so the caller is never refused."),
            apply=(apply,), rollback=(undo,),
            preconditions=(f"the pods of {w.ref} carry the labels " + ", ".join(
                               f"{k}={v}" for k, v in entry.selector.items()),
                           "no other workload PeerAuthentication selects these pods (Istio "
                           "keeps only the oldest)"),
            requires=tuple(requires),
            verify=(f"istioctl x describe pod <pod of {quote(w.name)}> -n {quote(ns)}",
                    f"the excepted callers still reach {w.name}: "
                    + ", ".join(callers)),
            forced_by=tuple(callers),
            blockers=tuple(sorted(entry.findings)),
        ))

    def workload_strict_steps(self, ns: str, exceptions: Mapping[str, _Exception],
                              requires: list[str], position: str,
                              proof: tuple[Proof, tuple[str, ...], tuple[str, ...]]) -> None:
        served = self._served
        candidates = [w for w in self.inv.workloads_by_namespace.get(ns, ())
                      if w.ref.key in served and w.ref.key not in exceptions
                      and self.callers.of(w.ref.key)[0]
                      # A selector shared with another workload would stage it too, unseen.
                      and self.isolating_selector(w)[0]]
        names = _unique_names({w.ref.key: w for w in candidates})
        for w in sorted(candidates, key=lambda w: (names[w.ref.key], w.ref)):
            obj = policy.peer_authentication(ns, f"meshplan-strict-{w.name}", mode="STRICT",
                                             selector=self.isolating_selector(w)[0])
            apply, undo = self.tracker.put(obj)
            self.steps.append(Step(
                id=f"40-strict-{ns}-{names[w.ref.key]}", phase=Phase.STRICT,
                title=f"STRICT mTLS for {w.ref.kind} {ns}/{w.name}",
                target=Target(Scope.WORKLOAD, ns, w.name),
                why=position + " Staged per workload (--granularity workload).",
                apply=(apply,), rollback=(undo,),
                preconditions=(f"no plaintext traffic into {w.name} over 7 days", *proof[2]),
                promql=tuple(q.replace(f'destination_service_namespace="{ns}"',
                                       f'destination_service_namespace="{ns}", '
                                       f'destination_workload="{w.name}"')
                             for q in plaintext_queries(ns)),
                requires=tuple(requires),
                verify=(f"istioctl x describe pod <pod of {quote(w.name)}> -n {quote(ns)}",),
                proof=proof[0], blind=proof[1],
            ))

    def keep_permissive(self, ns: str, uncovered: list[str], requires: list[str]) -> None:
        existing = self.policies.namespace_wide.get(ns)
        obj = (policy.with_mode(existing, "PERMISSIVE") if existing is not None
               else policy.peer_authentication(ns, "default", mode="PERMISSIVE"))
        apply, undo = self.tracker.put(obj)
        reason = "; ".join(uncovered)
        self.steps.append(Step(
            id=f"50-exception-{ns}", phase=Phase.EXCEPTION,
            title=f"Keep namespace {ns} PERMISSIVE",
            target=Target(Scope.NAMESPACE, ns),
            why=(f"Some callers cannot join the mesh and no port exception can cover them: "
                 f"{reason}. An explicit namespace policy keeps {ns} PERMISSIVE when the mesh "
                 "goes STRICT. Plaintext then gets no authn checks: add an "
                 "AuthorizationPolicy."),
            apply=(apply,), rollback=(undo,),
            requires=tuple(requires),
            verify=(f"kubectl get peerauthentication -n {quote(ns)}",),
            forced_by=tuple(sorted({u.split(" ", 1)[0] for u in uncovered})),
        ))
        fate = self.fates[ns]
        self.fates[ns] = NamespaceFate(ns, fate.mode, fate.already, FinalMtls.PERMISSIVE,
                                       f"{fate.reason}; kept PERMISSIVE: {reason}")

    # -- phase 5 ------------------------------------------------------------------------------

    def mesh_strict(self) -> None:
        apply, undo = self.tracker.put(self.mesh_policy("STRICT"))
        planned = sorted(self.enroll_step)
        self.steps.append(Step(
            id="60-mesh-strict", phase=Phase.MESH_STRICT,
            title=f"Mesh-wide STRICT in {self.root}",
            target=Target(Scope.MESH, self.root),
            why="Last: every enrolled namespace has its own policy by now (STRICT, or PERMISSIVE "
                "with its reason), and the port exceptions stay, so this only sets the default "
                "for namespaces without a policy, including ones created later."
                + (" The mesh was STRICT before the plan (kept at 20-mesh-permissive): this "
                   "re-applies it unchanged, and its rollback keeps it STRICT."
                   if self.mesh_was_strict else ""),
            apply=(apply,), rollback=(undo,),
            preconditions=("every namespace step done",
                           "no plaintext into namespaces without their own policy"),
            promql=plaintext_queries(exclude_namespaces=planned),
            requires=tuple(s.id for s in self.steps
                           if s.phase in (Phase.STRICT, Phase.EXCEPTION)),
            verify=(f"kubectl get peerauthentication -n {quote(self.root)} -o yaml",
                    "a pod without a sidecar fails to call a meshed Service (curl exit 56, "
                    "HTTP 000)"),
        ))

    def attach_findings(self) -> list[Step]:
        """Attach each finding to the step it endangers: the namespace's enrollment for the
        ambient readiness codes, else its STRICT (or keep PERMISSIVE) step, else its
        enrollment, else the prerequisites."""
        by_ns: dict[str, list[Finding]] = defaultdict(list)
        for f in self.findings:
            by_ns[f.namespace].append(f)
        homes: dict[str, str] = {}
        for s in self.steps:
            ns = s.target.namespace
            if s.target.scope != Scope.NAMESPACE:
                continue
            if s.phase in (Phase.STRICT, Phase.EXCEPTION) or ns not in homes:
                homes[ns] = s.id
        placed: dict[str, list[Finding]] = defaultdict(list)
        for ns, found in by_ns.items():
            for f in found:
                enroll = self.enroll_step.get(ns) if f.code in self.enrollment_codes else None
                placed[enroll or homes.get(ns, "10-prereq")].append(f)
        result = []
        for s in self.steps:
            extra = placed.get(s.id, [])
            if extra:
                s = Step(**{**{f: getattr(s, f) for f in s.__dataclass_fields__},
                            "blockers": tuple(sorted({*s.blockers, *extra}))})
            result.append(s)
        return result


def _is_istiod(workload: Workload) -> bool:
    return workload.name.startswith("istiod") or workload.pod_labels.get("app") == "istiod"


def _unique_names(entries: Mapping[str, Any]) -> dict[str, str]:
    """Step-id suffixes for workloads: the name, or ``name-kind`` when two kinds share it."""
    refs = {key: parse_ref(key) for key in entries}
    counts: dict[str, int] = defaultdict(int)
    for ref in refs.values():
        if ref is not None:
            counts[ref.name] += 1
    return {key: (ref.name if counts[ref.name] == 1 else f"{ref.name}-{ref.kind.lower()}")
            for key, ref in refs.items() if ref is not None}


def _enroll_checks(ns: str, mode: NamespaceMode) -> tuple[str, ...]:
    if mode == NamespaceMode.AMBIENT:
        return (f"istioctl ztunnel-config workloads --workload-namespace {quote(ns)} "
                "(PROTOCOL HBONE for every pod)",)
    return (f"kubectl rollout status -n {quote(ns)} deploy,sts,ds",
            f"istioctl x check-inject -n {quote(ns)}",
            f"every pod in {ns} runs an istio-proxy container")


def _strict_checks(ns: str) -> tuple[str, ...]:
    return (*plaintext_queries(ns, window="15m"),
            f"istioctl x describe pod <pod> -n {quote(ns)} (Effective PeerAuthentication: STRICT)",
            f"a pod without a sidecar calling a Service in {ns} fails (curl exit 56, HTTP 000)")
