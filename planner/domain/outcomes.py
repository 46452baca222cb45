"""Outcome checks: what a step promises, judged the way an operator checks it by hand.

Pure functions over raw API objects (dicts as the API server returns them); the apply layer
(:mod:`planner.apply.cluster_probe`) reads them. Nothing here trusts the journal or objects
meshplan wrote: "Istio is installed" means an available istiod, the Istio APIs served by the
API server and, for the data planes the plan uses, the sidecar injector webhook or the ztunnel
and istio-cni DaemonSets ready. An enrolled workload is one whose current pods run the data
plane it was enrolled to, after its rollout finished.

* :func:`rollout_status` is ``kubectl rollout status`` for Deployments, StatefulSets and
  DaemonSets (observedGeneration, updated, available).
* :func:`control_plane` checks the prerequisites (``10-prereq``).
* :func:`workload_outcome` and :func:`enrollment` check an enrollment step, per workload, with
  the stragglers named.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from planner.domain.inventory import (
    AMBIENT_REDIRECTION_ANNOTATION,
    PROXY_CONTAINER,
    SIDECAR_INJECT_ANNOTATION,
    SIDECAR_INJECT_LABEL,
)
from planner.domain.plan import Phase, Plan
from planner.domain.value import value_class

#: The API groups of the Istio CRDs meshplan writes (PeerAuthentication) and reads.
ISTIO_API_GROUPS: Final = ("networking.istio.io", "security.istio.io")
#: The kind every plan step writes; served means its CRD is installed.
PEER_AUTHENTICATIONS: Final = "peerauthentications.security.istio.io"
#: Istio's injection webhooks are named ``[rev.]{namespace,object}.sidecar-injector.istio.io``.
INJECTOR_WEBHOOK_SUFFIX: Final = "sidecar-injector.istio.io"
REVISION_LABEL: Final = "istio.io/rev"
INJECTION_LABEL: Final = "istio-injection"
DATAPLANE_MODE_LABEL: Final = "istio.io/dataplane-mode"
DEFAULT_REVISION: Final = "default"
#: Shown per check: more stragglers than this are counted, not listed.
_NAMED: Final = 10


@value_class
class Check:
    """One thing an operator would look at: what, whether it holds, and what was seen."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """``ok: istiod: ...`` or ``NOT REACHED: istiod: ...``."""
        return f"{'ok' if self.ok else 'NOT REACHED'}: {self.name}: {self.detail}"


@value_class
class Outcome:
    """The checks of one step; reached when every one holds."""

    checks: tuple[Check, ...]

    @property
    def reached(self) -> bool:
        """True when every check holds."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that do not hold."""
        return tuple(c for c in self.checks if not c.ok)

    def summary(self) -> str:
        """The failed checks in one line (``name: detail; ...``), or ``all checks hold``."""
        failed = self.failures
        if not failed:
            return "all checks hold"
        return "; ".join(f"{c.name}: {c.detail}" for c in failed)


# --- objects --------------------------------------------------------------------------------


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def object_name(obj: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` (``Kind name`` when cluster-scoped), for messages."""
    meta = _meta(obj)
    namespace = meta.get("namespace")
    where = f"{namespace}/{meta.get('name', '?')}" if namespace else str(meta.get("name", "?"))
    return f"{obj.get('kind', 'object')} {where}"


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """Whether a ``LabelSelector`` (matchLabels and matchExpressions) selects ``labels``.
    An empty or absent selector selects everything, as for webhooks' namespaceSelector."""
    selector = _map(selector)
    for key, value in _map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        expression = _map(expression)
        key = str(expression.get("key", ""))
        values = [str(v) for v in expression.get("values") or []]
        operator = expression.get("operator")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


# --- rollouts -------------------------------------------------------------------------------


@value_class
class Rollout:
    """Where a workload's rollout stands. ``failed`` says why it cannot finish (its progress
    deadline passed); ``message`` is what ``kubectl rollout status`` would print."""

    done: bool
    desired: int
    updated: int
    available: int
    message: str
    failed: str = ""


def rollout_status(obj: Mapping[str, Any]) -> Rollout:
    """``kubectl rollout status`` for a Deployment, StatefulSet or DaemonSet: the controller
    observed the current generation, every replica is updated, no old one is left, and every
    updated one is available."""
    kind = obj.get("kind")
    spec, status = _map(obj.get("spec")), _map(obj.get("status"))
    generation = _int(_meta(obj).get("generation"))
    name = object_name(obj)
    if _int(status.get("observedGeneration")) < generation:
        return Rollout(False, 0, 0, 0, f"{name}: waiting for the controller to observe "
                       f"generation {generation}")
    if kind == "DaemonSet":
        desired = _int(status.get("desiredNumberScheduled"))
        updated = _int(status.get("updatedNumberScheduled"))
        available = _int(status.get("numberAvailable"))
        if updated < desired:
            return Rollout(False, desired, updated, available,
                           f"{name}: {updated} of {desired} updated pods scheduled")
        if available < desired:
            return Rollout(False, desired, updated, available,
                           f"{name}: {available} of {desired} updated pods available")
        return Rollout(True, desired, updated, available, f"{name}: rolled out")
    desired = _int(spec.get("replicas")) if "replicas" in spec else 1
    updated = _int(status.get("updatedReplicas"))
    if kind == "StatefulSet":
        ready = _int(status.get("readyReplicas"))
        available = _int(status.get("availableReplicas")) or ready
        if ready < desired:
            return Rollout(False, desired, updated, ready,
                           f"{name}: {ready} of {desired} pods ready")
        revision = status.get("updateRevision")
        if revision and status.get("currentRevision") != revision:
            return Rollout(False, desired, updated, ready,
                           f"{name}: {updated} of {desired} pods at revision {revision}")
        return Rollout(True, desired, max(updated, desired), available, f"{name}: rolled out")
    available = _int(status.get("availableReplicas"))
    for condition in status.get("conditions") or []:
        condition = _map(condition)
        if condition.get("type") == "Progressing" and \
                condition.get("reason") == "ProgressDeadlineExceeded":
            return Rollout(False, desired, updated, available,
                           f"{name}: exceeded its progress deadline",
                           failed=str(condition.get("message") or "ProgressDeadlineExceeded"))
    total = _int(status.get("replicas"))
    if updated < desired:
        return Rollout(False, desired, updated, available,
                       f"{name}: {updated} of {desired} updated replicas")
    if total > updated:
        return Rollout(False, desired, updated, available,
                       f"{name}: {total - updated} old replicas pending termination")
    if available < updated:
        return Rollout(False, desired, updated, available,
                       f"{name}: {available} of {updated} updated replicas available")
    return Rollout(True, desired, updated, available, f"{name}: rolled out")


# --- the control plane ----------------------------------------------------------------------


@value_class
class ControlPlaneFacts:
    """What the cluster shows of Istio, as read live: the root namespace, the served API
    groups and kinds (``plural.group``), the istiod Deployments, the MutatingWebhookConfigurations
    and the ztunnel and istio-cni DaemonSets."""

    root_namespace: str
    root_present: bool
    served_groups: frozenset[str]
    served_kinds: frozenset[str]
    istiods: tuple[Mapping[str, Any], ...] = ()
    webhooks: tuple[Mapping[str, Any], ...] = ()
    ztunnels: tuple[Mapping[str, Any], ...] = ()
    cnis: tuple[Mapping[str, Any], ...] = ()


@value_class
class DataplaneNeeds:
    """What the plan's enrollment relies on: the namespace labels it sets for sidecar
    injection (``istio-injection=enabled`` or ``istio.io/rev=R``) and whether any namespace
    goes ambient."""

    injection_labels: tuple[tuple[str, str], ...] = ()
    ambient: bool = False

    @property
    def revisions(self) -> tuple[str, ...]:
        """The istiod revisions the labels need (``default`` for ``istio-injection``)."""
        return tuple(sorted({DEFAULT_REVISION if key == INJECTION_LABEL else value
                             for key, value in self.injection_labels}))


def istiod_revision(deployment: Mapping[str, Any]) -> str:
    """An istiod's revision: its ``istio.io/rev`` label, else the name suffix of
    ``istiod-<rev>``, else ``default``."""
    meta = _meta(deployment)
    labels = _map(meta.get("labels"))
    revision = labels.get(REVISION_LABEL)
    if isinstance(revision, str) and revision:
        return revision
    name = str(meta.get("name", ""))
    return name.removeprefix("istiod-") if name.startswith("istiod-") else DEFAULT_REVISION


def injector_webhooks(configuration: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The sidecar-injection webhooks of a MutatingWebhookConfiguration."""
    return [_map(w) for w in configuration.get("webhooks") or []
            if str(_map(w).get("name", "")).endswith(INJECTOR_WEBHOOK_SUFFIX)]


def injector_for(webhooks: Iterable[Mapping[str, Any]],
                 namespace_labels: Mapping[str, str]) -> str | None:
    """The name of the MutatingWebhookConfiguration whose sidecar injector selects a namespace
    with these labels, or None: what the API server does when a pod is created there."""
    for configuration in webhooks:
        for webhook in injector_webhooks(configuration):
            if selector_matches(webhook.get("namespaceSelector"), namespace_labels):
                return str(_meta(configuration).get("name", "?"))
    return None


def _tag_target(webhooks: Iterable[Mapping[str, Any]], tag: str) -> str | None:
    """The revision a revision tag (``istio-revision-tag-<tag>``) points to."""
    for configuration in webhooks:
        labels = _map(_meta(configuration).get("labels"))
        if labels.get("istio.io/tag") == tag and labels.get(REVISION_LABEL):
            return str(labels[REVISION_LABEL])
    return None


def daemonset_ready(daemonset: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether a DaemonSet runs an available, updated pod on every node it should."""
    rollout = rollout_status(daemonset)
    if rollout.done and rollout.desired > 0:
        return True, f"{object_name(daemonset)} ready on {rollout.desired} node(s)"
    if rollout.done:
        return False, f"{object_name(daemonset)} is scheduled on no node"
    return False, rollout.message


def control_plane(facts: ControlPlaneFacts, needs: DataplaneNeeds) -> Outcome:
    """The prerequisites of a rollout, checked live (never from objects meshplan wrote)."""
    checks = [Check("root namespace", facts.root_present,
                    f"{facts.root_namespace} " + ("exists" if facts.root_present
                                                  else "not found"))]
    missing = [g for g in ISTIO_API_GROUPS if g not in facts.served_groups]
    if not missing and PEER_AUTHENTICATIONS not in facts.served_kinds:
        missing = [PEER_AUTHENTICATIONS]
    checks.append(Check("Istio APIs", not missing,
                        " and ".join(ISTIO_API_GROUPS) + " served" if not missing else
                        f"not served: {', '.join(missing)} (Istio CRDs not installed)"))
    checks.append(_istiod_check(facts, needs))
    if needs.injection_labels:
        checks.append(_injector_check(facts, needs))
    if needs.ambient:
        checks.append(daemonsets_check("ztunnel", facts.ztunnels))
        checks.append(daemonsets_check("istio-cni", facts.cnis))
    return Outcome(tuple(checks))


def daemonsets_check(name: str, found: Sequence[Mapping[str, Any]]) -> Check:
    """``name`` (ztunnel, istio-cni) runs: one of its DaemonSets is ready on its nodes."""
    states = [daemonset_ready(d) for d in found]
    ready = [s for ok, s in states if ok]
    return Check(name, bool(ready), "; ".join(ready) if ready else (
        "; ".join(s for _, s in states) or f"no {name} DaemonSet found (ambient namespaces "
        "need it)"))


def _istiod_check(facts: ControlPlaneFacts, needs: DataplaneNeeds) -> Check:
    available: dict[str, list[str]] = {}
    waiting: list[str] = []
    for deployment in facts.istiods:
        rollout = rollout_status(deployment)
        if rollout.done and rollout.available > 0:
            available.setdefault(istiod_revision(deployment), []).append(
                f"{object_name(deployment)} ({rollout.available}/{rollout.desired} available)")
        else:
            waiting.append(rollout.message)
    if not facts.istiods:
        return Check("istiod", False, "no istiod Deployment (label app=istiod) found")
    wanted = needs.revisions
    absent = []
    for revision in wanted:
        target = revision if revision in available else _tag_target(facts.webhooks, revision)
        if target not in available:
            absent.append(revision)
    seen = "; ".join(d for ds in available.values() for d in ds)
    if absent or not available:
        why = (f"no available istiod for revision(s) {', '.join(absent)}" if absent
               else "no istiod available")
        return Check("istiod", False, "; ".join(filter(None, [why, seen, *waiting])))
    return Check("istiod", True, seen)


def _injector_check(facts: ControlPlaneFacts, needs: DataplaneNeeds) -> Check:
    found: list[str] = []
    absent: list[str] = []
    for key, value in needs.injection_labels:
        name = injector_for(facts.webhooks, {key: value})
        if name is None:
            absent.append(f"{key}={value}")
        else:
            found.append(f"{name} for {key}={value}")
    if absent:
        return Check("sidecar injector", False,
                     f"no sidecar injector webhook selects namespaces labelled "
                     f"{', '.join(absent)} (MutatingWebhookConfiguration missing)")
    return Check("sidecar injector", True, "; ".join(found))


# --- enrollment -----------------------------------------------------------------------------


@value_class
class WorkloadOutcome:
    """One workload of an enrollment: its rollout, its current pods and how many of them run
    the data plane. ``excluded`` says why the workload stays outside by design."""

    name: str
    pods: int
    enrolled: int
    rollout: Rollout | None
    excluded: str = ""

    @property
    def ok(self) -> bool:
        """Rolled out, and every current pod runs the data plane (or excluded by design)."""
        if self.excluded:
            return True
        return (self.rollout is None or self.rollout.done) and self.enrolled == self.pods

    def straggler(self, mode: str) -> str:
        """Why this workload is not enrolled yet, naming it."""
        plane = "istio-proxy" if mode == "sidecar" else "ambient redirection"
        if self.rollout is not None and not self.rollout.done:
            return self.rollout.failed or self.rollout.message
        return f"{self.name}: {self.enrolled}/{self.pods} pods with {plane}"


def pod_template(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod template of a workload (the pod itself for a bare Pod)."""
    if workload.get("kind") == "Pod":
        return workload
    return _map(_map(workload.get("spec")).get("template"))


def opted_out(workload: Mapping[str, Any], mode: str) -> str:
    """Why a workload stays outside the data plane by design, or ``""``: hostNetwork, or the
    pod template's own opt-out (``sidecar.istio.io/inject=false``,
    ``istio.io/dataplane-mode=none``)."""
    template = pod_template(workload)
    meta, spec = _meta(template), _map(template.get("spec"))
    labels, annotations = _map(meta.get("labels")), _map(meta.get("annotations"))
    if spec.get("hostNetwork") is True:
        return "runs with hostNetwork"
    if mode == "sidecar" and (labels.get(SIDECAR_INJECT_LABEL) or annotations.get(
            SIDECAR_INJECT_ANNOTATION)) == "false":
        return "opted out with sidecar.istio.io/inject=false"
    if mode == "ambient" and labels.get(DATAPLANE_MODE_LABEL) == "none":
        return "opted out with istio.io/dataplane-mode=none"
    return ""


def has_sidecar(pod: Mapping[str, Any]) -> bool:
    """An istio-proxy container (or native sidecar init container) in the pod."""
    spec = _map(pod.get("spec"))
    return any(_map(c).get("name") == PROXY_CONTAINER
               for key in ("containers", "initContainers") for c in spec.get(key) or [])


def is_redirected(pod: Mapping[str, Any]) -> bool:
    """istio-cni redirected the pod's traffic to ztunnel."""
    annotations = _map(_meta(pod).get("annotations"))
    return annotations.get(AMBIENT_REDIRECTION_ANNOTATION) == "enabled"


def selected_pods(workload: Mapping[str, Any],
                  pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The live pods of a workload: those its selector picks in its namespace, without the
    ones terminating or finished."""
    namespace = _meta(workload).get("namespace")
    if workload.get("kind") == "Pod":
        return [workload]
    selector = _map(workload.get("spec")).get("selector")
    if not _map(selector):
        return []
    return [p for p in pods if _meta(p).get("namespace") == namespace
            and not _meta(p).get("deletionTimestamp")
            and _map(p.get("status")).get("phase") not in ("Succeeded", "Failed")
            and selector_matches(selector, _map(_meta(p).get("labels")))]


def workload_outcome(workload: Mapping[str, Any], pods: Sequence[Mapping[str, Any]],
                     mode: str) -> WorkloadOutcome:
    """A workload's enrollment: its rollout (None for a bare Pod) and its current pods with
    the data plane of ``mode`` (sidecar: istio-proxy; ambient: redirected to ztunnel)."""
    name = object_name(workload)
    excluded = opted_out(workload, mode)
    mine = selected_pods(workload, pods)
    enrolled = sum(1 for p in mine if (has_sidecar(p) if mode == "sidecar" else is_redirected(p)))
    rollout = None if workload.get("kind") == "Pod" else rollout_status(workload)
    return WorkloadOutcome(name, len(mine), enrolled, rollout, excluded)


def enrollment(namespace: str, mode: str, workloads: Sequence[WorkloadOutcome],
               extra: Sequence[Check] = ()) -> Outcome:
    """An enrollment step's outcome: every workload in scope rolled out with its data plane,
    counted per workload, stragglers named (``extra``: checks such as ztunnel running)."""
    scope = [w for w in workloads if not w.excluded]
    stragglers = [w for w in scope if not w.ok]
    plane = "istio-proxy in every current pod" if mode == "sidecar" else \
        "every current pod redirected to ztunnel"
    counted = f"{len(scope) - len(stragglers)}/{len(scope)} workloads of {namespace} " \
              f"rolled out with {plane}"
    excluded = [f"{w.name} ({w.excluded})" for w in workloads if w.excluded]
    if stragglers:
        named = [w.straggler(mode) for w in stragglers[:_NAMED]]
        more = len(stragglers) - _NAMED
        detail = f"{counted}; not yet: " + "; ".join(named) + (
            f"; and {more} more" if more > 0 else "")
    else:
        detail = counted
    if excluded:
        detail += "; outside by design: " + ", ".join(excluded)
    return Outcome((*extra, Check("workloads", not stragglers, detail)))


def dataplane_needs(plan: Plan) -> DataplaneNeeds:
    """What the plan's enrollment steps rely on: the injection labels they set on namespaces
    and whether any namespace goes ambient."""
    labels: set[tuple[str, str]] = set()
    ambient = False
    for step in plan.steps:
        if step.phase is not Phase.ENROLL:
            continue
        for change in step.apply:
            obj = change.object
            if obj.get("kind") != "Namespace":
                continue
            ns_labels = _map(_meta(obj).get("labels"))
            if ns_labels.get(DATAPLANE_MODE_LABEL) == "ambient":
                ambient = True
            elif ns_labels.get(REVISION_LABEL):
                labels.add((REVISION_LABEL, str(ns_labels[REVISION_LABEL])))
            elif ns_labels.get(INJECTION_LABEL) == "enabled":
                labels.add((INJECTION_LABEL, "enabled"))
    return DataplaneNeeds(tuple(sorted(labels)), ambient)


def enrollment_mode(plan: Plan, namespace: str) -> str:
    """The data plane the plan enrolls ``namespace`` to (sidecar, ambient or outside)."""
    return next((ns.mode for ns in plan.namespaces if ns.name == namespace), "outside")
