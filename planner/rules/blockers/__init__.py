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
)

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
    mp215_ambient_disable.RULE,
)
