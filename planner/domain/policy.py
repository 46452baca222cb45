"""Builders for the Kubernetes objects a rollout plan applies, and the reading of existing policy.

Pure: every function takes inventory data and returns plain dicts ready for a sink to render as
YAML. Generated Istio objects use the served storage version (``security.istio.io/v1``) and are
validated against the CRD schema in the tests.

Istio's precedence rules the planner has to respect (MESH-NOTES §1):

* only one mesh-wide (root namespace, no selector) and one namespace-wide (no selector) policy
  count; when there are several, the oldest by ``creationTimestamp`` wins and the newer ones are
  ignored, so the plan edits the winning policy instead of adding a second one;
* ``portLevelMtls`` keys are *container* ports and the CEL rule "portLevelMtls requires selector"
  needs a non-empty ``selector.matchLabels``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from planner.domain.inventory import Inventory, ObjectRef, PolicyObject, Workload
from planner.domain.value import value_class

PEER_AUTHENTICATION_API = "security.istio.io/v1"
PEER_AUTHENTICATION = "PeerAuthentication"
DESTINATION_RULE = "DestinationRule"
#: Label put on every object the planner generates, so they can be found and pruned.
MANAGED_BY = {"app.kubernetes.io/managed-by": "meshplan"}

#: Kubernetes label values are at most 63 characters; the CRD schema repeats that limit.
_MAX_LABEL_VALUE = 63


@value_class
class EffectivePolicies:
    """Which existing PeerAuthentications count, and which Istio ignores."""

    mesh_wide: PolicyObject | None
    namespace_wide: Mapping[str, PolicyObject]
    #: Policies Istio ignores because an older one of the same scope exists, with the winner.
    shadowed: tuple[tuple[PolicyObject, PolicyObject], ...]
    #: Selector policies in the root namespace: istio/api PR #3604 says they are ignored, the
    #: field comment says they match every namespace; either way they deserve a warning.
    root_selector: tuple[PolicyObject, ...]
    #: Workload-scoped policies by namespace (a second one on the same pods would be ignored).
    workload: Mapping[str, tuple[PolicyObject, ...]]


def match_labels(policy: PolicyObject) -> Mapping[Any, Any]:
    """The policy's ``selector.matchLabels``; empty when it has none (or none that is a
    mapping, which Istio would not accept)."""
    selector = policy.spec.get("selector")
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def has_selector(policy: PolicyObject) -> bool:
    """True when the policy carries a non-empty ``selector.matchLabels`` (workload scope)."""
    return bool(match_labels(policy))


def mtls_mode(policy: PolicyObject) -> str:
    """The policy's ``mtls.mode`` (``UNSET`` when absent, as Istio reads it)."""
    mtls = policy.spec.get("mtls")
    mode = mtls.get("mode") if isinstance(mtls, Mapping) else None
    return mode if isinstance(mode, str) and mode else "UNSET"


def disable_settings(policy: PolicyObject) -> list[str]:
    """Where the policy sets ``DISABLE``: ``mtls DISABLE`` and ``port N DISABLE`` entries
    (ambient does not support DISABLE at either level)."""
    found = ["mtls DISABLE"] if mtls_mode(policy) == "DISABLE" else []
    ports = policy.spec.get("portLevelMtls")
    if isinstance(ports, Mapping):
        found.extend(f"port {port} DISABLE" for port, setting in sorted(ports.items(), key=str)
                     if isinstance(setting, Mapping) and setting.get("mode") == "DISABLE")
    return found


def age_key(policy: PolicyObject) -> tuple[int, str, str]:
    """The order in which Istio prefers policies of one scope: oldest first. A policy without
    a timestamp (plain manifests) sorts after dated ones and then by name, which keeps the
    choice stable when the real age is unknown."""
    return (0 if policy.created else 1, policy.created, policy.ref.name)


@value_class
class PeerAuthentications:
    """The input's PeerAuthentications as a what-if lays changes over them: by reference, and
    each namespace's in :func:`age_key` order, namespace-wide ones (no selector) apart from
    workload-scoped ones. Worked out once per inventory by a simulation index: a plan lays
    changes over them hundreds of times, and each change touches one namespace."""

    by_ref: Mapping[ObjectRef, PolicyObject]
    scoped: Mapping[str, tuple[PolicyObject, ...]]
    workload: Mapping[str, tuple[PolicyObject, ...]]


def peer_authentications(inventory: Inventory) -> PeerAuthentications:
    """The :class:`PeerAuthentications` of ``inventory``."""
    by_ref = {p.ref: p for p in inventory.istio_of_kind(PEER_AUTHENTICATION)}
    scoped: dict[str, list[PolicyObject]] = {}
    workload: dict[str, list[PolicyObject]] = {}
    for p in sorted(by_ref.values(), key=age_key):
        (workload if has_selector(p) else scoped).setdefault(p.ref.namespace, []).append(p)
    return PeerAuthentications(by_ref, {ns: tuple(ps) for ns, ps in scoped.items()},
                               {ns: tuple(ps) for ns, ps in workload.items()})


def effective_policies(inventory: Inventory, root_namespace: str) -> EffectivePolicies:
    """Resolve the existing PeerAuthentications the way Istio does."""
    layout = peer_authentications(inventory)
    scoped = sorted(layout.scoped.items())
    winners = {ns: policies[0] for ns, policies in scoped}
    mesh = winners.pop(root_namespace, None)
    return EffectivePolicies(
        mesh_wide=mesh,
        namespace_wide=winners,
        shadowed=tuple((p, policies[0]) for _, policies in scoped for p in policies[1:]),
        # In the input's order, as the warning about them lists them.
        root_selector=tuple(p for p in inventory.istio_of_kind(PEER_AUTHENTICATION)
                            if p.ref.namespace == root_namespace and has_selector(p)),
        workload=dict(sorted(layout.workload.items())),
    )


def tls_destination_rules(inventory: Inventory) -> tuple[tuple[PolicyObject, str], ...]:
    """DestinationRules whose ``tls`` settings replace auto mTLS, with the mode they set (the
    first one found: traffic policy, then port-level settings, then subsets)."""
    found = []
    for rule in inventory.istio_of_kind(DESTINATION_RULE):
        modes = destination_rule_tls_modes(rule.spec)
        if modes:
            found.append((rule, modes[0]))
    return tuple(found)


def destination_rule_tls_modes(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """Every ``tls.mode`` a DestinationRule spec sets, in document order."""
    policies: list[Any] = [spec.get("trafficPolicy")]
    subsets = spec.get("subsets")
    if isinstance(subsets, list):
        policies.extend(s.get("trafficPolicy") for s in subsets if isinstance(s, Mapping))
    modes: list[str] = []
    for policy in policies:
        if not isinstance(policy, Mapping):
            continue
        _collect_tls_mode(policy, modes)
        port_settings = policy.get("portLevelSettings")
        if isinstance(port_settings, list):
            for setting in port_settings:
                if isinstance(setting, Mapping):
                    _collect_tls_mode(setting, modes)
    return tuple(modes)


def _collect_tls_mode(policy: Mapping[str, Any], modes: list[str]) -> None:
    tls = policy.get("tls")
    if isinstance(tls, Mapping) and isinstance(tls.get("mode"), str):
        modes.append(str(tls["mode"]))


# ---------------------------------------------------------------------------------------------
# Object builders


def peer_authentication(namespace: str, name: str, *, mode: str | None = None,
                        selector: Mapping[str, str] | None = None,
                        port_modes: Mapping[int, str] | None = None) -> dict[str, Any]:
    """A PeerAuthentication. ``mode=None`` leaves ``mtls`` out so the policy inherits the
    namespace mode (an exception only opens ports, it does not pin the rest).

    Raises ``ValueError`` for ``port_modes`` without a selector: the CRD's CEL rule
    "portLevelMtls requires selector" would reject it.
    """
    spec: dict[str, Any] = {}
    if selector:
        spec["selector"] = {"matchLabels": dict(sorted(selector.items()))}
    if mode is not None:
        spec["mtls"] = {"mode": mode}
    if port_modes:
        if not selector:
            raise ValueError("portLevelMtls requires selector")
        # JSON object keys are strings; Istio parses them as port numbers.
        spec["portLevelMtls"] = {str(p): {"mode": m} for p, m in sorted(port_modes.items())}
    return {
        "apiVersion": PEER_AUTHENTICATION_API,
        "kind": PEER_AUTHENTICATION,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


def with_mode(policy: PolicyObject, mode: str) -> dict[str, Any]:
    """An existing policy with a new ``mtls.mode``, everything else kept (so editing the winning
    policy changes exactly one field)."""
    obj = restore_object(policy)
    spec = dict(obj["spec"])
    spec["mtls"] = {**dict(spec.get("mtls") or {}), "mode": mode}
    obj["spec"] = spec
    return obj


def restore_object(policy: PolicyObject) -> dict[str, Any]:
    """The exact previous state of an existing object, for rollback (status and server-set
    metadata left out: they are not the user's to apply)."""
    metadata: dict[str, Any] = {"name": policy.ref.name, "namespace": policy.ref.namespace}
    if policy.labels:
        metadata["labels"] = dict(sorted(policy.labels.items()))
    if policy.annotations:
        metadata["annotations"] = dict(sorted(policy.annotations.items()))
    return {
        "apiVersion": policy.api_version,
        "kind": policy.ref.kind,
        "metadata": metadata,
        "spec": _plain(policy.spec),
    }


def namespace_object(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """A Namespace carrying exactly ``labels``. Applied server-side by one field manager, the
    labels it leaves out are removed, which is what makes the rollback exact."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(sorted(labels.items()))},
    }


def object_stub(ref: ObjectRef, api_version: str) -> dict[str, Any]:
    """Identity only: enough to delete or restart an object."""
    metadata: dict[str, Any] = {"name": ref.name}
    if ref.namespace:
        metadata["namespace"] = ref.namespace
    return {"apiVersion": api_version, "kind": ref.kind, "metadata": metadata}


#: apiVersion of each workload kind, for restart stubs.
WORKLOAD_API = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "ReplicationController": "v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Pod": "v1",
    "Rollout": "argoproj.io/v1alpha1",
}


#: Pod labels that differ from one version of a workload to the next (Istio's ``version``, the
#: recommended ``app.kubernetes.io/version``, the hashes controllers add): a policy selecting
#: on them would lose the pods of the next version.
VERSION_LABELS = frozenset({"version", "app.kubernetes.io/version", "pod-template-hash",
                            "controller-revision-hash", "rollouts-pod-template-hash"})

def selector_labels(workload: Workload) -> dict[str, str]:
    """``matchLabels`` for a policy on ``workload``'s pods: the workload's own selector
    (``spec.selector.matchLabels``) when it has one, which selects the pods of every version
    it rolls out (a v2 canary of the template keeps its policy); else (bare Pods, Jobs) the pod
    labels without the ones that change per version (:data:`VERSION_LABELS`). Only values the
    CRD schema accepts (<= 63 characters, no wildcard); empty when nothing usable is left, in
    which case no port exception is possible."""
    source = workload.selector or {k: v for k, v in workload.pod_labels.items()
                                   if k not in VERSION_LABELS}
    return {k: v for k, v in sorted(source.items())
            if k and "*" not in k and len(v) <= _MAX_LABEL_VALUE and "*" not in v}


#: Workloads by ``(namespace, pod label, value)``: :func:`pod_label_index`.
PodLabelIndex = Mapping[tuple[str, str, str], Sequence[Workload]]


def pod_label_index(workloads: Iterable[Workload]) -> PodLabelIndex:
    """Every workload under each ``(namespace, pod label, value)`` its pods carry."""
    index: dict[tuple[str, str, str], list[Workload]] = defaultdict(list)
    for w in workloads:
        for k, v in w.pod_labels.items():
            index[w.namespace, k, v].append(w)
    return index


def isolating_selector(workload: Workload,
                       index: PodLabelIndex) -> tuple[dict[str, str], str]:
    """``matchLabels`` for a policy on ``workload`` alone (:func:`selector_labels`), or ``{}``
    and why there is none: no usable pod labels, or labels every one of which another
    workload's pods in its namespace also carry (its full label set is the narrowest
    selector, so no subset can do better). ``index`` is :func:`pod_label_index` of the
    inventory's workloads."""
    labels = selector_labels(workload)
    if not labels:
        return {}, "no pod labels usable as a selector"
    # The workloads carrying every label: the smallest set of those carrying one of them,
    # narrowed by the others (an index, not a walk over the namespace per workload).
    carriers = sorted((index.get((workload.namespace, k, v), ()) for k, v in labels.items()),
                      key=len)
    shared = sorted(o.ref.key for o in carriers[0] if o.ref != workload.ref
                    and all(o.pod_labels.get(k) == v for k, v in labels.items()))
    if shared:
        return {}, (f"its pod labels also select {join_names(shared)}, so a "
                    "workload policy would widen to them")
    return labels, ""


def _plain(value: Any) -> Any:
    """Mappings and sequences of a parsed spec as plain dicts and lists (sorted keys)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def join_names(names: Iterable[str]) -> str:
    """Names for a sentence: ``a, b and c``."""
    items = list(names)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
