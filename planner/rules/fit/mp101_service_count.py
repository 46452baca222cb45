"""MP101: how many services the cluster runs (the article: under 10 skip, 50+ use)."""

from __future__ import annotations

from planner.domain.findings import Finding, Level, Rule, RuleContext, RuleInfo
from planner.domain.fit import app_services
from planner.rules.fit.common import factor

#: Below this many services NetworkPolicy and application TLS cover most needs.
SMALL = 10
#: From this many services, retries, timeouts and circuit breaking are worth moving into the
#: infrastructure layer.
LARGE = 50
SMALL_WEIGHT = -20.0
LARGE_WEIGHT = 15.0

INFO = RuleInfo(
    code="MP101",
    title="Service count",
    category="fit",
    severity=Level.INFO,
    why="A mesh's operational cost is fixed, its benefit grows with the number of services: "
        "under 10 services NetworkPolicy and application TLS cover most needs; at 50+ "
        "services retries, timeouts and circuit breaking pay off in the infrastructure layer.",
    fix="Under 10 services: NetworkPolicy plus application-level TLS. Between 10 and 49: let "
        "the other factors decide.",
)


def check(ctx: RuleContext) -> list[Finding]:
    """Fires below :data:`SMALL` or from :data:`LARGE` application Services on."""
    services = app_services(ctx.inventory, ctx.root_namespace)
    count = len(services)
    threshold = f"< {SMALL} skip, >= {LARGE} use"
    objects = [s.ref.key for s in services]
    if count < SMALL:
        return [factor(INFO, value=str(count), threshold=threshold, weight=SMALL_WEIGHT,
                       message=f"{count} application services: fewer than {SMALL}, "
                               "NetworkPolicy and application TLS cover most needs",
                       objects=objects)]
    if count >= LARGE:
        return [factor(INFO, value=str(count), threshold=threshold, weight=LARGE_WEIGHT,
                       message=f"{count} application services: at this size retries, timeouts "
                               "and circuit breaking belong in the infrastructure layer",
                       objects=objects)]
    return []


RULE = Rule(INFO, check)
