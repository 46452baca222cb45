"""The plan's authorization phases (opt-in: ``planner plan --authz``, ``plan.authz`` in the
profile): after mesh-wide STRICT, per namespace, the least-privilege ALLOW policies of
:mod:`planner.domain.authz` first in dry run, then enforced once a gate shows that they would
have denied nothing.

Pure. :func:`authz_steps` turns an :class:`~planner.domain.authz.AuthzProposal` into two steps
per namespace that has policies:

* ``70-authz-dry-run-<ns>``: the policies with ``istio.io/dry-run: "true"``. The proxies
  evaluate them and count what they would deny (Envoy's shadow RBAC statistics) but deny
  nothing; it requires ``60-mesh-strict``, after which every meshed caller has a principal.
* ``80-authz-enforce-<ns>``: the same policies without the annotation (replaced in place). Its
  gate (:func:`authz_gate`) reads the would-be denials: the shadow denials the dry-run policies
  counted (:class:`ShadowDenials`, from Prometheus) and the observed traffic into the policies'
  workloads from callers whose principal the policies do not name. Callers no principal can
  name and service accounts shared by several workloads block it (MP302, MP303).

Rollbacks come from the plan's object tracker like every other step's: the dry-run step deletes
the policies it created (or restores an existing policy of the same name), the enforce step
puts the dry-run form back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from shlex import quote
from typing import Any, Final

from planner.domain import policy
from planner.domain.authz import (
    DRY_RUN_ANNOTATION,
    AuthzProposal,
    policy_workload,
    principal,
)
from planner.domain.findings import Finding
from planner.domain.inventory import Inventory
from planner.domain.plan import (
    Action,
    Change,
    Phase,
    Plan,
    Scope,
    Step,
    Target,
)
from planner.domain.promql import _alternatives, _promql_string
from planner.domain.traffic import (
    REQUESTS_METRIC,
    TCP_METRIC,
    UNKNOWN,
    GateResult,
    ObservedEdge,
    TrafficSnapshot,
    count_text,
    validate_namespace,
    validate_window,
)
from planner.domain.value import value_class

AUTHORIZATION_POLICY: Final = "AuthorizationPolicy"
DRY_RUN_PREFIX: Final = "70-authz-dry-run-"
ENFORCE_PREFIX: Final = "80-authz-enforce-"
#: The step every dry-run step requires: principals exist for every meshed caller after it.
MESH_STRICT_STEP: Final = "60-mesh-strict"
#: Envoy's RBAC filters count the decisions of dry-run ("shadow") policies as
#: ``<stat prefix>.rbac.istio_dry_run_allow_shadow_denied``; Istio's bootstrap keeps these
#: statistics (suffixes ``shadow_allowed``/``shadow_denied``) and turns the policy kind and the
#: result into the labels ``authz_dry_run_action`` (allow|deny) and ``authz_dry_run_result``
#: (allowed|denied), so Prometheus shows ``envoy_http_inbound_0_0_0_0_<port>_rbac`` (HTTP) and
#: ``envoy_<tcp prefix>_rbac`` (TCP) series (istio.io, "Dry Run" task).
SHADOW_METRIC_RE: Final = "envoy_.*_rbac(_total)?"
#: Scrape configs name the pod's namespace ``namespace`` (prometheus-operator, Istio's current
#: sample) or ``kubernetes_namespace`` (Istio's older sample): the query keeps both.
SHADOW_NAMESPACE_LABELS: Final = ("namespace", "kubernetes_namespace")
SHADOW_POD_LABELS: Final = ("pod", "kubernetes_pod_name")
#: Offenders named in a gate's reason; the rest are counted.
_SHOWN: Final = 5


@value_class(order=True)
class ShadowDenial:
    """The requests or connections the dry-run ALLOW policies would have denied on one pod."""

    namespace: str
    pod: str
    denied: float


@value_class
class ShadowDenials:
    """What Envoy's shadow RBAC counters say over ``window`` for some namespaces.

    ``has_data`` is False when no shadow series exist at all for them: the dry-run policies are
    not applied yet, Istio's statistics are not scraped, or the data plane does not count them
    (ztunnel before late 2025). ``denials`` are the pods whose counter moved (denied > 0)."""

    source: str
    window: str
    has_data: bool
    namespaces: tuple[str, ...] = ()
    denials: tuple[ShadowDenial, ...] = ()

    def into(self, namespace: str) -> tuple[ShadowDenial, ...]:
        """The pods of ``namespace`` with would-be denials."""
        return tuple(d for d in self.denials if d.namespace == namespace and d.denied > 0)


def promql_shadow_denials(namespaces: Iterable[str], window: str) -> str:
    """PromQL for the would-be denials of the dry-run ALLOW policies over ``window``: one series
    per pod (the namespace and pod labels of both common scrape configs kept), empty when no
    shadow counter exists. Raises ``ValueError`` for an invalid namespace or window."""
    names = sorted({validate_namespace(n) for n in namespaces})
    if not names:
        raise ValueError("no namespace to read shadow denials for")
    pattern = "|".join(names)
    selectors = [f'{{__name__=~"{SHADOW_METRIC_RE}",authz_dry_run_action="allow",'
                 f'authz_dry_run_result="denied",{label}=~"{pattern}"}}'
                 for label in SHADOW_NAMESPACE_LABELS]
    labels = ", ".join((*SHADOW_NAMESPACE_LABELS, *SHADOW_POD_LABELS))
    return " or ".join(f"sum by ({labels}) (increase({s}[{validate_window(window)}]))"
                       for s in selectors)


def shadow_denials_from(rows: Iterable[tuple[Mapping[str, str], float]], *, source: str,
                        window: str, namespaces: Sequence[str]) -> ShadowDenials:
    """:class:`ShadowDenials` from the series of :func:`promql_shadow_denials` (labels and
    value per series)."""
    found: dict[tuple[str, str], float] = defaultdict(float)
    series = 0
    for labels, value in rows:
        namespace = next((labels[k] for k in SHADOW_NAMESPACE_LABELS if labels.get(k)), "")
        pod = next((labels[k] for k in SHADOW_POD_LABELS if labels.get(k)), "")
        series += 1
        found[(namespace, pod)] += value
    denials = tuple(sorted(ShadowDenial(ns, pod, round(v, 9)) for (ns, pod), v in found.items()
                           if v > 0))
    return ShadowDenials(source, window, series > 0, tuple(sorted(namespaces)), denials)


# ---------------------------------------------------------------------------------------------
# The steps


Put = Callable[[dict[str, Any]], tuple[Change, Change]]


def authz_steps(plan: Plan, proposal: AuthzProposal, inventory: Inventory, put: Put,
                findings: Iterable[Finding] = ()) -> Plan:
    """``plan`` with the authorization phases appended (see the module doc): the dry-run steps
    of every namespace with policies first, in the order the namespaces went STRICT, then the
    enforce steps in the same order. ``put`` is the plan's object tracker (the rollback of each
    write); ``findings`` (MP302, MP303) block the enforce step of their namespace. The plan's
    ``principals`` map every workload to its principal, for the gate."""
    by_ns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    enforce_by_ns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in proposal.policies:
        dry = _with_dry_run(p.policy, True)
        by_ns[p.namespace].append(dry)
        enforce_by_ns[p.namespace].append(_with_dry_run(p.policy, False))
    blockers: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        blockers[f.namespace].append(f)
    order = _namespace_order(plan, by_ns)
    ambient = {p.namespace for p in proposal.policies if p.mode == "ambient"}
    dry_steps = [_dry_run_step(ns, by_ns[ns], put, ns in ambient) for ns in order]
    enforce_steps = [_enforce_step(ns, enforce_by_ns[ns], put, proposal,
                                   tuple(sorted(blockers.get(ns, ())))) for ns in order]
    steps = (*plan.steps, *dry_steps, *enforce_steps)
    added: dict[str, list[str]] = defaultdict(list)
    for s in (*dry_steps, *enforce_steps):
        added[s.target.namespace].append(s.id)
    fates = tuple(replace(f, steps=(*f.steps, *added.get(f.name, ()))) if f.name in added
                  else f for f in plan.namespaces)
    principals = {f"{w.namespace}/{w.name}": principal(proposal.trust_domain, w.namespace,
                                                       w.service_account)
                  for w in inventory.workloads}
    backends = {f"{s.namespace}/{s.name}": tuple(sorted({r.name for r in s.selects}))
                for s in inventory.services if s.namespace in by_ns}
    return replace(plan, steps=steps, namespaces=fates,
                   blockers=tuple(sorted({*plan.blockers, *(f for fs in blockers.values()
                                                            for f in fs)})),
                   principals=principals, service_backends=backends)


def _with_dry_run(obj: Mapping[str, Any], dry_run: bool) -> dict[str, Any]:
    """The policy in dry run (the annotation) or enforcing (no annotation), else unchanged."""
    metadata = dict(obj["metadata"])
    annotations = {k: v for k, v in dict(metadata.get("annotations") or {}).items()
                   if k != DRY_RUN_ANNOTATION}
    if dry_run:
        annotations[DRY_RUN_ANNOTATION] = "true"
    metadata.pop("annotations", None)
    if annotations:
        metadata["annotations"] = dict(sorted(annotations.items()))
    return {**obj, "metadata": metadata}


def _namespace_order(plan: Plan, namespaces: Iterable[str]) -> list[str]:
    """Namespaces in the order their STRICT steps come in the plan (the blast-radius order),
    then any other by name."""
    wanted = set(namespaces)
    seen: list[str] = []
    for s in plan.steps:
        ns = s.target.namespace
        if s.phase is Phase.STRICT and ns in wanted and ns not in seen:
            seen.append(ns)
    return [*seen, *sorted(wanted - set(seen))]


def _writes(objects: Sequence[dict[str, Any]], put: Put) -> tuple[tuple[Change, ...],
                                                                  tuple[Change, ...]]:
    """The apply changes and their rollback (undone newest first)."""
    apply: list[Change] = []
    undo: list[Change] = []
    for obj in objects:
        a, u = put(obj)
        apply.append(a)
        undo.insert(0, u)
    return tuple(apply), tuple(undo)


def _listing(ns: str) -> str:
    return (f"kubectl get authorizationpolicy -n {quote(ns)} "
            f"-l app.kubernetes.io/managed-by=meshplan -o yaml")


def _workloads(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    return [policy_workload(o) for o in objects]


def _dry_run_step(ns: str, objects: list[dict[str, Any]], put: Put, ambient: bool) -> Step:
    apply, undo = _writes(objects, put)
    names = _workloads(objects)
    return Step(
        id=f"{DRY_RUN_PREFIX}{ns}", phase=Phase.AUTHZ_DRY_RUN,
        title=f"Authorization in dry run for namespace {ns} ({len(objects)} policies)",
        target=Target(Scope.NAMESPACE, ns),
        why=(f"After mesh-wide STRICT every meshed caller has a principal. One ALLOW policy per "
             f"called workload ({policy.join_names(names)}) names the principals of its "
             "callers and the ports they use; with istio.io/dry-run: \"true\" the proxies "
             "evaluate it and count what it would deny (Envoy's shadow RBAC statistics), but "
             "deny nothing. Leave it for as long as the slowest caller needs (weekly jobs: a "
             f"week) before {ENFORCE_PREFIX}{ns}."),
        apply=apply, rollback=undo,
        preconditions=(f"{MESH_STRICT_STEP} applied: callers call with their principal",
                       "Istio keeps the proxies' shadow_denied statistics (its default) and "
                       "Prometheus scrapes them, or the access log is read for 'shadow denied'",
                       *((f"{ns} is ambient: ztunnel honours istio.io/dry-run only since late "
                          "2025 (istio/ztunnel#1659); an older ztunnel enforces these policies "
                          "at once, so check its version first",) if ambient else ())),
        requires=(MESH_STRICT_STEP,),
        verify=(_listing(ns),
                promql_shadow_denials([ns], "15m") + " (series appear once requests arrive)"),
    )


def _enforce_step(ns: str, objects: list[dict[str, Any]], put: Put, proposal: AuthzProposal,
                  blockers: tuple[Finding, ...]) -> Step:
    apply, undo = _writes(objects, put)
    names = _workloads(objects)
    outside = sorted({u.caller for u in proposal.unexpressible
                      if u.workload.split("/")[1] == ns})
    return Step(
        id=f"{ENFORCE_PREFIX}{ns}", phase=Phase.AUTHZ_ENFORCE,
        title=f"Enforce authorization for namespace {ns} ({len(objects)} policies)",
        target=Target(Scope.NAMESPACE, ns),
        why=(f"The dry-run policies of {DRY_RUN_PREFIX}{ns} without the dry-run annotation "
             f"(replaced in place): {policy.join_names(names)} then accept only the callers "
             "they name. The gate reads the would-be denials first: the shadow denials the "
             "dry-run policies counted, and observed traffic from callers they do not name."),
        apply=apply, rollback=undo,
        preconditions=(f"{DRY_RUN_PREFIX}{ns} applied and observed for 7 days",
                       f"no would-be denials in {ns} (the queries below return no series)",
                       *((f"callers without a principal would be denied: "
                          f"{policy.join_names(outside)}",) if outside else ())),
        promql=(promql_shadow_denials([ns], "7d"),
                *_outside_queries(ns, objects)),
        requires=(f"{DRY_RUN_PREFIX}{ns}",),
        verify=(_listing(ns) + " (no istio.io/dry-run annotation)",
                promql_shadow_denials([ns], "15m") + " (dry run over: no new series)",
                f"denied requests answer 403 (HTTP) or a reset (TCP): watch the callers' "
                f"errors into {ns}"),
        blockers=blockers,
        forced_by=tuple(outside),
    )


def _outside_queries(ns: str, objects: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Per policy, observed traffic into its workload from principals it does not name
    (``source_principal`` is ``spiffe://<principal>``; ``unknown`` for callers without one)."""
    queries = []
    for obj in objects:
        workload = policy_workload(obj)
        allowed = sorted(_principals(obj))
        selector = (f'reporter="destination",destination_workload_namespace="{ns}",'
                    f'destination_workload="{_promql_string(workload)}",'
                    f'source_principal!~"{_alternatives(["spiffe://" + p for p in allowed])}"')
        queries.append(" or ".join(
            f"sum by (source_principal, source_workload, source_workload_namespace) "
            f"(increase({metric}{{{selector}}}[7d])) > 0"
            for metric in (REQUESTS_METRIC, TCP_METRIC)))
    return tuple(queries)


def _principals(obj: Mapping[str, Any]) -> set[str]:
    """Every principal an ALLOW policy's rules name."""
    found: set[str] = set()
    for rule in (obj.get("spec") or {}).get("rules") or ():
        for source in rule.get("from") or ():
            found.update((source.get("source") or {}).get("principals") or ())
    return found


# ---------------------------------------------------------------------------------------------
# The gate


def is_authz_enforce(step: Step) -> bool:
    """True for the steps the would-be-denials gate guards."""
    return step.phase is Phase.AUTHZ_ENFORCE


def authz_gate(snapshot: TrafficSnapshot | None, step: Step, plan: Plan,
               shadow: ShadowDenials | None = None) -> GateResult:
    """The gate of an enforce step: would its policies deny anything that calls today?

    ``fail`` when the dry-run policies counted shadow denials in the namespace, or when
    observed traffic reached one of the policies' workloads from a caller whose principal the
    policy does not name (a caller without a sidecar, ``unknown``, has none). ``pass`` when
    there was traffic into the policies' workloads (or shadow counters) and nothing of that.
    ``unknown`` otherwise: no data is no proof. ``plan`` gives each workload's principal and
    the workloads behind each Service (:attr:`Plan.principals`, :attr:`Plan.service_backends`),
    for sources that name the Service called but not the workload (CSV, Kiali)."""
    ns = step.target.namespace
    allowed = {policy_workload(c.object): _principals(c.object)
               for c in step.apply if c.action is Action.APPLY
               and c.object.get("kind") == AUTHORIZATION_POLICY}
    reasons: list[str] = []
    offenders: list[ObservedEdge] = []
    into: list[ObservedEdge] = []
    if snapshot is not None and snapshot.has_data:
        for e in snapshot.edges:
            if e.destination_namespace != ns or e.is_egress or e.total <= 0:
                continue
            targets = ((e.destination_workload,) if e.destination_workload != UNKNOWN
                       else plan.service_backends.get(f"{ns}/{e.destination_service}", ()))
            guarded = [t for t in targets if t in allowed]
            if not guarded:
                continue
            into.append(e)
            caller = (None if e.unknown_caller
                      else plan.principals.get(f"{e.source_namespace}/{e.source_workload}"))
            if any(caller not in allowed[t] for t in guarded):
                offenders.append(e)
    denials = shadow.into(ns) if shadow is not None else ()
    where = (snapshot.where if snapshot is not None
             else "no observed traffic")
    if offenders:
        shown = ", ".join(_caller(e) for e in offenders[:_SHOWN])
        more = len(offenders) - _SHOWN
        reasons.append(f"{len(offenders)} caller(s) the policies do not name reached "
                       f"{ns} in {where}: {shown}" + (f" and {more} more" if more > 0 else ""))
    if denials:
        total = sum(d.denied for d in denials)
        pods = ", ".join(f"{d.namespace}/{d.pod}" for d in denials[:_SHOWN])
        assert shadow is not None
        reasons.append(f"the dry-run policies would have denied {count_text(total)} "
                       f"request(s)/connection(s) on {len(denials)} pod(s) ({pods}) in "
                       f"{shadow.source} over {shadow.window} (Envoy shadow RBAC)")
    if reasons:
        return GateResult("fail", "; ".join(reasons), offenders)
    shadow_read = shadow is not None and shadow.has_data
    if not into and not shadow_read:
        why = ("no observed traffic into " + policy.join_names(sorted(allowed))
               + f" in {where}" if snapshot is not None and snapshot.has_data
               else f"no observed traffic data ({where})")
        return GateResult("unknown", f"{why} and no shadow RBAC counters for {ns}: would-be "
                          "denials cannot be ruled out",
                          proof=("apply the dry-run step and read the shadow denials with "
                                 "--prometheus, or give observed traffic (--traffic)"))
    parts = []
    if into:
        reached = sorted({e.destination_workload if e.destination_workload != UNKNOWN
                          else e.destination_service for e in into})
        parts.append(f"every caller of {policy.join_names(reached)} in {where} is named by "
                     "its policy")
    if shadow_read:
        assert shadow is not None
        parts.append(f"no shadow denials in {ns} ({shadow.source} over {shadow.window})")
    # No evidence level: those rank what a source proves about mutual TLS, and this gate
    # reads who called, which every source names alike (a CSV's declared share included).
    return GateResult("pass", "; ".join(parts))


def _caller(edge: ObservedEdge) -> str:
    callee = (edge.destination_workload if edge.destination_workload != UNKNOWN
              else edge.destination_service)
    if edge.unknown_caller:
        return (f"an unidentified caller (no sidecar, no principal) -> "
                f"{edge.destination_namespace}/{callee}")
    return (f"{edge.source_namespace}/{edge.source_workload} -> "
            f"{edge.destination_namespace}/{callee}")

