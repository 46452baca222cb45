"""MP203 Caller outside the mesh.

Detects: Workloads that stay out for any other reason than the more specific caller rules.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import caller_findings

INFO = RuleInfo(
    code="MP203",
    title="Caller outside the mesh",
    category="blocker",
    severity=Level.ERROR,
    why=(
        "A workload in a namespace that is not enrolled (kube-system, monitoring, an "
        "opted-out namespace) or opted out of injection sends plaintext; STRICT on the callee"
        " refuses it. Istio's IST0103 skips such pods, so they go unflagged. Refs #30117, "
        "#24668."
    ),
    fix=(
        "Enroll the caller's namespace (istio-injection=enabled, istio.io/rev or "
        "istio.io/dataplane-mode=ambient); otherwise portLevelMtls PERMISSIVE scoped to the "
        "callee workload and the ports called, plus an AuthorizationPolicy."
    ),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per caller and serving workload, with its port exception."""
    return caller_findings(ctx, INFO, "outside")


RULE = Rule(INFO, check)
