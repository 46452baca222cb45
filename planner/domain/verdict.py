"""The mesh-fit verdict as the rollout plan carries it: verdict, score, the one-line why, and
the lighter options. :mod:`planner.domain.fit` computes it; :mod:`planner.domain.plan` leads
with it, so a plan is never read without the answer to "is a mesh worth it here?"."""

from __future__ import annotations

from enum import StrEnum

from planner.domain.value import value_class


class Verdict(StrEnum):
    """Whether a mesh is worth it for the cluster."""

    OVERKILL = "mesh-overkill"
    OPTIONAL = "mesh-optional"
    RECOMMENDED = "mesh-recommended"


@value_class
class Alternative:
    """A lighter option than a mesh, with why it fits."""

    name: str
    why: str


@value_class
class FitVerdict:
    """The verdict and score of ``planner assess``, why in one sentence, and the lighter
    options (first for ``mesh-overkill``: the plan is the road if the user proceeds anyway)."""

    verdict: Verdict
    score: int
    summary: str
    alternatives: tuple[Alternative, ...] = ()

    @property
    def overkill(self) -> bool:
        """True when a mesh is likely more than the cluster needs."""
        return self.verdict == Verdict.OVERKILL
