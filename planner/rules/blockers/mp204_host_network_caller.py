"""MP204 hostNetwork pod as caller.

Detects: Workloads with ``spec.hostNetwork: true`` that call an enrolled namespace.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import caller_findings

INFO = RuleInfo(
    code="MP204",
    title="hostNetwork pod as caller",
    category="blocker",
    severity=Level.ERROR,
    why=(
        "Pods with hostNetwork: true (node-exporter, log shippers) are never injected and "
        "IST0103 skips them: they are invisible plaintext callers that STRICT refuses."
    ),
    fix=(
        "A workload PeerAuthentication with portLevelMtls PERMISSIVE on the container ports "
        "they call (MESH-NOTES 7.4)."
    ),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per caller and serving workload, with its port exception."""
    return caller_findings(ctx, INFO, "hostnetwork")


RULE = Rule(INFO, check)
