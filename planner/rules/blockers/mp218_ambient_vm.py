"""MP218 VM workloads (WorkloadEntry, WorkloadGroup) in an ambient namespace.

Detects: WorkloadEntry and WorkloadGroup objects in a namespace judged as ambient. Ambient does
not support VMs: their sidecar-mode identity and traffic capture have no ztunnel equivalent.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.rules.blockers._ambient import ambient_targets

VM_KINDS = ("WorkloadEntry", "WorkloadGroup")

INFO = RuleInfo(
    code="MP218",
    title="VM workload in an ambient namespace",
    category="blocker",
    severity=Level.ERROR,
    why=("Istio's ambient mode does not support VMs (WorkloadEntry, WorkloadGroup): a VM in the "
         "namespace keeps its sidecar-mode proxy, which does not speak HBONE to ztunnel."),
    fix="Keep the namespace with VMs on sidecars, or move the VM workloads to another namespace.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per VM object in an ambient namespace."""
    targets = set(ambient_targets(ctx))
    return [INFO.finding(
        subject=obj.ref.key,
        message=(f"{obj.ref.key} is a VM workload; ambient does not support VMs "
                 f"({obj.ref.namespace} is judged as ambient)"),
        namespace=obj.ref.namespace, objects=(obj.ref.key,))
        for obj in ctx.inventory.istio
        if obj.ref.kind in VM_KINDS and obj.ref.namespace in targets]


RULE = Rule(INFO, check)
