"""MP201 Ingress controller outside the mesh.

Detects: Callers of kind ``ingress``: ``ingress:<class>`` nodes and workloads recognised as
ingress controllers. Istio's own gateways (Istio classes, VirtualServices bound to a gateway,
gateway workloads) are mesh clients and never count, in the input or not.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import caller_findings

INFO = RuleInfo(
    code="MP201",
    title="Ingress controller outside the mesh",
    category="blocker",
    severity=Level.ERROR,
    why=(
        "An ingress controller without a sidecar sends plaintext to the backends it proxies "
        "to; STRICT refuses it (502/503). Refs #30117, #14132, #24668, #25267, #43056, #51482"
        " (ambient); nginx/kubernetes-ingress #3039."
    ),
    fix=(
        "Route external traffic through the Istio ingress gateway, or mesh the controller "
        '(nginx must then proxy to the Service VIP, service-upstream: "true"); otherwise a '
        "workload PeerAuthentication with portLevelMtls PERMISSIVE on the backend's container"
        " ports."
    ),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per caller and serving workload, with its port exception."""
    return caller_findings(ctx, INFO, "ingress")


RULE = Rule(INFO, check)
