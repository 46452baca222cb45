"""The seam between the apply engine and where changes go: one small protocol, two writers
(:mod:`planner.apply.kube_writer` for a live cluster, :mod:`planner.apply.gitops_writer` for a
folder of YAML files).

Raising contract for every method: :class:`~planner.errors.ApplyError` when the target refuses
or cannot do the change (its message names the object and, for field manager conflicts, the
other manager); :class:`~planner.errors.ClusterError` when the API server cannot be reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from planner.domain.journal import (
    PLAN_HASH_ANNOTATION,
    RESTARTED_AT,
    STEP_ANNOTATION,
    Record,
    Target,
    WriteKind,
)
from planner.domain.plan import Step

if TYPE_CHECKING:
    from planner.apply.cluster_probe import ClusterProbe

#: Metadata the API server owns; never sent back, never compared (docs/apply.md).
SERVER_MANAGED = ("resourceVersion", "managedFields", "uid", "creationTimestamp", "generation",
                  "selfLink")


@dataclass(frozen=True)
class Stamp:
    """What marks this apply: the step, the plan's hash and the time (also the restartedAt
    value, fixed once in the intent so that a resumed restart does not restart twice)."""

    step_id: str
    plan_hash: str
    at: str

    @property
    def annotations(self) -> dict[str, str]:
        """The annotations every applied object carries."""
        return {STEP_ANNOTATION: self.step_id, PLAN_HASH_ANNOTATION: self.plan_hash}


@dataclass(frozen=True)
class Planned:
    """One write a step needs: how, to what, and the payload."""

    kind: WriteKind
    target: str
    desired: Any


class Writer(Protocol):
    """Where a step's changes go. ``label`` names it in messages; ``probe`` reads the
    outcomes of steps on a live cluster (None for a GitOps folder: there is no cluster)."""

    label: str
    probe: ClusterProbe | None

    def identity(self) -> Target:
        """What this writer changes, as the journal files it (a cluster's kube-system UID,
        or the folder)."""

    def planned(self, step: Step, stamp: Stamp) -> tuple[list[Planned], list[str]]:
        """The writes of ``step`` in order, and warnings about changes this writer skips."""

    def read(self, kind: WriteKind, target: str) -> Any:
        """The current object (or file text), cleaned of server-managed fields; None if
        absent."""

    def dry_run(self, planned: Planned, *, force_conflicts: bool) -> Any:
        """What the target would hold after the write, without writing."""

    def write(self, planned: Planned, *, force_conflicts: bool) -> Any:
        """Do the write; returns what the target holds afterwards (cleaned)."""

    def undo(self, record: Record, live: Any) -> None:
        """Restore ``record.before`` (``live`` is the current state, as read just before)."""

    def restored(self, record: Record, live: Any) -> Any:
        """What :meth:`undo` would leave, computed without writing (None: removed)."""

    def render(self, obj: Any) -> str:
        """Text of an object (or file) for a diff."""

    def close(self) -> None:
        """Release connections."""


def clean(obj: Any) -> Any:
    """A copy of ``obj`` without server-managed metadata (None stays None)."""
    if not isinstance(obj, Mapping):
        return obj
    out = dict(obj)
    meta = {k: v for k, v in dict(out.get("metadata") or {}).items()
            if k not in SERVER_MANAGED}
    out["metadata"] = meta
    return out


def with_annotations(obj: Mapping[str, Any], annotations: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``obj`` (server-managed metadata and status dropped) carrying
    ``annotations`` too."""
    out = clean(obj)
    out.pop("status", None)
    meta = out["metadata"]
    meta["annotations"] = {**dict(meta.get("annotations") or {}), **annotations}
    return dict(out)


def object_key(obj: Mapping[str, Any]) -> str:
    """``apiVersion:Kind/namespace/name`` of an object (namespace empty when cluster-scoped):
    a record's target in a cluster."""
    meta = obj.get("metadata") or {}
    return (f"{obj.get('apiVersion', '')}:{obj.get('kind', '')}/{meta.get('namespace') or ''}/"
            f"{meta.get('name', '')}")


def parse_key(target: str) -> tuple[str, str, str, str]:
    """``(apiVersion, kind, namespace, name)`` of an :func:`object_key`."""
    api_version, _, rest = target.partition(":")
    kind, namespace, name = rest.split("/", 2)
    return api_version, kind, namespace, name


def restart_payload(at: str) -> dict[str, Any]:
    """The merge patch of ``kubectl rollout restart``: the pod template's restartedAt
    annotation set to ``at``."""
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}
