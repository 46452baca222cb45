"""MP219 L7 AuthorizationPolicy or route with no waypoint.

Detects, in a namespace judged as ambient:

* AuthorizationPolicies with L7 conditions (methods, paths, hosts, request headers, JWT
  principals, CUSTOM) that are not bound with ``targetRefs`` to a waypoint that exists (a
  ``Gateway`` of class ``istio-waypoint``, or a Service that uses one);
* VirtualServices applied to the mesh (no ``gateways``, or ``mesh``) with ``http`` routes, and
  HTTPRoutes or GRPCRoutes whose parent is a Service, for a Service no waypoint serves, unless
  the route only sends the Service to itself (nothing is lost without a waypoint).

ztunnel enforces L4 only; without a waypoint the L7 parts are not applied. A policy whose
``targetRefs`` name a Gateway that does not exist is MP220's.
"""

from __future__ import annotations

from collections.abc import Iterator

from planner.domain import raw
from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.inventory import PolicyObject
from planner.rules.blockers._ambient import ambient_targets, bound_waypoint, gateways
from planner.rules.fit.signals import request_authorization

INFO = RuleInfo(
    code="MP219",
    title="L7 policy or route in ambient with no waypoint",
    category="blocker",
    severity=Level.ERROR,
    why=("In ambient, ztunnel enforces L4 only: HTTP routing and AuthorizationPolicy rules on "
         "methods, paths or headers need a waypoint. Without one the routes do not apply and an "
         "ALLOW rule with L7 conditions can never match, so its callers are denied."),
    fix=("Deploy a waypoint first (istioctl waypoint apply -n NS --enroll-namespace) and bind "
         "the policy to it with targetRefs (kind Gateway, group gateway.networking.k8s.io); "
         "or keep the namespace on sidecars."),
)


def _policy_bound(ctx: RuleContext, ap: PolicyObject) -> tuple[bool, str]:
    """Whether an L7 policy is applied by an existing waypoint; the reason when not."""
    refs = [raw.mapping(r) for r in raw.sequence(ap.spec.get("targetRefs"))]
    if not refs:
        return False, "has no targetRefs, so ztunnel enforces it at L4 only"
    ns = ap.ref.namespace
    for ref in refs:
        kind, name = ref.get("kind"), str(ref.get("name", ""))
        if kind == "Gateway" and (ns, name) not in gateways(ctx):
            return True, ""  # a missing Gateway is MP220's finding
        if kind == "Service" and bound_waypoint(ctx, ns, name) is None:
            return False, f"targets Service {name}, which no waypoint serves"
    return True, ""


def _service_of_host(host: str, namespace: str) -> tuple[str, str]:
    parts = host.split(".")
    return (parts[1], parts[0]) if len(parts) > 1 else (namespace, host)


def _plain_http(http: list[object], host: str, namespace: str) -> bool:
    """True for VirtualService ``http`` routes that change nothing: one route, no match, one
    destination, the host itself, no subset. Without a waypoint nothing is lost."""
    if len(http) != 1:
        return False
    entry = raw.mapping(http[0])
    route = raw.sequence(entry.get("route"))
    if set(entry) - {"name", "route"} or len(route) != 1:
        return False
    dest = raw.mapping(raw.mapping(route[0]).get("destination"))
    if set(raw.mapping(route[0])) - {"destination"} or set(dest) - {"host", "port"}:
        return False
    return _service_of_host(str(dest.get("host", "")), namespace) == \
        _service_of_host(host, namespace)


def _plain_route(rules: list[object], parent: str) -> bool:
    """True for a Gateway API route to a Service that only sends it to itself."""
    if len(rules) != 1:
        return False
    rule = raw.mapping(rules[0])
    backends = raw.sequence(rule.get("backendRefs"))
    return (not set(rule) - {"name", "backendRefs"} and len(backends) == 1
            and raw.mapping(backends[0]).get("name") == parent
            and not set(raw.mapping(backends[0])) - {"name", "port", "kind", "group"})


def _routes(ctx: RuleContext, targets: set[str]) -> Iterator[tuple[str, str, str]]:
    """``(route key, namespace, service)`` for every mesh route that does something at L7 to
    a Service in a target."""
    for vs in ctx.inventory.istio_of_kind("VirtualService"):
        gw = raw.sequence(vs.spec.get("gateways"))
        http = raw.sequence(vs.spec.get("http"))
        if (gw and "mesh" not in gw) or not http:
            continue
        for host in raw.sequence(vs.spec.get("hosts")):
            if isinstance(host, str) and "*" not in host \
                    and not _plain_http(http, host, vs.ref.namespace):
                ns, svc = _service_of_host(host, vs.ref.namespace)
                if ns in targets and (ns, svc) in ctx.inventory.service_index:
                    yield vs.ref.key, ns, svc
    for route in ctx.inventory.routes:
        if route.ref.kind not in ("HTTPRoute", "GRPCRoute"):
            continue
        for parent in route.parents:
            if parent.kind == "Service" and parent.namespace in targets \
                    and not _plain_route(raw.sequence(route.spec.get("rules")), parent.name):
                yield route.ref.key, parent.namespace, parent.name


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per L7 policy, and per (route, Service), no waypoint applies."""
    targets = set(ambient_targets(ctx))
    if not targets:
        return []
    findings = []
    policies = {o.ref.key: o for o in ctx.inventory.istio_of_kind("AuthorizationPolicy")}
    for key, detail in request_authorization(ctx.inventory):
        ap = policies.get(key)
        if ap is None or ap.ref.namespace not in targets:
            continue
        bound, why = _policy_bound(ctx, ap)
        if not bound:
            findings.append(INFO.finding(
                subject=key, message=f"{key} checks {detail} but {why}; it needs a waypoint",
                namespace=ap.ref.namespace, objects=(key,)))
    for key, ns, svc in sorted(set(_routes(ctx, targets))):
        if bound_waypoint(ctx, ns, svc) is None:
            findings.append(INFO.finding(
                subject=key,
                message=(f"{key} routes Service/{ns}/{svc} at L7, but no waypoint serves it; "
                         "in ambient the route would not apply"),
                namespace=ns, objects=(key, f"Service/{ns}/{svc}")))
    return findings


RULE = Rule(INFO, check)
