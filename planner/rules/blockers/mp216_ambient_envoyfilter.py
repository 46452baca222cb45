"""MP216 EnvoyFilter that ambient ignores.

Detects: EnvoyFilters in a namespace judged as ambient, and mesh-wide ones (root namespace, no
``workloadSelector``) for every such namespace. ztunnel is not Envoy and waypoints do not take
sidecar patches, so the filter stops applying without an error.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._ambient import ambient_targets, per_namespace, reach

INFO = RuleInfo(
    code="MP216",
    title="EnvoyFilter ignored in ambient",
    category="blocker",
    severity=Level.ERROR,
    why=("EnvoyFilters patch the sidecar's Envoy configuration; ambient has no sidecar, so they "
         "are silently ignored (Istio's sidecar-to-ambient migration guide) and whatever they "
         "add (headers, Lua, rate limits, access logs) stops without an error."),
    fix=("Replace the filter with a supported API (Telemetry, WasmPlugin or AuthorizationPolicy "
         "bound to a waypoint with targetRefs), or keep the namespace on sidecars."),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per (EnvoyFilter, ambient namespace it applies to)."""
    targets = ambient_targets(ctx)
    if not targets:
        return []
    return [f for ef in ctx.inventory.istio_of_kind("EnvoyFilter")
            for f in per_namespace(INFO, ef, reach(ef, targets, ctx, "workloadSelector"),
                                   "would be silently ignored: ambient has no sidecar Envoy")]


RULE = Rule(INFO, check)
