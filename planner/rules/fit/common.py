"""Helpers every fit rule uses: the profile of a context, and one way to build a factor."""

from __future__ import annotations

from collections.abc import Iterable

from planner.domain.findings import Finding, Level, RuleContext, RuleInfo
from planner.domain.profile import Profile
from planner.rules.fit.signals import Detector, Signal

#: Fit factors concern the whole cluster, not one object.
SUBJECT = "cluster"


def profile_of(ctx: RuleContext) -> Profile:
    """The context's profile; an empty one (every answer unknown) when none was loaded."""
    return ctx.profile if isinstance(ctx.profile, Profile) else Profile()


def factor(info: RuleInfo, *, value: str, threshold: str, weight: float, message: str,
           objects: Iterable[str] = (), fix: str = "") -> Finding:
    """A fit finding: what was measured, against which threshold, and how much it moves the
    score (negative: towards ``mesh-overkill``)."""
    return Finding(code=info.code, subject=SUBJECT, message=message, severity=Level.INFO,
                   objects=tuple(sorted(set(objects))), fix=fix or info.fix, value=value,
                   threshold=threshold, weight=weight)


def detected(ctx: RuleContext, detect: Detector) -> list[Signal]:
    """``detect(ctx.inventory)``, once per context: MP102-MP107 report one detector each and
    MP108 asks all of them again (two of them walk every Service or workload)."""
    key = f"signals:{detect.__name__}"
    if key not in ctx.derived:
        ctx.derived[key] = detect(ctx.inventory)
    found: list[Signal] = ctx.derived[key]
    return found


def l7_factor(ctx: RuleContext, info: RuleInfo, detect: Detector, weight: float,
              need: str) -> list[Finding]:
    """The factor for one L7 need: fires when ``detect`` finds objects that show it."""
    signals = detected(ctx, detect)
    if not signals:
        return []
    shown = "; ".join(f"{key} ({detail})" for key, detail in signals[:5])
    more = f"; and {len(signals) - 5} more" if len(signals) > 5 else ""
    return [factor(info, value=f"{len(signals)} object(s)", threshold=">= 1 object",
                   weight=weight, message=f"{need}: {shown}{more}",
                   objects=(key for key, _ in signals))]


def yes_no_factor(info: RuleInfo, answer: bool | None, weight: float, *, unknown: str,
                  yes: str) -> list[Finding]:
    """The factor for a question only the profile answers: ``weight`` when yes, nothing when
    no, and weight 0 with ``unknown`` (which states the effect a yes would have) when
    unanswered."""
    if answer is False:
        return []
    if answer is None:
        return [factor(info, value="unknown", threshold="yes", weight=0.0,
                       message=f"{unknown}; counted as no (yes would add +{weight:g})")]
    return [factor(info, value="yes", threshold="yes", weight=weight, message=yes)]
