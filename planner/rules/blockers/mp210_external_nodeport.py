"""MP210 NodePort or LoadBalancer straight to meshed pods.

Detects: ``external:internet`` calls to Services of type NodePort or LoadBalancer whose pods
will be meshed.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import caller_findings

INFO = RuleInfo(
    code="MP210",
    title="NodePort or LoadBalancer straight to meshed pods",
    category="blocker",
    severity=Level.ERROR,
    why=(
        "External clients reaching pods through a NodePort or LoadBalancer Service (or an "
        "ALB/NLB with target-type ip) bypass any gateway and speak plaintext; STRICT rejects "
        "them. Refs #30117, #14132."
    ),
    fix=(
        "Expose the workload through the Istio ingress gateway; otherwise portLevelMtls "
        "PERMISSIVE on the container ports behind the node port."
    ),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per caller and serving workload, with its port exception."""
    return caller_findings(ctx, INFO, "internet")


RULE = Rule(INFO, check)
