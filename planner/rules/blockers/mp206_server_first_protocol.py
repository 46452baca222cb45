"""MP206 Server-first protocol on a port Istio will sniff.

Detects: Service ports of meshed workloads on well-known server-first ports (MySQL 3306, MongoDB
27017, SMTP 25/587, FTP 21, POP3 110, IMAP 143, NATS 4222) whose name has no ``tcp``/``tls``/
``mysql``/``mongo`` prefix and whose appProtocol is not one of those.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._common import members

#: Ports whose server speaks first, with the protocol for the message.
SERVER_FIRST = {21: "FTP", 25: "SMTP", 110: "POP3", 143: "IMAP", 587: "SMTP", 3306: "MySQL",
                4222: "NATS", 27017: "MongoDB"}
#: Port-name prefixes (and appProtocols) that turn protocol sniffing off.
OPAQUE = ("tcp", "tls", "mysql", "mongo")

INFO = RuleInfo(
    code="MP206",
    title="Server-first protocol without a tcp- port name",
    category="blocker",
    severity=Level.ERROR,
    why=("In PERMISSIVE mode, and with protocol sniffing, the sidecar waits for the client's "
         "first bytes; a server-first protocol (MySQL, MongoDB, SMTP) waits for the server, so "
         "the connection hangs (istio.io application requirements; #35232)."),
    fix=("Name the port tcp-<name> (or mysql-/mongo-) or set appProtocol: tcp; then order the "
         "server for STRICT early, once all its clients are meshed."),
)


def opaque(name: str, app_protocol: str | None) -> bool:
    """True when the port's name or appProtocol declares a protocol Istio does not sniff."""
    prefix = name.split("-", 1)[0].lower()
    return prefix in OPAQUE or (app_protocol or "").lower() in OPAQUE


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per Service port."""
    m = members(ctx)
    findings = []
    for svc in ctx.inventory.services:
        if not m.enrolled(svc.namespace) or not svc.selects:
            continue
        for port in svc.ports:
            target = port.target_port if isinstance(port.target_port, int) else port.port
            proto = SERVER_FIRST.get(port.port) or SERVER_FIRST.get(target)
            if proto is None or port.protocol.upper() != "TCP" or opaque(port.name,
                                                                         port.app_protocol):
                continue
            label = f"'{port.name}'" if port.name else "unnamed"
            findings.append(INFO.finding(
                subject=svc.ref.key,
                message=(f"{svc.ref.key} port {port.port} ({proto}, {label}) is server-first; "
                         "Istio sniffs it and the handshake hangs"),
                namespace=svc.namespace,
                objects=(svc.ref.key, *(r.key for r in svc.selects)),
            ))
    return findings


RULE = Rule(INFO, check)
