"""MP211 Webhook or APIService called by the API server.

Detects: Services named by Validating/MutatingWebhookConfiguration ``clientConfig.service`` and
``APIService.spec.service``.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import caller_findings

INFO = RuleInfo(
    code="MP211",
    title="Webhook or APIService called by the API server",
    category="blocker",
    severity=Level.CRITICAL,
    why=(
        "kube-apiserver is outside the mesh and calls admission webhooks, CRD conversion "
        "webhooks and aggregated APIs in plaintext TLS; under STRICT the calls fail with EOF "
        "or x509 errors, and a failurePolicy: Fail webhook blocks the API. Refs #34543, "
        "#39290, #52874 (ambient); knative-extensions/net-istio #150; fluxcd/flagger #239."
    ),
    fix=(
        "portLevelMtls PERMISSIVE on the webhook's container port, "
        "traffic.sidecar.istio.io/excludeInboundPorts, or no injection for the webhook pods."
    ),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per caller and serving workload, with its port exception."""
    return caller_findings(ctx, INFO, "apiserver")


RULE = Rule(INFO, check)
