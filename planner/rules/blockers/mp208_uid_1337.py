"""MP208 Application container runs as UID 1337.

Detects: meshed sidecar workloads whose pod or app container ``runAsUser`` is 1337 (IST0144).
Init containers are exempt: UID 1337 is the documented fix for MP209.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import enrolled_workloads

PROXY_UID = 1337

INFO = RuleInfo(
    code="MP208",
    title="Application runs as the proxy's UID 1337",
    category="blocker",
    severity=Level.ERROR,
    why=("The sidecar's iptables rules exempt UID 1337 so the proxy's own traffic is not "
         "captured; an app running as 1337 bypasses the proxy and sends plaintext, which "
         "STRICT servers refuse (IST0144)."),
    fix="Run the application under another UID (securityContext.runAsUser).",
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per workload."""
    findings = []
    for w, mode in enrolled_workloads(ctx):
        if mode != "sidecar":
            continue
        bad = [c.name for c in w.containers if (c.run_as_user if c.run_as_user is not None
                                                else w.run_as_user) == PROXY_UID]
        if bad:
            findings.append(INFO.finding(
                subject=w.ref.key,
                message=(f"{w.ref.key} container(s) {', '.join(bad)} run as UID 1337 and "
                         "bypass the sidecar"),
                namespace=w.namespace,
                objects=(w.ref.key,),
            ))
    return findings


RULE = Rule(INFO, check)
