"""Writes plan steps as GitOps files (manifest mode: no cluster, ``--out DIR``), the
:class:`Writer` of :mod:`planner.apply.writer`.

Each step gets a folder ``DIR/<step-id>/`` holding one YAML file per object it applies (with
the step and plan-hash annotations, as in a cluster) and a ``kustomization.yaml`` listing them,
for Argo CD or Flux to sync: the folders and file names of ``planner plan --out DIR``
(:mod:`planner.sinks.gitops`), so apply works on the tree the plan wrote. Every file is
written atomically (temp + fsync + rename) and journaled like a cluster write: its previous
text (None when it did not exist) before, the written text after. Undo puts the previous text
back or removes the file.

Restarts and deletes have no file form: they are reported as warnings to do after the sync.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.apply.journal_file import write_atomically
from planner.apply.writer import Planned, Stamp, with_annotations
from planner.domain.journal import Record, Target, WriteKind
from planner.domain.plan import Action, Step
from planner.errors import ApplyError
from planner.sinks.gitops import kustomization, resource_files, step_folder
from planner.sinks.wire import dump_yaml, to_wire

if TYPE_CHECKING:
    from planner.apply.cluster_probe import ClusterProbe


class GitOpsWriter:
    """A folder of YAML files; targets are paths relative to it."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.root = Path(out_dir)
        self.label = f"GitOps folder {self.root}"
        #: No cluster behind a folder: outcomes cannot be read from here.
        self.probe: ClusterProbe | None = None

    def close(self) -> None:
        """Nothing to release."""

    def identity(self) -> Target:
        """The folder, resolved: the same folder named two ways is one target."""
        return Target(folder=str(self.root.resolve()))

    def planned(self, step: Step, stamp: Stamp) -> tuple[list[Planned], list[str]]:
        """One file per applied object plus the step's kustomization.yaml."""
        warnings: list[str] = []
        folder = step_folder(step.id)
        objects = []
        for change in step.apply:
            meta = change.object.get("metadata") or {}
            ref = f"{change.object.get('kind')} {meta.get('namespace') or ''}/{meta.get('name')}"
            if change.action is Action.RESTART:
                warnings.append(f"restart {ref} after the sync (kubectl rollout restart): "
                                "a restart has no GitOps file")
            elif change.action is Action.DELETE:
                warnings.append(f"delete {ref} from the repository by hand")
            else:
                objects.append(with_annotations(change.object, stamp.annotations))
        files = resource_files(objects)
        writes = [Planned(WriteKind.FILE, f"{folder}/{name}", dump_yaml(to_wire(obj)))
                  for name, obj in files]
        if writes:
            writes.append(Planned(WriteKind.FILE, f"{folder}/kustomization.yaml",
                                  kustomization([name for name, _ in files])))
        return writes, warnings

    def read(self, kind: WriteKind, target: str) -> Any:
        """The file's text, None when it does not exist."""
        path = self._path(target)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as err:
            raise ApplyError(f"cannot read {path}: {err.strerror or err}") from None

    def dry_run(self, planned: Planned, *, force_conflicts: bool) -> Any:
        """The text the file would hold."""
        return planned.desired

    def write(self, planned: Planned, *, force_conflicts: bool) -> Any:
        """Write the file atomically; returns its text."""
        write_atomically(self._path(planned.target), str(planned.desired))
        return planned.desired

    def undo(self, record: Record, live: Any) -> None:
        """Put the previous text back, or remove a file the step created."""
        path = self._path(record.target)
        if record.before is not None:
            write_atomically(path, str(record.before))
            return
        try:
            path.unlink(missing_ok=True)
            if path.parent != self.root and not any(path.parent.iterdir()):
                path.parent.rmdir()
        except OSError as err:
            raise ApplyError(f"cannot remove {path}: {err.strerror or err}") from None

    def restored(self, record: Record, live: Any) -> Any:
        """The previous text (None: the file goes)."""
        return record.before

    def render(self, obj: Any) -> str:
        """File text as it is."""
        return "" if obj is None else str(obj)

    def _path(self, target: str) -> Path:
        path = self.root / target
        # Step ids and object names come from the plan; never let one escape the folder.
        if os.path.commonpath([path.resolve(), self.root.resolve()]) != str(self.root.resolve()):
            raise ApplyError(f"refusing to write outside {self.root}: {target}")
        return path

