"""MP220 targetRefs or use-waypoint naming a Gateway that does not exist.

Detects, in a namespace judged as ambient: Istio objects whose ``targetRefs`` (or
``targetRef``) name a Gateway API ``Gateway`` absent from the input, and Namespaces or Services
whose ``istio.io/use-waypoint`` label names a waypoint absent from the input. A policy bound to
nothing is enforced nowhere: an ALLOW-list meant to narrow the callers leaves traffic allowed
to all (istio/istio#57315).
"""

from __future__ import annotations

from collections.abc import Iterator

from planner.domain import raw
from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.inventory import ObjectRef
from planner.rules.blockers._ambient import (
    USE_WAYPOINT,
    ambient_targets,
    gateways,
    waypoint_label,
    waypoints,
)

INFO = RuleInfo(
    code="MP220",
    title="targetRefs or use-waypoint names a missing Gateway",
    category="blocker",
    severity=Level.ERROR,
    why=("A policy whose targetRefs name a waypoint or Gateway that does not exist applies to "
         "nothing, without an error: a migration tool once bound policies to a missing "
         "waypoint, which left traffic allowed to all (istio/istio#57315). A use-waypoint label "
         "naming a missing waypoint sends the L7 features nowhere."),
    fix=("Create the waypoint (istioctl waypoint apply -n NS --name NAME) before the policies "
         "that target it, or fix the name in targetRefs / the istio.io/use-waypoint label."),
)


def _refs(spec: object) -> Iterator[dict[str, object]]:
    mapping = raw.mapping(spec)
    yield from (dict(raw.mapping(r)) for r in raw.sequence(mapping.get("targetRefs")))
    if single := raw.mapping(mapping.get("targetRef")):
        yield dict(single)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per object naming a Gateway or waypoint the input does not hold."""
    targets = set(ambient_targets(ctx))
    if not targets:
        return []
    known, bound = gateways(ctx), waypoints(ctx)
    findings = []
    for obj in ctx.inventory.istio:
        ns = obj.ref.namespace
        if ns not in targets:
            continue
        missing = sorted({f"{r.get('namespace') or ns}/{r.get('name')}" for r in _refs(obj.spec)
                          if r.get("kind") == "Gateway"
                          and (str(r.get("namespace") or ns), str(r.get("name"))) not in known})
        for name in missing:
            findings.append(INFO.finding(
                subject=obj.ref.key,
                message=(f"{obj.ref.key} targets Gateway {name}, which is not in the input: the "
                         "policy would apply to nothing"),
                namespace=ns, objects=(obj.ref.key, f"Gateway/{name}")))
    # By reference: the key is formatted for a finding only, not for each of 10^4 Services;
    # a Service without the label (nearly all) is passed over before anything else is asked.
    labelled = [(ObjectRef("Namespace", "", n.name), n.name, n.labels)
                for n in ctx.inventory.namespaces if n.name in targets]
    labelled += [(s.ref, s.namespace, s.labels) for s in ctx.inventory.services
                 if USE_WAYPOINT in s.labels and s.namespace in targets]
    for ref, ns, labels in labelled:
        named = waypoint_label(labels, ns)
        if named is not None and named not in bound:
            key = ref.key
            findings.append(INFO.finding(
                subject=key,
                message=(f"{key} uses waypoint {named[0]}/{named[1]} (istio.io/use-waypoint), "
                         "which is not in the input as a Gateway of class istio-waypoint"),
                namespace=ns, objects=(key, f"Gateway/{named[0]}/{named[1]}")))
    return sorted(findings)


RULE = Rule(INFO, check)
