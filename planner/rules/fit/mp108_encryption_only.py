"""MP108: no L7 traffic-control need at all, so only encryption would be used."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.fit.common import detected, factor
from planner.rules.fit.signals import (
    canaries,
    fault_injection,
    multi_version_services,
    request_authorization,
    resilience,
    traffic_shifting,
)

WEIGHT = -20.0
#: Every L7 need MP102-MP107 look for; none found means encryption is all a mesh would add.
L7_DETECTORS = (multi_version_services, traffic_shifting, canaries, fault_injection, resilience,
                request_authorization)

INFO = RuleInfo(
    code="MP108",
    title="Encryption-only needs",
    category="fit",
    severity=Level.INFO,
    why="Without L7 traffic control a mesh is mostly an expensive way to encrypt; lighter "
        "tools encrypt without a proxy per pod or a control plane to run.",
    fix="Consider NetworkPolicy plus application-level TLS (fewest moving parts, but each app "
        "handles its certificates), or a CNI with WireGuard encryption such as Cilium "
        "(transparent node-to-node encryption, no proxies, no L7 features).",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires when none of the L7 detectors finds anything."""
    if any(detected(ctx, detect) for detect in L7_DETECTORS):
        return []
    return [factor(INFO, value="0 L7 needs", threshold=">= 1 L7 need (MP102-MP107)",
                   weight=WEIGHT,
                   message="no L7 traffic control seen (versions, routing, canaries, faults, "
                           "retries, request authz): a mesh would add encryption only")]


RULE = Rule(INFO, check)
