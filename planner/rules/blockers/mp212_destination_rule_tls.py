"""MP212 DestinationRule with tls DISABLE or SIMPLE toward a host that will be STRICT.

Detects: DestinationRules whose traffic policy, port-level settings or subsets set ``tls.mode``
DISABLE or SIMPLE for a host in an enrolled namespace (Kiali KIA0207/KIA0208).
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.policy import DESTINATION_RULE, destination_rule_tls_modes
from planner.rules.blockers._common import members

BAD_MODES = ("DISABLE", "SIMPLE")

INFO = RuleInfo(
    code="MP212",
    title="DestinationRule TLS overrides auto mTLS toward a STRICT host",
    category="blocker",
    severity=Level.ERROR,
    why=("A DestinationRule with ClientTLSSettings is always used instead of auto mTLS "
         "(meshConfig enableAutoMtls). tls.mode DISABLE or SIMPLE toward a STRICT server gives "
         "connection resets or 503 (Kiali KIA0207/KIA0208; IST0113 was retired, istioctl no "
         "longer checks this)."),
    fix="Remove the tls block or set tls.mode: ISTIO_MUTUAL for in-mesh hosts.",
)


def host_namespace(host: str, rule_namespace: str, domain: str = "cluster.local") -> str | None:
    """The namespace a DestinationRule host points into (None for external hosts)."""
    host = host.lower().removesuffix(".")
    parts = host.split(".")
    if host.endswith(f".svc.{domain}") and len(parts) >= 4:
        return parts[-4]
    if host.endswith(".svc") and len(parts) >= 3:
        return parts[-2]
    if len(parts) == 1:
        return rule_namespace
    if len(parts) == 2 and parts[0] != "*":
        return parts[1]
    return None


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per DestinationRule."""
    m = members(ctx)
    findings = []
    for rule in ctx.inventory.istio_of_kind(DESTINATION_RULE):
        modes = [mode for mode in destination_rule_tls_modes(rule.spec) if mode in BAD_MODES]
        host = str(rule.spec.get("host") or "")
        ns = host_namespace(host, rule.ref.namespace)
        if not modes or ns is None or not m.enrolled(ns):
            continue
        findings.append(INFO.finding(
            subject=rule.ref.key,
            message=(f"{rule.ref.key} sets tls.mode {'/'.join(sorted(set(modes)))} toward "
                     f"{host}; once {ns} is STRICT these calls are refused"),
            namespace=ns,
            objects=(rule.ref.key,),
        ))
    return findings


RULE = Rule(INFO, check)
