"""MP207 Service port without a protocol name or appProtocol.

Detects: TCP Service ports of meshed workloads whose name is not ``<protocol>[-suffix]`` for a
protocol Istio knows and which have no appProtocol (IST0118, KIA0601/0602). Server-first ports
are left to MP206.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import members
from planner.rules.blockers.mp206_server_first_protocol import SERVER_FIRST

#: Protocol prefixes Istio recognises in port names.
PROTOCOLS = frozenset({"http", "http2", "https", "grpc", "grpc-web", "tcp", "tls", "mongo",
                       "mysql", "redis", "udp"})
#: ``<protocol>-`` name prefixes, for one ``str.startswith`` per port.
_PREFIXES = tuple(sorted(f"{p}-" for p in PROTOCOLS))

INFO = RuleInfo(
    code="MP207",
    title="Unnamed port: protocol sniffing",
    category="blocker",
    severity=Level.INFO,
    why=("A port without a protocol name or appProtocol is sniffed (IST0118): detection adds "
         "latency, can misclassify traffic and breaks server-first protocols; explicit "
         "protocols make the STRICT verification metrics meaningful."),
    fix="Name the port <protocol>[-suffix] (http-web, grpc-api, tcp-db) or set appProtocol.",
)


def named(name: str, app_protocol: str | None) -> bool:
    """True when the port declares its protocol."""
    if app_protocol:
        return True
    lowered = name.lower()
    return lowered in PROTOCOLS or lowered.startswith(_PREFIXES)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per Service with undeclared ports."""
    m = members(ctx)
    findings = []
    for svc in ctx.inventory.services:
        if not m.enrolled(svc.namespace) or not svc.selects:
            continue
        bad = [p for p in svc.ports if p.protocol.upper() == "TCP"
               and not named(p.name, p.app_protocol) and p.port not in SERVER_FIRST
               and (p.target_port if isinstance(p.target_port, int) else p.port)
               not in SERVER_FIRST]
        if not bad:
            continue
        findings.append(INFO.finding(
            subject=svc.ref.key,
            message=(f"{svc.ref.key} port(s) {', '.join(str(p.port) for p in bad)} declare no "
                     "protocol; Istio will sniff them"),
            namespace=svc.namespace,
            objects=(svc.ref.key,),
        ))
    return findings


RULE = Rule(INFO, check)
