"""MP214 Prometheus scrapes app ports without metrics merging.

Detects: Scrape edges (annotations, ServiceMonitor, PodMonitor) that do not land on :15020 of a
sidecar with merging on.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import caller_findings

INFO = RuleInfo(
    code="MP214",
    title="Prometheus scrapes app ports without metrics merging",
    category="blocker",
    severity=Level.WARNING,
    why=(
        "With metrics merging (enablePrometheusMerge, the default) pilot-agent serves "
        ":15020/stats/prometheus in plaintext, which works under STRICT. With "
        'prometheus.istio.io/merge-metrics: "false", a Service/PodMonitor on the app port, or'
        " ambient (no merging), a Prometheus outside the mesh scrapes the app port in "
        "plaintext and STRICT refuses it. Refs #19874, #20011, #27824, #40666, #10544, "
        "#38720."
    ),
    fix=(
        "Run Prometheus with an Istio cert-writing sidecar (OUTPUT_CERTS, "
        'includeInboundPorts: "", includeOutboundIPRanges: "") and scrape with scheme https '
        "and insecure_skip_verify; or keep merging on; or portLevelMtls PERMISSIVE on the "
        "metrics port."
    ),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per caller and serving workload, with its port exception."""
    return caller_findings(ctx, INFO, "scrape")


RULE = Rule(INFO, check)
