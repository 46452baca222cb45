"""What the ambient readiness rules (MP216-MP220) share: which namespaces to judge, which
waypoints exist, and which objects reach a namespace.

The plan's rules judge the namespaces the plan puts in ambient mode; ``planner assess`` judges
every namespace it could recommend ambient for (``RuleContext.ambient_candidates``), so the data
plane it recommends and the plan that enrolls it agree.
"""

from __future__ import annotations

from collections.abc import Mapping

from planner.domain import raw
from planner.domain.findings import Finding, RuleContext, RuleInfo
from planner.domain.inventory import PolicyObject
from planner.rules.blockers._common import _cached, members

#: The GatewayClass of Istio's waypoints (``istioctl waypoint apply`` creates them with it).
WAYPOINT_CLASS = "istio-waypoint"
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"


def ambient_targets(ctx: RuleContext) -> tuple[str, ...]:
    """The namespaces to judge as ambient: the candidates ``assess`` names, else the ones the
    plan puts (or keeps) in ambient mode."""
    if ctx.ambient_candidates is not None:
        return tuple(sorted(ctx.ambient_candidates))
    return tuple(sorted(ns for ns, mode in members(ctx).modes.items() if mode == "ambient"))


def reach(obj: PolicyObject, targets: tuple[str, ...], ctx: RuleContext,
          selector_field: str = "selector") -> tuple[str, ...]:
    """The target namespaces an Istio object applies to: its own, and every target for an
    object in the root namespace without a selector (mesh-wide)."""
    ns = obj.ref.namespace
    if ns == ctx.root_namespace and not raw.mapping(obj.spec.get(selector_field)):
        return targets
    return (ns,) if ns in targets else ()


def waypoints(ctx: RuleContext) -> dict[tuple[str, str], PolicyObject]:
    """Gateway API Gateways of class ``istio-waypoint``, by ``(namespace, name)``."""
    return _cached("waypoints", ctx, lambda: {
        key: g for key, g in gateways(ctx).items()
        if g.spec.get("gatewayClassName") == WAYPOINT_CLASS})


def gateways(ctx: RuleContext) -> dict[tuple[str, str], PolicyObject]:
    """Every Gateway API Gateway, by ``(namespace, name)``."""
    return _cached("gateways", ctx, lambda: {
        (g.ref.namespace, g.ref.name): g for g in ctx.inventory.gateways})


def waypoint_label(labels: Mapping[str, str], namespace: str) -> tuple[str, str] | None:
    """The ``(namespace, name)`` of the waypoint a ``istio.io/use-waypoint`` label names; None
    when there is no such label (``none`` opts out)."""
    name = labels.get(USE_WAYPOINT)
    if not name or name == "none":
        return None
    return labels.get(USE_WAYPOINT_NAMESPACE) or namespace, name


def bound_waypoint(ctx: RuleContext, namespace: str,
                   service: str | None = None) -> tuple[str, str] | None:
    """The existing waypoint traffic to ``service`` (or to the namespace) goes through: the
    Service's label overrides the namespace's. None when none is named or it does not exist."""
    ns = ctx.inventory.namespace_index.get(namespace)
    svc = ctx.inventory.service_index.get((namespace, service)) if service else None
    named = (waypoint_label(svc.labels, namespace) if svc is not None else None) or (
        waypoint_label(ns.labels, namespace) if ns is not None else None)
    return named if named is not None and named in waypoints(ctx) else None


def per_namespace(info: RuleInfo, obj: PolicyObject, namespaces: tuple[str, ...],
                  what: str) -> list[Finding]:
    """One finding of ``info`` per namespace ``obj`` reaches: ``what`` it does there, with
    ``mesh-wide`` when it comes from another (the root) namespace."""
    return [info.finding(
        subject=obj.ref.key,
        message=(f"{'mesh-wide ' if obj.ref.namespace != ns else ''}{obj.ref.key} {what} "
                 f"({ns} is judged as ambient)"),
        namespace=ns, objects=(obj.ref.key,)) for ns in namespaces]
