"""STRICT blockers (MP2xx), listed in order."""

from __future__ import annotations

from planner.domain.findings import Rule
from planner.rules.blockers import (
    mp201_ingress_outside,
    mp202_batch_opted_out,
    mp203_caller_not_enrolled,
    mp204_host_network_caller,
    mp205_pod_ip_peers,
    mp206_server_first_protocol,
    mp207_unnamed_port,
    mp208_uid_1337,
    mp209_init_network,
    mp210_external_nodeport,
    mp211_apiserver_callee,
    mp212_destination_rule_tls,
    mp213_probes_not_rewritten,
    mp214_scrape_app_port,
    mp215_ambient_disable,
    mp216_ambient_envoyfilter,
    mp217_ambient_sidecar_only,
    mp218_ambient_vm,
    mp219_ambient_l7_no_waypoint,
    mp220_ambient_missing_waypoint,
)

#: What breaks or silently changes when a namespace goes ambient (MP215 DISABLE and
#: MP216-MP220): ``assess`` keeps a namespace with such a finding off ambient, and the plan
#: blocks that namespace's ambient enrollment with it.
AMBIENT_READINESS_RULES: tuple[Rule, ...] = (
    mp215_ambient_disable.RULE,
    mp216_ambient_envoyfilter.RULE,
    mp217_ambient_sidecar_only.RULE,
    mp218_ambient_vm.RULE,
    mp219_ambient_l7_no_waypoint.RULE,
    mp220_ambient_missing_waypoint.RULE,
)

#: Readiness findings the waypoint ``assess`` recommends resolves: they name what must change
#: before ambient rather than keep the namespace on sidecars.
WAYPOINT_RESOLVES: frozenset[str] = frozenset({mp219_ambient_l7_no_waypoint.INFO.code})

BLOCKER_RULES: tuple[Rule, ...] = (
    mp201_ingress_outside.RULE,
    mp202_batch_opted_out.RULE,
    mp203_caller_not_enrolled.RULE,
    mp204_host_network_caller.RULE,
    mp205_pod_ip_peers.RULE,
    mp206_server_first_protocol.RULE,
    mp207_unnamed_port.RULE,
    mp208_uid_1337.RULE,
    mp209_init_network.RULE,
    mp210_external_nodeport.RULE,
    mp211_apiserver_callee.RULE,
    mp212_destination_rule_tls.RULE,
    mp213_probes_not_rewritten.RULE,
    mp214_scrape_app_port.RULE,
    *AMBIENT_READINESS_RULES,
)
