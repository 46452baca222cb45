"""Least-privilege authorization after STRICT: one ALLOW AuthorizationPolicy per callee workload,
naming the principals of the callers the call graph and observed traffic show, and the ports
they use.

Pure. :func:`authorization_policies` reads the inventory, the call graph (with observed traffic
merged in, when there is some) and the plan's enrollment (:class:`~planner.domain.membership.
Membership`), and returns an :class:`AuthzProposal`:

* a policy per workload that will be in the mesh and has callers: ``security.istio.io/v1``,
  ``action: ALLOW``, selecting the workload by its own selector, one rule per set of ports with
  the principals (``<trust domain>/ns/<ns>/sa/<account>``) that call them. Ambient namespaces get
  the same L4 form, which ztunnel enforces; neither manifests nor the telemetry meshplan reads
  show methods or paths, so no L7 rule is proposed (one would target the waypoint with
  ``targetRefs``). Dry run by default (``istio.io/dry-run: "true"``);
* the callers no principal can name (outside the mesh, host network, the API server, an ingress
  controller without a sidecar), with what to do: an enforced policy would deny them;
* service accounts shared by several workloads, which a principal cannot tell apart, with the
  per-workload ServiceAccounts and Deployment changes that would, and how many callers the
  policies could then tell apart;
* where no policy can act: the namespaces the plan keeps outside the mesh and the workloads
  left out of an enrolled one (their pods have no proxy to enforce a policy), with why.

Kubelet probes and scrapes that STRICT lets through (rewritten probes, merged metrics) reach
the proxy's own ports, not the application's, and are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Final

from planner.domain import policy
from planner.domain.graph import APISERVER, INGRESS_PREFIX, INTERNET, KUBELET, CallGraph, Edge
from planner.domain.inventory import Inventory, Workload
from planner.domain.membership import (
    CallerFates,
    Membership,
    backend_ports,
    benign_plaintext,
    caller_fate,
    enforces_peer_authentication,
    parse_ref,
)
from planner.domain.roles import infrastructure_role, is_istio_gateway, is_istio_gateway_caller
from planner.domain.value import value_class

AUTHORIZATION_API: Final = "security.istio.io/v1"
DRY_RUN_ANNOTATION: Final = "istio.io/dry-run"
DEFAULT_TRUST_DOMAIN: Final = "cluster.local"


@value_class(order=True)
class Caller:
    """One caller of a workload: its graph id, its principal (None when it has none), the
    container ports it reaches, and where the call is known from (``manifests``, ``observed``
    or ``both``)."""

    id: str
    principal: str | None
    ports: tuple[int, ...]
    seen: str


@value_class(order=True)
class Unexpressible:
    """A caller no principal can name, why, and what to do before enforcing."""

    workload: str
    caller: str
    ports: tuple[int, ...]
    reason: str
    action: str


@value_class(order=True)
class SharedAccount:
    """A service account several workloads run as: a policy naming it allows them all.
    ``callers`` are those of them that call a policy's workload; ``policies`` the workloads
    (keys) whose policies name it."""

    namespace: str
    account: str
    workloads: tuple[str, ...]
    callers: tuple[str, ...]
    policies: tuple[str, ...]

    @property
    def principal_text(self) -> str:
        """``ns/account``, as the tables show it."""
        return f"{self.namespace}/{self.account}"


@value_class
class WorkloadPolicy:
    """The ALLOW policy proposed for one workload, with the callers behind it."""

    workload: str
    namespace: str
    mode: str
    policy: Mapping[str, Any]
    callers: tuple[Caller, ...]


@value_class
class AccountSplit:
    """The prerequisite step that gives every workload sharing an account its own: the
    ServiceAccounts to create and the Deployment (or other controller) changes."""

    service_accounts: tuple[Mapping[str, Any], ...]
    workload_patches: tuple[Mapping[str, Any], ...]
    #: Distinct principals among all callers now, and once every caller has its own account.
    principals_now: int
    principals_after: int
    callers: int


@value_class
class AuthzProposal:
    """Everything ``planner authz`` proposes. ``enforce`` is False for the dry-run form."""

    policies: tuple[WorkloadPolicy, ...]
    unexpressible: tuple[Unexpressible, ...]
    shared_accounts: tuple[SharedAccount, ...]
    split: AccountSplit
    uncalled: tuple[str, ...]
    enforce: bool
    trust_domain: str
    #: Called workloads without a policy because no selector picks their pods alone
    #: (workload key, why): a policy without one would apply to the whole namespace, one
    #: whose labels other workloads share would deny those workloads' callers.
    unselectable: tuple[tuple[str, str], ...] = ()
    #: Where no policy can act (namespace or workload key, why): namespaces with workloads
    #: that the plan keeps outside the mesh, and workloads outside it in enrolled namespaces.
    outside: tuple[tuple[str, str], ...] = ()

    @property
    def objects(self) -> tuple[Mapping[str, Any], ...]:
        """The AuthorizationPolicies, in workload order."""
        return tuple(p.policy for p in self.policies)


def principal(trust_domain: str, namespace: str, account: str) -> str:
    """The SPIFFE-style principal Istio matches: ``<trust domain>/ns/<ns>/sa/<account>``."""
    return f"{trust_domain}/ns/{namespace}/sa/{account}"


POLICY_SUFFIX: Final = "-allow"


def policy_name(workload: Workload) -> str:
    """``<workload>-allow``: one policy per workload, found again by name on the next run."""
    return f"{workload.name}{POLICY_SUFFIX}"


def policy_workload(policy_object: Mapping[str, Any]) -> str:
    """The name of the workload a policy of :func:`policy_name` is for."""
    return str(policy_object["metadata"]["name"]).removesuffix(POLICY_SUFFIX)


def authorization_policies(inventory: Inventory, graph: CallGraph, members: Membership, *,
                           enforce: bool = False,
                           trust_domain: str = DEFAULT_TRUST_DOMAIN) -> AuthzProposal:
    """The least-privilege proposal for the mesh ``members`` describes (see the module doc)."""
    calls: dict[str, dict[str, tuple[set[int], set[str]]]] = defaultdict(dict)
    outside: dict[tuple[str, str], tuple[set[int], str]] = {}
    for edge in graph.edges:
        for workload, ports in _served(inventory, graph, members, edge):
            caller = edge.caller
            meshed, reason = caller_fate(inventory, members, caller)
            ids = _principal_callers(inventory, caller) if meshed else []
            if not ids:
                entry = outside.setdefault((workload.ref.key, caller), (set(), reason))
                entry[0].update(ports)
                continue
            for caller_id in ids:
                found = calls[workload.ref.key].setdefault(caller_id, (set(), set()))
                found[0].update(ports)
                found[1].add(edge.origin.value)
    policies = []
    unselectable = []
    labelled = policy.pod_label_index(inventory.workloads)
    for key in sorted(calls):
        target = _workload(inventory, key)
        if target is None:
            continue
        selector, why = policy.isolating_selector(target, labelled)
        if not selector:
            unselectable.append((key, why))
            continue
        callers = tuple(sorted(
            Caller(cid, _principal_of(inventory, cid, trust_domain), tuple(sorted(ports)),
                   _seen(origins))
            for cid, (ports, origins) in calls[key].items()))
        policies.append(WorkloadPolicy(
            key, target.namespace, members.modes.get(target.namespace, "outside"),
            _policy(target, selector, callers, enforce), callers))
    unexpressible = tuple(sorted(
        Unexpressible(w, c, tuple(sorted(ports)), reason, _advice(inventory, c))
        for (w, c), (ports, reason) in outside.items()))
    shared = _shared_accounts(inventory, policies)
    with_calls = ({p.workload for p in policies} | {u.workload for u in unexpressible}
                  | {key for key, _ in unselectable})
    uncalled = tuple(sorted(
        w.ref.key for w in inventory.workloads
        if enforces_peer_authentication(inventory, members, w.ref.key)
        and w.ref.key not in with_calls))
    return AuthzProposal(tuple(policies), unexpressible, shared,
                         _split(inventory, policies, shared, trust_domain), uncalled, enforce,
                         trust_domain, tuple(unselectable), _outside(inventory, members))


def _outside(inventory: Inventory, members: Membership) -> tuple[tuple[str, str], ...]:
    """The namespaces holding workloads that the plan keeps outside the mesh, then the
    workloads outside it in enrolled namespaces, each with why: no proxy there enforces a
    policy, so none is proposed."""
    fates = CallerFates(inventory, members)
    namespaces = sorted({w.namespace for w in inventory.workloads
                         if not members.enrolled(w.namespace)})
    workloads = sorted((w.ref.key, fate[1]) for w in inventory.workloads
                       if members.enrolled(w.namespace)
                       and not (fate := fates.of(w.ref.key))[0])
    return tuple([(ns, members.reasons.get(ns, "")) for ns in namespaces] + workloads)


def _workload(inventory: Inventory, node_id: str) -> Workload | None:
    ref = parse_ref(node_id)
    return inventory.workload_index.get(ref) if ref is not None else None


def _served(inventory: Inventory, graph: CallGraph, members: Membership,
            edge: Edge) -> Iterable[tuple[Workload, tuple[int, ...]]]:
    """The workloads behind the Service ``edge`` calls that will enforce policy, with the
    container ports the call reaches; traffic STRICT lets through to the proxy is left out."""
    if edge.hint or edge.caller == KUBELET:
        return
    callee = parse_ref(edge.callee)
    service = (inventory.service_index.get((callee.namespace, callee.name))
               if callee is not None else None)
    for backend in graph.backends.get(edge.callee, ()):
        workload = _workload(inventory, backend)
        if workload is None or not enforces_peer_authentication(inventory, members, backend):
            continue
        if benign_plaintext(inventory, members, edge, workload):
            continue
        yield workload, backend_ports(inventory, service, edge, workload)


def _principal_callers(inventory: Inventory, caller: str) -> list[str]:
    """The workload ids whose accounts stand for a meshed caller: the caller itself, or for an
    Istio gateway known only by class, the gateway workloads in the inventory."""
    if _workload(inventory, caller) is not None:
        return [caller]
    if is_istio_gateway_caller(caller):
        return sorted(w.ref.key for w in inventory.workloads
                      if is_istio_gateway(w) and not _not_ingress(w))
    return []


def _not_ingress(workload: Workload) -> bool:
    """Egress and east-west gateways and waypoints: Istio gateways that do not route ingress."""
    labels = workload.pod_labels
    text = " ".join((workload.name, labels.get("istio", ""), labels.get("app", "")))
    return "egress" in text or "eastwest" in text or "istio.io/waypoint-for" in labels


def _principal_of(inventory: Inventory, caller_id: str, trust_domain: str) -> str | None:
    workload = _workload(inventory, caller_id)
    if workload is None:
        return None
    return principal(trust_domain, workload.namespace, workload.service_account)


def _seen(origins: set[str]) -> str:
    if "both" in origins or {"inferred", "observed"} <= origins:
        return "both"
    return "observed" if origins == {"observed"} else "manifests"


def _policy(workload: Workload, selector: Mapping[str, str], callers: tuple[Caller, ...],
            enforce: bool) -> dict[str, Any]:
    """The ALLOW policy on the pods ``selector`` picks (the workload's own selector, which
    picks no other workload's pods): one rule per set of ports, naming every principal that
    uses exactly those ports (a rule without ports when the ports are unknown). Ports and
    principals only: no L7 condition, which in ambient would need a waypoint."""
    by_ports: dict[tuple[int, ...], set[str]] = defaultdict(set)
    for caller in callers:
        if caller.principal is not None:
            by_ports[caller.ports].add(caller.principal)
    rules = []
    for ports, principals in sorted(by_ports.items()):
        rule: dict[str, Any] = {"from": [{"source": {"principals": sorted(principals)}}]}
        if ports:
            rule["to"] = [{"operation": {"ports": [str(p) for p in ports]}}]
        rules.append(rule)
    metadata: dict[str, Any] = {"name": policy_name(workload), "namespace": workload.namespace,
                                "labels": dict(policy.MANAGED_BY)}
    if not enforce:
        metadata["annotations"] = {DRY_RUN_ANNOTATION: "true"}
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(selector)}, "action": "ALLOW",
                            "rules": rules}
    return {"apiVersion": AUTHORIZATION_API, "kind": "AuthorizationPolicy",
            "metadata": metadata, "spec": spec}


def _advice(inventory: Inventory, caller: str) -> str:
    """What to do about a caller no principal can name."""
    workload = _workload(inventory, caller)
    keep = ("until then, enforcing this policy denies it: keep the policy in dry run, or add a "
            "rule allowing its ports from any source (to.operation.ports only)")
    if caller == APISERVER:
        return ("the API server has no mesh identity: allow the webhook port from any source "
                "(a rule with to.operation.ports only), or leave this workload without a policy")
    if caller == INTERNET:
        return ("traffic from outside the cluster has no identity: route it through an Istio "
                "ingress gateway and allow the gateway's principal; " + keep)
    if is_istio_gateway_caller(caller):
        return ("the Istio gateway's workload is not in the input: add its principal (by "
                "default cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account) "
                "to the policy, or scan the namespace it runs in")
    if caller.startswith(INGRESS_PREFIX) or (
            workload is not None and infrastructure_role(workload) == "ingress controller"):
        return ("enroll the ingress controller (or replace it with an Istio gateway) so it has "
                "a principal; " + keep)
    if workload is not None and workload.host_network:
        return ("a hostNetwork pod never gets a mesh identity: move it off the host network, "
                "or allow its node addresses with from.source.ipBlocks; " + keep)
    if workload is not None:
        return f"enroll {caller} in the mesh so it calls with a principal; " + keep
    return "the caller is outside the inventory: enroll it or name it by ipBlocks; " + keep


def _shared_accounts(inventory: Inventory,
                     policies: list[WorkloadPolicy]) -> tuple[SharedAccount, ...]:
    """Accounts named by a policy that more than one workload runs as."""
    runs_as: dict[tuple[str, str], list[str]] = defaultdict(list)
    for w in inventory.workloads:
        runs_as[(w.namespace, w.service_account)].append(w.ref.key)
    callers: dict[tuple[str, str], set[str]] = defaultdict(set)
    named_by: dict[tuple[str, str], set[str]] = defaultdict(set)
    for p in policies:
        for c in p.callers:
            workload = _workload(inventory, c.id)
            if workload is not None:
                account = (workload.namespace, workload.service_account)
                callers[account].add(c.id)
                named_by[account].add(p.workload)
    return tuple(sorted(
        SharedAccount(ns, sa, tuple(sorted(runs_as[(ns, sa)])), tuple(sorted(callers[(ns, sa)])),
                      tuple(sorted(named_by[(ns, sa)])))
        for (ns, sa) in callers if len(runs_as[(ns, sa)]) > 1))


def split_account_name(workload: Workload) -> str:
    """The account a workload gets when it stops sharing one: its own name."""
    return workload.name


def _split(inventory: Inventory, policies: list[WorkloadPolicy],
           shared: tuple[SharedAccount, ...], trust_domain: str) -> AccountSplit:
    """Per-workload ServiceAccounts for every workload of a shared account (the one whose
    name is the account's keeps it), and how many principals the callers would then have."""
    accounts: list[Mapping[str, Any]] = []
    patches: list[Mapping[str, Any]] = []
    for group in shared:
        for key in group.workloads:
            workload = _workload(inventory, key)
            # A bare Pod's account cannot change (its spec is immutable): it is recreated by
            # whoever created it, so it gets no patch here.
            if workload is None or split_account_name(workload) == group.account \
                    or workload.ref.kind == "Pod":
                continue
            name = split_account_name(workload)
            accounts.append({"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": name, "namespace": workload.namespace,
                                          "labels": dict(policy.MANAGED_BY)}})
            patches.append(_account_patch(workload, name))
    caller_ids = {c.id for p in policies for c in p.callers}
    principals = {c.principal for p in policies for c in p.callers if c.principal}
    after = set()
    for cid in caller_ids:
        workload = _workload(inventory, cid)
        if workload is None:
            continue
        shares = any(cid in g.workloads for g in shared)
        account = split_account_name(workload) if shares else workload.service_account
        after.add(principal(trust_domain, workload.namespace, account))
    return AccountSplit(tuple(accounts), tuple(patches), len(principals), len(after),
                        len(caller_ids))


def _account_patch(workload: Workload, account: str) -> dict[str, Any]:
    """The change to ``workload``'s controller: its pod template runs as ``account``. A
    CronJob's template sits one level deeper."""
    pod_spec: dict[str, Any] = {"serviceAccountName": account}
    template: dict[str, Any] = {"template": {"spec": pod_spec}}
    if workload.ref.kind == "CronJob":
        template = {"jobTemplate": {"spec": template}}
    return {"apiVersion": policy.WORKLOAD_API.get(workload.ref.kind, "apps/v1"),
            "kind": workload.ref.kind,
            "metadata": {"name": workload.name, "namespace": workload.namespace},
            "spec": template}
