"""MP217 Sidecar-only resource in an ambient namespace.

Detects: ``Sidecar`` objects (no ambient equivalent; a root-namespace one without a selector is
the mesh default and reaches every ambient namespace) and RequestAuthentication, Telemetry and
WasmPlugin objects bound to workloads with ``selector``: only a sidecar applies those. In ambient
they apply at a waypoint, bound with ``targetRefs``.
"""

from __future__ import annotations

from planner.domain import raw
from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._ambient import ambient_targets, per_namespace, reach

#: Kinds that bind to pods with ``selector`` in sidecar mode and need a waypoint in ambient.
SELECTOR_KINDS = ("RequestAuthentication", "Telemetry", "WasmPlugin")

INFO = RuleInfo(
    code="MP217",
    title="Sidecar-only resource in an ambient namespace",
    category="blocker",
    severity=Level.ERROR,
    why=("A Sidecar resource configures the per-pod proxy ambient does not have, and "
         "RequestAuthentication, Telemetry and WasmPlugin objects that select workloads are "
         "applied only by a sidecar: in ambient they silently stop applying until they are "
         "bound to a waypoint with targetRefs."),
    fix=("Delete the Sidecar (ambient needs none) and bind the selector policies to the "
         "namespace's waypoint with targetRefs (kind Gateway, group gateway.networking.k8s.io), "
         "deploying the waypoint first; or keep the namespace on sidecars."),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per (object, ambient namespace it applies to)."""
    targets = ambient_targets(ctx)
    if not targets:
        return []
    findings = []
    for obj in ctx.inventory.istio:
        kind = obj.ref.kind
        if kind == "Sidecar":
            reached = reach(obj, targets, ctx, "workloadSelector")
            what = "configures a sidecar proxy, which ambient does not have"
        elif kind in SELECTOR_KINDS and raw.mapping(obj.spec.get("selector")) \
                and not obj.spec.get("targetRefs"):
            reached = (obj.ref.namespace,) if obj.ref.namespace in targets else ()
            what = "selects workloads, which only a sidecar applies; ambient needs targetRefs"
        else:
            continue
        findings.extend(per_namespace(INFO, obj, reached, what))
    return findings


RULE = Rule(INFO, check)
