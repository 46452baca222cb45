"""Authorization findings (MP302, MP303): what keeps least-privilege policies from being
enforced as proposed. They block the plan's authorization enforce steps (``--authz``) and judge
``planner authz``'s proposal; they are not STRICT blockers."""

from __future__ import annotations

from planner.domain.authz import AuthzProposal
from planner.domain.findings import Finding, Rule, RuleContext
from planner.rules.authz import mp302_caller_without_principal, mp303_shared_account

AUTHZ_RULES: tuple[Rule, ...] = (
    mp302_caller_without_principal.RULE,
    mp303_shared_account.RULE,
)


def authz_findings(proposal: AuthzProposal) -> list[Finding]:
    """Every authorization finding about ``proposal``, as the rules report them."""
    return [*mp302_caller_without_principal.findings(proposal),
            *mp303_shared_account.findings(proposal)]


def proposal_of(ctx: RuleContext) -> AuthzProposal:
    """The least-privilege proposal for the mesh the plan builds from ``ctx`` (its data plane
    choice; sidecar where none is given)."""
    from planner.domain.authz import authorization_policies
    from planner.domain.membership import membership

    members = membership(ctx.inventory, ctx.root_namespace, ctx.dataplane)
    return authorization_policies(ctx.inventory, ctx.graph, members)
