"""MP215 PeerAuthentication DISABLE in an ambient namespace.

Detects: PeerAuthentications whose ``mtls.mode`` or a ``portLevelMtls`` entry is DISABLE and
that apply to an ambient namespace: policies in that namespace, and a mesh-wide policy (root
namespace, no selector) for every ambient namespace that does not set its own mode.
"""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.inventory import PolicyObject
from planner.domain.policy import (
    PEER_AUTHENTICATION,
    disable_settings,
    effective_policies,
    has_selector,
    mtls_mode,
)
from planner.rules.blockers._ambient import ambient_targets
from planner.rules.blockers._common import members

INFO = RuleInfo(
    code="MP215",
    title="PeerAuthentication DISABLE in an ambient namespace",
    category="blocker",
    severity=Level.ERROR,
    why=("Ambient does not support mTLS mode DISABLE, at policy or port level (PeerAuthentication "
         "reference, Istio 1.23+); the sidecar-to-ambient migration guide lists PeerAuthentication "
         "with DISABLE as incompatible."),
    fix=("Remove DISABLE or use PERMISSIVE instead; or keep the namespace on sidecars; or exclude "
         "the workload from ambient with the pod label istio.io/dataplane-mode: none."),
)


def _targets(policy: PolicyObject, ambient: list[str], ctx: RuleContext) -> list[str]:
    """The ambient namespaces a policy applies to."""
    ns = policy.ref.namespace
    if ns != ctx.root_namespace or has_selector(policy):
        # Root-namespace selector policies are left out: whether they reach other namespaces
        # is disputed (see EffectivePolicies.root_selector), and the root stays outside.
        return [ns] if ns in ambient else []
    # A mesh-wide policy: a namespace-wide policy with its own mode overrides it there (the
    # narrowest policy wins), so only namespaces that inherit the mesh mode are endangered.
    own = effective_policies(ctx.inventory, ctx.root_namespace).namespace_wide
    return [a for a in ambient if a not in own or mtls_mode(own[a]) == "UNSET"]


def check(ctx: RuleContext) -> list[Finding]:
    """One finding per (PeerAuthentication, ambient namespace)."""
    m = members(ctx)
    ambient = list(ambient_targets(ctx))
    if not ambient:
        return []
    findings = []
    for pa in ctx.inventory.istio_of_kind(PEER_AUTHENTICATION):
        found = disable_settings(pa)
        if not found:
            continue
        for ns in _targets(pa, ambient, ctx):
            scope = "mesh-wide " if pa.ref.namespace != ns else ""
            where = (f"{ns} is in ambient mode ({m.reasons.get(ns, 'ambient')})"
                     if m.modes.get(ns) == "ambient" else f"{ns} cannot go ambient with it")
            findings.append(INFO.finding(
                subject=pa.ref.key,
                message=(f"{scope}{pa.ref.key} sets {', '.join(found)}, which ambient does not "
                         f"support; {where}"),
                namespace=ns,
                objects=(pa.ref.key,),
            ))
    return findings


RULE = Rule(INFO, check)
