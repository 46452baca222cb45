"""MP205 Headless Services and StatefulSet peers reached by pod IP or per-pod DNS.

Detects: StatefulSets and workloads behind a headless Service (``clusterIP: None``) that will be
meshed and declare container ports no Service port covers: peers (more than one replica) or the
headless Service's clients dial pod IPs or ``pod-0.svc`` names, and a pod IP on a port that is
not behind a Service port goes to PassthroughCluster without TLS, which STRICT refuses. A port
some Service covers is fine (Istio builds per-pod listeners for it), so a single-replica
StatefulSet whose ports are all in its Service is not reported. A replicated workload that
declares no port at all is reported with its ports unknown.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.inventory import ObjectRef
from planner.domain.membership import container_ports
from planner.rules.blockers._common import enrolled_workloads

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
    """One finding per meshed StatefulSet or headless-Service backend with peer ports no
    Service port covers."""
    inv = ctx.inventory
    # By reference: the keys are formatted for the few headless backends, not for every
    # enrolled workload.
    headless: dict[ObjectRef, list[str]] = {}
    for svc in inv.services:
        if svc.headless:
            for ref in svc.selects:
                headless.setdefault(ref, []).append(svc.ref.key)
    findings = []
    for w, _mode in enrolled_workloads(ctx):
        services = sorted(headless.get(w.ref, ()))
        if w.ref.kind != "StatefulSet" and not services:
            continue
        peers = w.replicas > 1
        if not peers and not services:
            continue  # one pod and no headless Service: nobody dials its pod IP
        declared = {p.container_port for c in w.containers for p in c.ports}
        # Only the few workloads left here need their Service ports resolved.
        covered = {p for svc in inv.services_of.get(w.ref, ())
                   for p in container_ports(inv, svc, None, w)}
        uncovered = sorted(declared - covered)
        if not uncovered and (declared or not peers):
            continue
        what = ("behind headless " + ", ".join(services)) if services else "a StatefulSet"
        who = f"its {w.replicas} replicas" if peers else "clients of the headless Service"
        ports = (f"port(s) {', '.join(map(str, uncovered))}, which no Service port covers"
                 if uncovered else "ports it does not declare")
        findings.append(INFO.finding(
            subject=w.ref.key,
            message=(f"{w.ref.key} is {what}: {who} may dial pod IPs or per-pod DNS names on "
                     f"{ports}; STRICT refuses that plaintext (PassthroughCluster)"),
            namespace=w.namespace,
            objects=tuple(sorted({w.ref.key, *services})),
        ))
    return findings


RULE = Rule(INFO, check)
