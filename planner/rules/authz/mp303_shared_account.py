"""MP303 callers share a service account.

Detects: service accounts named by a least-privilege ALLOW policy that more than one workload
runs as. The principal is the account's, so the policy allows every workload running as it,
not only the caller.
"""

from __future__ import annotations

from planner.domain.authz import AuthzProposal, principal
from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.membership import parse_ref
from planner.domain.policy import join_names

INFO = RuleInfo(
    code="MP303",
    title="Callers share a service account",
    category="plan",
    severity=Level.WARNING,
    why=("Workloads that run as the same ServiceAccount have the same principal: a policy that "
         "allows one of them allows them all, so least privilege cannot tell them apart "
         "(most clusters run many workloads as 'default')."),
    fix=("Give each workload its own ServiceAccount first (planner authz --out DIR writes them "
         "and the Deployment changes under prerequisites/), then plan again."),
)


def findings(proposal: AuthzProposal) -> list[Finding]:
    """One finding per shared account and namespace of the policies that name it."""
    found = []
    for group in proposal.shared_accounts:
        subject = f"ServiceAccount/{group.namespace}/{group.account}"
        by_ns: dict[str, list[str]] = {}
        for key in group.policies:
            ref = parse_ref(key)
            if ref is not None:
                by_ns.setdefault(ref.namespace, []).append(key)
        named = principal(proposal.trust_domain, group.namespace, group.account)
        for ns, policies in sorted(by_ns.items()):
            # The callers these policies were written for; the account lets the rest in too.
            callers = sorted({c.id for p in proposal.policies if p.workload in policies
                              for c in p.callers if c.principal == named})
            others = sorted(set(group.workloads) - set(callers))
            found.append(INFO.finding(
                subject=subject, namespace=ns,
                objects=tuple(sorted({subject, *policies, *group.workloads})),
                message=(f"{len(group.workloads)} workloads run as {group.principal_text}: the "
                         f"policies of {join_names(policies)} allow {join_names(callers)} and "
                         f"with them {join_names(others)}; give each its own ServiceAccount "
                         "to tell them apart")))
    return found


def check(ctx: RuleContext) -> list[Finding]:
    """MP303 findings of the proposal for ``ctx``."""
    from planner.rules.authz import proposal_of

    return findings(proposal_of(ctx))


RULE = Rule(INFO, check)
