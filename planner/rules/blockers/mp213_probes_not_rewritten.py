"""MP213 Probes with rewriteAppHTTPProbers off.

Detects: Probes on Service ports of sidecar workloads annotated
``sidecar.istio.io/rewriteAppHTTPProbers: "false"``.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import caller_findings

INFO = RuleInfo(
    code="MP213",
    title="Probes with rewriteAppHTTPProbers off",
    category="blocker",
    severity=Level.ERROR,
    why=(
        "The kubelet runs on the node, outside the mesh. Istio rewrites HTTP, TCP and gRPC "
        "probes to pilot-agent :15020 by default; with "
        'sidecar.istio.io/rewriteAppHTTPProbers: "false" they hit the app port in plaintext '
        "and fail under STRICT (readiness failures, CrashLoop). Refs #41010, #4429, #9150, "
        "#10357; linkerd2 #1990."
    ),
    fix=(
        "Remove the annotation (keep the probe rewrite), use exec probes, or serve probes on "
        "a separate port with portLevelMtls PERMISSIVE."
    ),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per caller and serving workload, with its port exception."""
    return caller_findings(ctx, INFO, "kubelet")


RULE = Rule(INFO, check)
