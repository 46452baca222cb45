"""MP202 Job or CronJob opted out of injection.

Detects: Jobs and CronJobs with ``sidecar.istio.io/inject: "false"`` in an enrolled namespace.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import caller_findings

INFO = RuleInfo(
    code="MP202",
    title="Job or CronJob opted out of injection",
    category="blocker",
    severity=Level.WARNING,
    why=(
        'Jobs and CronJobs are often opted out (sidecar.istio.io/inject: "false") because a '
        "sidecar kept them from completing; they then call meshed Services in plaintext, "
        "which STRICT refuses. Refs #6324, #11045, #11659; istio.io #10316."
    ),
    fix=(
        "Inject the Job and use native sidecars (sidecar.istio.io/nativeSidecar, "
        "ENABLE_NATIVE_SIDECARS, Kubernetes >= 1.29) so it completes; otherwise portLevelMtls"
        " PERMISSIVE on the ports it calls."
    ),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per caller and serving workload, with its port exception."""
    return caller_findings(ctx, INFO, "batch")


RULE = Rule(INFO, check)
