"""What the blocker rules share: the plaintext calls STRICT would refuse, by kind of caller.

A call is *at risk* when its callee namespace is enrolled by the plan, the serving workload will
be in the mesh, the caller will not be (see :func:`planner.domain.membership.caller_fate`), and the
traffic is not one STRICT lets through anyway (rewritten probes, merged metrics). Each rule of
the caller family picks one kind of caller, so a call is reported exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar, cast

from planner.domain.findings import Finding, PortExceptionOffer, RuleContext, RuleInfo
from planner.domain.graph import APISERVER, INGRESS_PREFIX, INTERNET, KUBELET, PROMETHEUS, Edge
from planner.domain.inventory import Workload
from planner.domain.membership import (
    CallerFates,
    Membership,
    backend_ports,
    benign_plaintext,
    membership,
    parse_ref,
)
from planner.domain.value import value_class

T = TypeVar("T")


@value_class
class RiskyCall:
    """One plaintext call that STRICT on the callee's namespace would refuse."""

    edge: Edge
    kind: str
    reason: str
    workload: Workload
    ports: tuple[int, ...]


def _cached(name: str, ctx: RuleContext, compute: Callable[[], T]) -> T:
    """``compute()``, once per context: eight caller rules and several others ask the same
    questions of one context in a row, and recomputing them per rule dominated the plan's run
    time on large clusters (:attr:`RuleContext.derived`)."""
    if name not in ctx.derived:
        ctx.derived[name] = compute()
    return cast(T, ctx.derived[name])


def members(ctx: RuleContext) -> Membership:
    """The plan's enrollment for this context (its data plane, sidecar where nothing says
    otherwise)."""
    if ctx.fates is not None:  # RuleContext.fates: built on this very membership
        return ctx.fates.members
    return _cached("members", ctx,
                   lambda: membership(ctx.inventory, ctx.root_namespace, ctx.dataplane))


def fates(ctx: RuleContext) -> CallerFates:
    """Each node's fate under :func:`members`: whether it will be in the mesh, and whether it
    will enforce PeerAuthentication, worked out once per node for all the rules (and the plan
    builder, when the context brings them)."""
    if ctx.fates is not None:
        return ctx.fates
    return _cached("fates", ctx, lambda: CallerFates(ctx.inventory, members(ctx)))


def caller_kind(ctx: RuleContext, edge: Edge) -> str:
    """``ingress``, ``hostnetwork``, ``batch``, ``apiserver``, ``internet``, ``kubelet``,
    ``scrape`` or ``outside`` (any other caller that stays out of the mesh)."""
    caller = edge.caller
    if caller == PROMETHEUS or (edge.evidence and all(ev.kind == "scrape" for ev in edge.evidence)):
        return "scrape"
    if caller.startswith(INGRESS_PREFIX):
        return "ingress"
    fixed = {APISERVER: "apiserver", INTERNET: "internet", KUBELET: "kubelet"}
    if caller in fixed:
        return fixed[caller]
    workload = ctx.inventory.workload_of(caller)
    if workload is None:
        return "outside"
    if ctx.inventory.roles.infrastructure(workload) == "ingress controller":
        return "ingress"
    if workload.host_network:
        return "hostnetwork"
    if workload.is_batch and workload.inject_opt == "false":
        return "batch"
    return "outside"


def risky_calls(ctx: RuleContext) -> tuple[RiskyCall, ...]:
    """Every call STRICT would refuse, in graph order."""
    return _cached("risky", ctx, lambda: tuple(_risky_calls(ctx)))


def _risky_calls(ctx: RuleContext) -> Iterator[RiskyCall]:
    m = members(ctx)
    fate = fates(ctx)
    inv = ctx.inventory
    for edge in ctx.graph.edges:
        # Most callers will be in the mesh: the cheapest test first.
        meshed, reason = fate.of(edge.caller)
        if meshed:
            continue
        callee = parse_ref(edge.callee)
        if callee is None or not m.enrolled(callee.namespace) or edge.caller == "external:any":
            continue
        service = inv.service_index.get((callee.namespace, callee.name))
        for backend in ctx.graph.backends.get(edge.callee, ()):
            workload = inv.workload_of(backend)
            if workload is None or not fate.enforces(backend):
                continue
            if benign_plaintext(inv, m, edge, workload):
                continue
            ports = backend_ports(inv, service, edge, workload)
            yield RiskyCall(edge, caller_kind(ctx, edge), reason, workload, ports)


def caller_findings(ctx: RuleContext, info: RuleInfo, kind: str) -> list[Finding]:
    """One finding per (caller, serving workload) of this kind of caller, with the port
    exception that would let it through."""
    grouped: dict[tuple[str, str], list[RiskyCall]] = {}
    for call in risky_calls(ctx):
        if call.kind == kind:
            grouped.setdefault((call.edge.caller, call.workload.ref.key), []).append(call)
    findings = []
    for (caller, workload_key), calls in sorted(grouped.items()):
        ports = sorted({p for c in calls for p in c.ports})
        services = sorted({c.edge.callee for c in calls})
        ns = calls[0].workload.namespace
        port_text = ", ".join(map(str, ports)) or "unknown"
        findings.append(info.finding(
            subject=workload_key,
            message=(f"{caller} ({calls[0].reason}) calls {', '.join(services)} in plaintext "
                     f"(container port {port_text} of {workload_key}); STRICT on {ns} would "
                     "refuse it"),
            namespace=ns,
            objects=tuple(sorted({caller, workload_key, *services})),
            exception=PortExceptionOffer(caller, workload_key, tuple(ports)),
        ))
    return findings


def enrolled_workloads(ctx: RuleContext) -> tuple[tuple[Workload, str], ...]:
    """Workloads that will be in the mesh behind a proxy the plan adds (Istio gateways are
    proxies themselves), with their namespace's data-plane mode."""
    m, fate = members(ctx), fates(ctx)
    return _cached("enrolled", ctx, lambda: tuple(
        (w, m.modes[w.namespace]) for w in ctx.inventory.workloads
        if fate.enforces(w.ref.key)))
