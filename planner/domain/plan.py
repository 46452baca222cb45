"""The PERMISSIVE -> STRICT rollout plan: ordered steps, each with its objects, rollback,
preconditions, verification and blockers (the types; :mod:`planner.domain.plan_builder` builds
one).

Phases (MESH-NOTES §1, Istio's mtls-migration task):

1. ``10-prereq``: what is installed and which existing policies count (read-only).
2. ``20-mesh-permissive``: mesh-wide PERMISSIVE in the root namespace, made explicit.
3. ``30-enroll-<ns>``: namespace labels (sidecar or ambient), callers before the Services
   they call; a strongly connected group of namespaces is enrolled back to back.
4. ``50-exception-<ns>-<workload>`` then ``40-strict-<ns>``: per namespace, the port exceptions
   for callers that cannot join the mesh, then namespace-wide STRICT; namespaces in order of
   blast radius (fewest dependents first), ties by name. A namespace with a caller no exception
   can cover stays PERMISSIVE explicitly (``50-exception-<ns>``) with the reason.
5. ``60-mesh-strict``: mesh-wide STRICT, last; namespace policies and exceptions stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from planner.domain.findings import Finding
from planner.domain.value import value_class
from planner.domain.verdict import FitVerdict

if TYPE_CHECKING:
    from planner.domain.fit import CostOption
    from planner.domain.whatif import WhatIf


class DataplaneSelection(StrEnum):
    """How a plan chose the data plane of the namespaces not yet labelled (``Plan.dataplane``):
    as ``planner assess`` recommends per namespace, one for all (``--dataplane``), or as a
    library caller gave it per namespace."""

    RECOMMENDED = "recommended"
    SIDECAR = "sidecar"
    AMBIENT = "ambient"
    GIVEN = "given"


@value_class
class DataplaneDecision:
    """The data plane of the namespaces not yet labelled: how it was chosen, the mode per
    namespace (sidecar where missing) and, per namespace, how it was chosen in words."""

    selection: DataplaneSelection
    modes: Mapping[str, str]
    why: Mapping[str, str]


#: How a plan chose its data plane, in words (``Plan.dataplane``).
DATAPLANE_WORDS = {
    DataplaneSelection.RECOMMENDED: "as `planner assess` recommends per namespace",
    DataplaneSelection.SIDECAR: "sidecar for every namespace (--dataplane sidecar)",
    DataplaneSelection.AMBIENT: "ambient for every namespace (--dataplane ambient)",
    DataplaneSelection.GIVEN: "as given per namespace",
}


class Phase(StrEnum):
    """Plan phases, in order."""

    PREREQUISITES = "prerequisites"
    MESH_PERMISSIVE = "mesh-permissive"
    ENROLL = "enroll"
    EXCEPTION = "exception"
    STRICT = "strict"
    MESH_STRICT = "mesh-strict"
    #: Opt-in (``--authz``): least-privilege authorization per namespace, dry run then
    #: enforced (:mod:`planner.domain.authz_rollout`).
    AUTHZ_DRY_RUN = "authz-dry-run"
    AUTHZ_ENFORCE = "authz-enforce"


#: The phases whose steps have a gate on observed traffic: the plaintext gate of namespace,
#: workload and mesh-wide STRICT, the would-be-denials gate of authorization enforce steps.
GATED_PHASES: frozenset[Phase] = frozenset({Phase.STRICT, Phase.MESH_STRICT,
                                            Phase.AUTHZ_ENFORCE})


class Action(StrEnum):
    """What a change does to the cluster."""

    APPLY = "apply"
    DELETE = "delete"
    RESTART = "restart"


class Scope(StrEnum):
    """What a step acts on."""

    MESH = "mesh"
    NAMESPACE = "namespace"
    WORKLOAD = "workload"


class Granularity(StrEnum):
    """How STRICT is staged: one step per namespace, or per workload inside namespaces."""

    NAMESPACE = "namespace"
    WORKLOAD = "workload"


class NamespaceMode(StrEnum):
    """How a namespace is in the mesh at the end of the plan."""

    SIDECAR = "sidecar"
    AMBIENT = "ambient"
    OUTSIDE = "outside"


class FinalMtls(StrEnum):
    """The mTLS mode a namespace ends the plan with (``outside``: not in the mesh)."""

    STRICT = "STRICT"
    PERMISSIVE = "PERMISSIVE"
    OUTSIDE = "outside"


class Proof(StrEnum):
    """What can prove a STRICT step safe (``Step.proof``): the manifests (every caller is
    known), or only observed traffic (some workloads may call in unseen); empty (falsy) for the
    other steps."""

    NONE = ""
    MANIFESTS = "manifests"
    OBSERVED_TRAFFIC = "observed traffic"


@value_class
class Change:
    """One change: apply a manifest, delete an object (stub), or restart a workload (stub)."""

    action: Action
    object: Mapping[str, Any]


@value_class
class Target:
    """What a step acts on: the mesh, a namespace or a workload."""

    scope: Scope
    namespace: str = ""
    name: str = ""


@value_class
class Step:
    """One plan step. ``requires`` are step ids that must be done first; ``promql`` queries
    must return no series (zero plaintext) before applying; ``forced_by`` names the callers
    that made an exception necessary."""

    id: str
    phase: Phase
    title: str
    target: Target
    why: str
    apply: tuple[Change, ...] = ()
    rollback: tuple[Change, ...] = ()
    preconditions: tuple[str, ...] = ()
    promql: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    verify: tuple[str, ...] = ()
    blockers: tuple[Finding, ...] = ()
    forced_by: tuple[str, ...] = ()
    #: STRICT steps: what can prove them safe, ``manifests`` (every caller is known) or
    #: ``observed traffic`` (``blind`` workloads may call in unseen); empty for other steps.
    proof: Proof = Proof.NONE
    blind: tuple[str, ...] = ()


@value_class
class NamespaceFate:
    """Where a namespace ends up: its data plane and its final mTLS mode."""

    name: str
    mode: NamespaceMode
    already: bool
    final: FinalMtls
    reason: str
    steps: tuple[str, ...] = ()


@value_class
class IstioState:
    """What the input shows of Istio's control plane. Never read from Istio objects such as a
    VirtualService in an app's manifests: they say nothing about a control plane, and meshplan
    writes PeerAuthentications itself."""

    #: The ``*.istio.io`` CustomResourceDefinitions, sorted.
    crds: tuple[str, ...]
    #: Keys (``Deployment/istio-system/istiod``) of the istiod workloads, sorted.
    istiod: tuple[str, ...]
    #: The istiod revisions (``istio.io/rev``; ``default`` without one), sorted.
    revisions: tuple[str, ...]
    root_namespace: str
    root_namespace_present: bool

    @property
    def present(self) -> bool:
        """True when Istio is installed: its CRDs or an istiod are in the input."""
        return bool(self.crds or self.istiod)


@value_class
class Plan:
    """The ordered rollout."""

    root_namespace: str
    granularity: Granularity
    istio: IstioState
    steps: tuple[Step, ...]
    namespaces: tuple[NamespaceFate, ...]
    blockers: tuple[Finding, ...]
    #: The fit verdict the plan opens with (None only for library callers that skip it).
    fit: FitVerdict | None = None
    #: How namespaces not yet labelled get their data plane: ``recommended`` (as ``assess``
    #: recommends per namespace), ``sidecar`` or ``ambient`` (``--dataplane``), or ``given``.
    dataplane: DataplaneSelection = DataplaneSelection.SIDECAR
    #: What the input could not tell and the plan assumed (one line each).
    notes: tuple[str, ...] = ()
    #: Per STRICT and exception step id: the calls that would break if it were applied now
    #: (``planner.domain.whatif.step_what_ifs``; empty for library callers that skip it).
    what_if: Mapping[str, WhatIf] = field(default_factory=dict)
    #: Kinds the scan could not read (``ScanResult.unread``): the plan states nothing about
    #: them as fact and has no rollback that deletes one (it could not see whether it existed).
    unread: tuple[str, ...] = ()
    #: ``namespace/workload`` -> principal of every workload, and ``namespace/service`` -> the
    #: names of the workloads behind it, for the gate of the authorization enforce steps
    #: (empty without them): observed traffic names callers by workload, and some sources
    #: name only the Service called.
    principals: Mapping[str, str] = field(default_factory=dict)
    service_backends: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: What the mesh this plan leaves adds in resource requests
    #: (:func:`planner.domain.fit.plan_cost`; None for library callers that skip it).
    cost: CostOption | None = None

    def unknown_step(self, step_id: str) -> str:
        """The message for a step id this plan does not have, listing the ones it has, and,
        for an authorization step id in a plan without them, the flag that plans them."""
        # Imported here: the authorization phases build on this module.
        from planner.domain.authz_rollout import DRY_RUN_PREFIX, ENFORCE_PREFIX

        known = f"no step {step_id!r} in the plan (steps: {', '.join(s.id for s in self.steps)})"
        authz = {Phase.AUTHZ_DRY_RUN, Phase.AUTHZ_ENFORCE}
        if step_id.startswith((DRY_RUN_PREFIX, ENFORCE_PREFIX)) and not any(
                s.phase in authz for s in self.steps):
            known += "; the authorization steps are planned with --authz"
        return known

    def step(self, step_id: str) -> Step:
        """The step with this id; KeyError when there is none."""
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)
