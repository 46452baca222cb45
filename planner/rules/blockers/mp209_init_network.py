"""MP209 Init container that needs the network.

Detects: init containers of meshed sidecar workloads whose env, command or args name an address
(a URL, ``host:port``) or run a network tool, and that do not run as UID 1337.
"""

from __future__ import annotations

import re

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.inventory import Container
from planner.rules.blockers._common import enrolled_workloads

_NETWORK = re.compile(
    r"://|\b(nc|ncat|curl|wget|pg_isready|mysqladmin|nslookup|dig|telnet|migrate)\b"
    r"|[a-z0-9-]+(\.[a-z0-9-]+)*:\d{2,5}\b")

INFO = RuleInfo(
    code="MP209",
    title="Init container needs the network",
    category="blocker",
    severity=Level.WARNING,
    why=("Init containers run before the sidecar is up: with istio-init or Istio CNI the "
         "redirect is already in place, so their connections (DB migrations, wait-for loops) "
         "fail (#48854; cloudfoundry/cf-for-k8s PR #35)."),
    fix=("Run the init container as UID 1337, exclude its destinations "
         "(traffic.sidecar.istio.io/excludeOutboundIPRanges or excludeOutboundPorts), or use "
         "native sidecars (sidecar.istio.io/nativeSidecar)."),
)


def needs_network(container: Container) -> bool:
    """True when the container's command line or env looks like it dials out."""
    texts = [*container.command, *container.args,
             *(e.value for e in container.env if e.value)]
    return any(_NETWORK.search(t) for t in texts)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per workload."""
    findings = []
    for w, mode in enrolled_workloads(ctx):
        if mode != "sidecar" or w.pod_annotations.get("sidecar.istio.io/nativeSidecar") == "true":
            continue
        bad = [c.name for c in w.init_containers if c.run_as_user != 1337 and needs_network(c)]
        if bad:
            findings.append(INFO.finding(
                subject=w.ref.key,
                message=(f"{w.ref.key} init container(s) {', '.join(bad)} call the network "
                         "before the sidecar starts"),
                namespace=w.namespace,
                objects=(w.ref.key,),
            ))
    return findings


RULE = Rule(INFO, check)
