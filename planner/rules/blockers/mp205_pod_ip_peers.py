"""MP205 Headless Services and StatefulSet peers reached by pod IP or per-pod DNS.

Detects: StatefulSets and workloads behind a headless Service (``clusterIP: None``) that will be
meshed. Their peers dial pod IPs or ``pod-0.svc`` names; a pod IP that is not behind a Service
port goes to PassthroughCluster without TLS and STRICT refuses it.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.plan import container_ports
from planner.rules.blockers._common import enrolled_workloads

#: Ports clustered stores use between peers: ZooKeeper, Kafka, Elasticsearch, Cassandra, DBs.
PEER_PORTS = frozenset({2181, 2888, 3888, 9092, 9093, 9300, 7000, 7001, 27017, 3306, 5432,
                        6379, 16379, 4369, 25672})

INFO = RuleInfo(
    code="MP205",
    title="Headless Service or StatefulSet peers reached by pod IP",
    category="blocker",
    severity=Level.WARNING,
    why=("Peers of clustered stores (Kafka, ZooKeeper, Elasticsearch, Cassandra, databases) "
         "dial pod IPs or per-pod DNS names. A pod IP not bound to a Service port goes to "
         "PassthroughCluster in plaintext and fails under STRICT; bind-address settings "
         "(ZooKeeper quorumListenOnAllIPs, Elasticsearch bind_host) add their own breakage. "
         "Refs #37431, #31319, #20200, #3398, #1277, #1373, #12551, #39439, #19280, #14662."),
    fix=("Declare every peer port in a Service with a named or appProtocol port; or a workload "
         "PeerAuthentication with portLevelMtls PERMISSIVE on the peer ports plus a client-side "
         "DestinationRule; or traffic.sidecar.istio.io/excludeInboundPorts/"
         "excludeOutboundPorts."),
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per meshed StatefulSet or headless-Service backend."""
    inv = ctx.inventory
    headless: dict[str, list[str]] = {}
    ports: dict[str, set[int]] = {}
    for svc in inv.services:
        if not svc.headless:
            continue
        for ref in svc.selects:
            headless.setdefault(ref.key, []).append(svc.ref.key)
            w = inv.workload_index.get(ref)
            if w is not None:
                ports.setdefault(ref.key, set()).update(container_ports(inv, svc, None, w))
    findings = []
    for w, _mode in enrolled_workloads(ctx):
        services = sorted(headless.get(w.ref.key, []))
        if w.ref.kind != "StatefulSet" and not services:
            continue
        declared = {p.container_port for c in w.containers for p in c.ports}
        peer = sorted(ports.get(w.ref.key) or (declared & PEER_PORTS) or declared)
        what = ("behind headless " + ", ".join(services)) if services else "a StatefulSet"
        findings.append(INFO.finding(
            subject=w.ref.key,
            message=(f"{w.ref.key} is {what}: its peers may call pod IPs or per-pod DNS "
                     f"names (ports {', '.join(map(str, peer)) or 'unknown'}), which STRICT "
                     "refuses when no Service port covers them"),
            namespace=w.namespace,
            objects=tuple(sorted({w.ref.key, *services})),
        ))
    return findings


RULE = Rule(INFO, check)
