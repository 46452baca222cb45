"""What the header line says: the input, the cluster, Istio (version from the istiod image tag)
and the rollout's progress, from the session's state. No widgets here
(:mod:`tui.widgets.header` draws it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planner.domain.analysis import Analysis
    from planner.domain.plan import Plan
    from planner.service import InputSpec

#: Applied steps; "superseded" is applied too (a later step of the plan rewrote its objects),
#: and "written" is applied to a GitOps folder.
DONE_STATES = frozenset({"applied", "verified", "superseded", "written"})


def source_label(spec: InputSpec) -> str:
    """The input, as the header shows it."""
    return spec.label or "-"


def cluster_label(spec: InputSpec) -> str:
    """The kube context, or ``none`` in a manifest session (the source says which)."""
    from planner.service import ClusterInput

    if not isinstance(spec, ClusterInput):
        return "none"
    return spec.context or "current context"


def istio_label(plan: Plan | None, analysis: Analysis | None) -> str:
    """Istio's version (istiod image tag) and revisions, or that it is absent."""
    if plan is None or analysis is None:
        return "…"
    istio = plan.istio
    if not istio.present and "Deployment" in analysis.scan.unread:
        return "unknown (unread)"
    if not istio.present:
        return "not installed"
    keys = set(istio.istiod)
    tags = sorted({c.image.rsplit(":", 1)[1] for w in analysis.scan.inventory.workloads
                   if w.ref.key in keys for c in w.containers
                   if ":" in c.image.rsplit("/", 1)[-1]})
    revisions = [r for r in istio.revisions if r != "default"]
    label = ", ".join(tags) or "present"
    return label + (f" (rev {', '.join(revisions)})" if revisions else "")


def progress_label(plan: Plan | None, states: Mapping[str, str]) -> str:
    """``step n of m``: n is the first step not yet applied."""
    if plan is None:
        return "step - of -"
    total = len(plan.steps)
    done = sum(1 for s in plan.steps if states.get(s.id) in DONE_STATES)
    return f"step {min(done + 1, total)} of {total}" + (" ✓" if done == total else "")
