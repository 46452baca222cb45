"""Mesh-fit factors (MP1xx), listed in order."""

from __future__ import annotations

from planner.domain.findings import Rule
from planner.rules.fit import (
    mp101_service_count,
    mp102_multi_version,
    mp103_traffic_shifting,
    mp104_canaries,
    mp105_fault_injection,
    mp106_resilience,
    mp107_request_authorization,
    mp108_encryption_only,
    mp109_compliance_mtls,
    mp110_observability,
    mp111_team_capacity,
)

#: The L7 traffic-control needs: the namespaces their objects point at need a waypoint (ambient)
#: or an L7 proxy per pod (sidecar).
L7_RULES: tuple[Rule, ...] = (
    mp102_multi_version.RULE,
    mp103_traffic_shifting.RULE,
    mp104_canaries.RULE,
    mp105_fault_injection.RULE,
    mp106_resilience.RULE,
    mp107_request_authorization.RULE,
)

FIT_RULES: tuple[Rule, ...] = (
    mp101_service_count.RULE,
    *L7_RULES,
    mp108_encryption_only.RULE,
    mp109_compliance_mtls.RULE,
    mp110_observability.RULE,
    mp111_team_capacity.RULE,
)
