"""The verification gate of every STRICT step, decided by the what-if.

A STRICT step's gate asks :func:`planner.domain.whatif.simulate` (the function behind
``planner what-if`` and behind the plan's port exceptions) which calls the step would refuse
once applied where the plan puts it: the plan's enrollment done and the PeerAuthentications of
the steps before it in effect (its namespace's port exceptions, a namespace kept PERMISSIVE),
judged on the call graph merged with the traffic snapshot. The gate, the plan and the command
thus judge a call by the same rules: the effective mode per container port, the caller
reasons, and observed plaintext as one of them (``observed-plaintext``).

* ``fail``: some call would break with observed plaintext. The offenders are the observed
  edges of exactly those calls, by (caller, Service) pair: telemetry carries no port.
* ``unknown``: nothing proves the traffic clean (no data at all, no series into what STRICT
  would lock, traffic of unknown security: the reasons of
  :func:`~planner.domain.traffic.plaintext_gate`), or plaintext into the namespace that the
  input cannot place on a workload.
* ``pass``: the traffic into what STRICT would lock was all mutual TLS, provably.

Traffic the what-if lets through because its ports stay PERMISSIVE (a port exception, a
namespace kept PERMISSIVE), or that goes to workloads enforcing no PeerAuthentication (Istio
gateways, opted-out workloads), is left out, and the gate's reason lists it.
:func:`block_on_gates` then blocks the failing steps (rule MP301) and moves the proven
namespaces first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from planner.domain import policy
from planner.domain.authz_rollout import ShadowDenials, authz_gate
from planner.domain.findings import Finding
from planner.domain.graph import CallGraph
from planner.domain.inventory import Inventory, Workload
from planner.domain.membership import membership
from planner.domain.observed import UNNAMED_SERVICE_PREFIX, callee_id, caller_id
from planner.domain.plan import (
    Action,
    FinalMtls,
    NamespaceMode,
    Phase,
    Plan,
    Scope,
    Step,
)
from planner.domain.simulation_index import SimulationIndex
from planner.domain.traffic import (
    EVIDENCE_TEXT,
    GateResult,
    ObservedEdge,
    TrafficSnapshot,
    passed_on,
    plaintext_gate,
    weakest,
)
from planner.domain.value import value_class
from planner.domain.whatif import (
    OBSERVED,
    STRICT,
    EdgeVerdict,
    Enrollment,
    WhatIf,
    planned_enrollment,
    reached,
    simulate,
)

#: Phases whose steps have a verification gate.
GATED_PHASES: Final = frozenset({Phase.STRICT, Phase.MESH_STRICT})

_SHOWN: Final = 5


@value_class
class GateWhatIf:
    """The what-if a gate is decided by: ``result`` of the step applied where the plan puts it,
    and ``scope``, the workloads its own policies reach (those it judges, enforcing or not)."""

    result: WhatIf
    scope: tuple[Workload, ...]


# ---------------------------------------------------------------------------------------------
# The what-if of a step at its place in the plan


def plan_enrollment(inventory: Inventory, graph: CallGraph, plan: Plan) -> Enrollment:
    """Who is in the mesh once ``plan``'s enroll steps are done (every STRICT step requires
    its namespace's and its callers' enrollment): the enrollment the plan's exceptions are
    computed with."""
    modes = {f.name: str(f.mode) for f in plan.namespaces if f.mode is not NamespaceMode.OUTSIDE}
    return planned_enrollment(inventory, graph,
                              membership(inventory, plan.root_namespace, modes))


def _peer_authentications(step: Step) -> list[Mapping[str, Any]]:
    return [c.object for c in step.apply if c.action is Action.APPLY
            and c.object.get("kind") == policy.PEER_AUTHENTICATION]


def gate_what_ifs(inventory: Inventory, graph: CallGraph, plan: Plan,
                  enrollment: Enrollment | None = None,
                  only: str | None = None) -> dict[str, GateWhatIf]:
    """Each gated step's what-if at its place in the plan, by step id: its PeerAuthentications
    laid over those of every step before it (in its namespace and the root namespace; all of
    them for the mesh-wide step), judged under ``enrollment`` (default
    :func:`plan_enrollment`) for the workloads its own policies reach. ``graph`` is the call
    graph, merged with observed traffic for a gate. ``only``: simulate that step alone (one
    dialog needs one step; a plan of 10,000 Services has a hundred gated steps)."""
    if enrollment is None:
        enrollment = plan_enrollment(inventory, graph, plan)
    # Every gated step judges calls into the same workloads: resolved once for all of them.
    index = SimulationIndex(inventory, graph)
    root = plan.root_namespace
    earlier: list[Mapping[str, Any]] = []
    found: dict[str, GateWhatIf] = {}
    for step in plan.steps:
        own = _peer_authentications(step)
        if step.phase in GATED_PHASES and only in (None, step.id):
            places = {str((o.get("metadata") or {}).get("namespace", "")) for o in own}
            everywhere = root in places
            before = [o for o in earlier if everywhere
                      or (o.get("metadata") or {}).get("namespace") in places | {root}]
            scope = tuple(reached(inventory, root, own))
            found[step.id] = GateWhatIf(
                simulate(inventory, graph, [*before, *own], root_namespace=root,
                         enrollment=enrollment, scope=scope, index=index), scope)
        earlier.extend(own)
    return found


# ---------------------------------------------------------------------------------------------
# Judging the traffic


def evaluate_gates(plan: Plan, snapshot: TrafficSnapshot, inventory: Inventory,
                   graph: CallGraph,
                   shadow: ShadowDenials | None = None) -> dict[str, GateResult]:
    """The verification gate of every STRICT step (namespace, workload, mesh-wide), by step id,
    and of every authorization enforce step.

    ``graph`` is the call graph merged with ``snapshot``
    (:func:`~planner.domain.observed.merge_observed`); the what-ifs are
    :func:`gate_what_ifs`. An enforce step (``--authz``) takes the would-be-denials gate
    (:func:`~planner.domain.authz_rollout.authz_gate`) on the snapshot and ``shadow``, the
    shadow RBAC denials when they were read: ports STRICT keeps PERMISSIVE do not matter to
    an ALLOW policy, which denies a caller without a principal on every port."""
    found = gate_what_ifs(inventory, graph, plan)
    strict = sorted(f.name for f in plan.namespaces if f.final is FinalMtls.STRICT)
    seen = Observed.of(snapshot, graph)
    gates = {step.id: judge(snapshot, graph, found[step.id], step, strict, seen)
             for step in plan.steps if step.id in found}
    gates.update({step.id: authz_gate(snapshot, step, plan, shadow) for step in plan.steps
                  if step.phase is Phase.AUTHZ_ENFORCE})
    return gates


@value_class
class Observed:
    """A snapshot's edges as the gates look them up: each edge's (caller, callee) node ids in
    the merged graph, as merging named them, and the edges by destination namespace (in the
    snapshot's order)."""

    ids: Mapping[ObservedEdge, tuple[str, str]]
    by_namespace: Mapping[str, tuple[ObservedEdge, ...]]

    @classmethod
    def of(cls, snapshot: TrafficSnapshot, graph: CallGraph) -> Observed:
        """Index ``snapshot`` against ``graph`` (merged with it)."""
        by_namespace: dict[str, list[ObservedEdge]] = defaultdict(list)
        for e in snapshot.edges:
            by_namespace[e.destination_namespace].append(e)
        return cls({e: (caller_id(graph, e), callee_id(graph, e)) for e in snapshot.edges},
                   {ns: tuple(found) for ns, found in by_namespace.items()})


@dataclass
class _Sorted:
    offenders: list[ObservedEdge]
    judged: list[ObservedEdge]
    permissive: list[ObservedEdge]
    not_enforcing: list[ObservedEdge]
    unplaced: list[ObservedEdge]


def _breaks_on_observed(row: EdgeVerdict) -> bool:
    return row.breaks and any(r.code == OBSERVED for r in row.reasons)


def _sort(snapshot: TrafficSnapshot, graph: CallGraph, found: GateWhatIf, workload: str,
          seen: Observed) -> _Sorted:
    """Each observed edge by what the what-if made of its (caller, Service) pair."""
    rows: dict[tuple[str, str], list[EdgeVerdict]] = defaultdict(list)
    for row in found.result.edges:
        if row.observed is not None:
            rows[(row.caller, row.service)].append(row)
    scope = {w.ref.key for w in found.scope}
    by_name = {f"{UNNAMED_SERVICE_PREFIX}{w.namespace}/{w.name}": w.ref.key
               for w in found.scope}
    namespaces = {w.namespace for w in found.scope}
    out = _Sorted([], [], [], [], [])
    # Every call into the scope ends in one of its namespaces (a Service selects pods of its
    # own): a step on one namespace looks at that namespace's edges only.
    edges = (seen.by_namespace.get(next(iter(namespaces)), ()) if len(namespaces) == 1
             else snapshot.edges)
    for e in edges:
        if e.is_egress or e.total <= 0:
            continue
        caller, callee = seen.ids[e]
        pair = rows.get((caller, callee))
        if pair:
            if e.plaintext > 0 and any(_breaks_on_observed(r) for r in pair):
                out.offenders.append(e)
            elif any(r.mode == STRICT for r in pair):
                out.judged.append(e)
            else:
                out.permissive.append(e)
            continue
        backends = graph.backends.get(callee) or (
            (by_name[callee],) if callee in by_name else ())
        if set(backends) & scope:
            out.not_enforcing.append(e)  # in scope, and yet no row: its pods enforce nothing
        elif not backends and e.destination_namespace in namespaces and (
                not workload or e.destination_workload == workload):
            out.unplaced.append(e)
    return out


def judge(snapshot: TrafficSnapshot, graph: CallGraph, found: GateWhatIf, step: Step,
          strict_namespaces: Sequence[str] = (),
          seen: Observed | None = None) -> GateResult:
    """The gate of ``step`` from its what-if ``found`` and the traffic: ``fail`` with the
    observed edges of the calls that break with observed plaintext, else ``unknown`` or
    ``pass`` on the evidence of the traffic into what STRICT would lock (for the mesh-wide
    step, in each of ``strict_namespaces``, those the plan ends STRICT)."""
    if not snapshot.has_data:
        return plaintext_gate(snapshot, step.target.namespace)  # "no traffic data at all"
    workload = step.target.name if step.target.scope == Scope.WORKLOAD else ""
    sorted_edges = _sort(snapshot, graph, found, workload,
                         Observed.of(snapshot, graph) if seen is None else seen)

    def gate_on(edges: Iterable[ObservedEdge]) -> GateResult:
        part = replace(snapshot, edges=tuple(edges))
        if step.phase is Phase.MESH_STRICT:
            return mesh_gate(part, strict_namespaces)
        gate = plaintext_gate(part, step.target.namespace)
        return replace(gate, reason=f"workload {workload}: {gate.reason}") if workload else gate

    unplaced_plain = [e for e in sorted_edges.unplaced if e.plaintext > 0]
    if sorted_edges.offenders:
        gate = gate_on(sorted_edges.offenders)
    elif unplaced_plain:
        level = weakest(e.evidence for e in unplaced_plain)
        gate = GateResult("unknown", (
            f"{len(unplaced_plain)} caller(s) sent plaintext into Services the input does not "
            f"have ({_shown(unplaced_plain)}; {snapshot.where}): "
            "whether STRICT would refuse them cannot be told; scan the namespace whole"
            f" (evidence: {EVIDENCE_TEXT[level]})"), unplaced_plain, evidence=level)
    else:
        # Clean traffic the step lets through still shows the namespace's callers speak
        # mutual TLS; only what is plaintext or unproven there is left out of the proof.
        clean = [e for e in (*sorted_edges.permissive, *sorted_edges.not_enforcing)
                 if e.plaintext == 0 and e.tls_unknown == 0]
        gate = gate_on([*sorted_edges.judged, *sorted_edges.unplaced, *clean])
    return _with_left_out(gate, sorted_edges)


def _shown(edges: Sequence[ObservedEdge]) -> str:
    more = len(edges) - _SHOWN
    return ", ".join(e.label() for e in edges[:_SHOWN]) + (f" and {more} more" if more > 0
                                                           else "")


def _with_left_out(gate: GateResult, edges: _Sorted) -> GateResult:
    """``gate`` with its reason naming the plaintext or unproven traffic the step lets
    through, and why."""
    permissive = [e for e in edges.permissive if e.plaintext > 0 or e.tls_unknown > 0]
    not_enforcing = [e for e in edges.not_enforcing if e.plaintext > 0 or e.tls_unknown > 0]
    notes = []
    if permissive:
        notes.append("left out as the plan keeps the ports they reach PERMISSIVE (a port "
                     f"exception or a namespace policy): {_shown(permissive)}")
    if not_enforcing:
        notes.append("left out as the workloads they reach enforce no PeerAuthentication "
                     f"(not in the mesh, or Istio gateways): {_shown(not_enforcing)}")
    if not notes:
        return gate
    return replace(gate, reason="; ".join([gate.reason, *notes]))


def mesh_gate(snapshot: TrafficSnapshot, namespaces: Iterable[str]) -> GateResult:
    """The gate of mesh-wide STRICT over ``namespaces`` and every namespace with series.

    ``fail`` when any of them fails (offenders from all), else ``unknown`` when any is
    unknown, else ``pass``.
    """
    if not snapshot.has_data:
        return plaintext_gate(snapshot, "")  # "no traffic data at all", whatever the namespace
    checked = sorted(set(namespaces) | set(snapshot.namespaces()))
    # Each namespace's gate reads only its own edges: split once, not once per namespace.
    into: dict[str, list[ObservedEdge]] = defaultdict(list)
    for e in snapshot.edges:
        into[e.destination_namespace].append(e)
    gates = {ns: plaintext_gate(replace(snapshot, edges=tuple(into.get(ns, ()))), ns)
             for ns in checked}
    failing = [ns for ns, g in gates.items() if g.status == "fail"]
    if failing:
        offenders = sorted((e for ns in failing for e in gates[ns].offenders),
                           key=lambda e: (-e.plaintext, e))
        return GateResult("fail", f"plaintext observed into {', '.join(failing)} "
                          f"({snapshot.where})", offenders,
                          evidence=weakest(gates[ns].evidence for ns in failing))
    unknown = [ns for ns, g in gates.items() if g.status == "unknown"]
    if unknown:
        return GateResult("unknown", "no proof of mTLS-only traffic for "
                          f"{', '.join(unknown)}: " + gates[unknown[0]].reason,
                          evidence=weakest(gates[ns].evidence for ns in unknown),
                          proof=gates[unknown[0]].proof)
    level = weakest(g.evidence for g in gates.values())
    return GateResult("pass", f"all traffic into {', '.join(checked)} was mutual TLS "
                      f"({snapshot.where}; evidence: "
                      f"{passed_on(level)})", evidence=level)


# ---------------------------------------------------------------------------------------------
# The plan, blocked and ordered on its gates


def block_on_gates(plan: Plan, gates: Mapping[str, GateResult],
                   blockers: Callable[[Step, GateResult], Iterable[Finding]]) -> Plan:
    """The plan with each failing gated step blocked and the proven namespaces first.

    A STRICT or authorization enforce step whose gate fails gets the findings
    ``blockers(step, gate)`` gives (rule MP301, :mod:`planner.rules.plan.mp301_plaintext_observed`;
    MP304 for an enforce step), also added to ``plan.blockers``. Then the namespaces'
    exception and STRICT steps are regrouped so that namespaces whose gates all pass go first,
    the others after them, each side in the plan's order; if that would put a step before one
    it requires, the order is kept as is.
    """
    steps = []
    added: list[Finding] = []
    for step in plan.steps:
        gate = gates.get(step.id)
        if step.phase in (Phase.STRICT, Phase.AUTHZ_ENFORCE) and gate is not None \
                and gate.status == "fail":
            findings = tuple(blockers(step, gate))
            added.extend(findings)
            step = replace(step, blockers=tuple(sorted({*step.blockers, *findings})))
        steps.append(step)
    ordered = _ready_first(steps, gates)
    return replace(plan, steps=tuple(ordered),
                   blockers=tuple(sorted({*plan.blockers, *added})))


def _ready_first(steps: list[Step], gates: Mapping[str, GateResult]) -> list[Step]:
    section = [i for i, s in enumerate(steps) if s.phase in (Phase.EXCEPTION, Phase.STRICT)]
    if not section:
        return steps
    start, end = section[0], section[-1] + 1
    groups: dict[str, list[Step]] = {}
    for s in steps[start:end]:
        groups.setdefault(s.target.namespace, []).append(s)

    def waiting(group: list[Step]) -> bool:
        # Ready means proven: a namespace with no gate at all (kept PERMISSIVE, say) has
        # nothing proven and keeps its place.
        statuses = [gates[s.id].status for s in group if s.id in gates]
        return not statuses or any(status != "pass" for status in statuses)

    # sorted() is stable: within "ready" and "waiting" the plan's own order stays.
    ordered_groups = sorted(groups.values(), key=waiting)
    ordered = [*steps[:start], *(s for g in ordered_groups for s in g), *steps[end:]]
    ids = {s.id for s in steps}
    seen: set[str] = set()
    for s in ordered:
        if not (set(s.requires) & ids) <= seen:
            return steps
        seen.add(s.id)
    return ordered
