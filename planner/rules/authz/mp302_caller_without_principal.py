"""MP302 caller without a principal.

Detects: callers of a workload that gets a least-privilege ALLOW policy and that no principal
can name: a workload outside the mesh, a hostNetwork pod, an ingress controller without a
sidecar, the API server, the internet. Once the policy is enforced it denies them.
"""

from __future__ import annotations

from planner.domain.authz import AuthzProposal
from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.membership import parse_ref

INFO = RuleInfo(
    code="MP302",
    title="Caller without a principal",
    category="plan",
    severity=Level.ERROR,
    why=("An ALLOW AuthorizationPolicy names its callers by principal (their mesh identity). "
         "A caller without one (outside the mesh, hostNetwork, the API server, the internet) "
         "matches no rule, so the enforced policy denies it."),
    fix=("Enroll the caller so it calls with a principal (or route it through an Istio "
         "gateway); until then keep the workload's policy in dry run, or add a rule allowing "
         "its ports from any source (to.operation.ports only)."),
)


def findings(proposal: AuthzProposal) -> list[Finding]:
    """One finding per caller and policy workload (a workload all of whose callers lack a
    principal gets no policy, so nothing denies them)."""
    found = []
    guarded = {p.workload for p in proposal.policies}
    for u in proposal.unexpressible:
        if u.workload not in guarded:
            continue
        callee = parse_ref(u.workload)
        ports = ", ".join(map(str, u.ports)) or "unknown ports"
        found.append(INFO.finding(
            subject=u.workload, namespace=callee.namespace if callee else "",
            objects=tuple(sorted({u.workload, u.caller} if parse_ref(u.caller) else
                                 {u.workload})),
            message=(f"{u.caller} calls {u.workload} ({ports}) without a principal "
                     f"({u.reason}): an enforced ALLOW policy denies it; {u.action}")))
    return found


def check(ctx: RuleContext) -> list[Finding]:
    """MP302 findings of the proposal for ``ctx``."""
    from planner.rules.authz import proposal_of

    return findings(proposal_of(ctx))


RULE = Rule(INFO, check)
