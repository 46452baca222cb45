"""GitOps output of a plan (``planner plan --out DIR``): one folder per step, named by the
step's id — the layout ``planner apply STEP --out DIR`` writes too, so the two commands work on
one tree.

Layout::

    DIR/
      steps.yaml                # the step ids in the order to apply them
      10-prereq/
        kustomization.yaml      # lists the step's resources (none for read-only steps)
        step.yaml               # id, why, preconditions, PromQL, requires, verify, restarts
        rollback/
          kustomization.yaml    # the exact previous objects to re-apply
          delete.yaml           # objects the step created (kubectl delete -f), if any
      20-mesh-permissive/
        peerauthentication-istio-system-default.yaml
        ...

Folders are named by step id rather than numbered: an id is what every command takes, and it
stays the same when observed traffic reorders the plan. The tree is written into a temporary
sibling directory and renamed into place, so ``DIR`` is never half-written; a non-empty ``DIR``
is replaced only with ``force``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from planner.domain.plan import Action, Change, Plan, Step
from planner.errors import InputError
from planner.sinks.files import temp_dir_beside
from planner.sinks.plan_json import step_body
from planner.sinks.wire import dump_yaml, dump_yaml_all, to_wire

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
# What a file or folder name keeps of a cluster string; everything else becomes "_".
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


def path_component(text: str) -> str:
    """``text`` as one safe file or folder name. Step ids and object names come from manifests
    no API server validated: a namespace named ``a/b`` or ``..`` must neither nest nor escape
    the folder, and control characters do not belong in file names."""
    name = _UNSAFE_IN_NAME.sub("_", text).lstrip(".")
    return name or "_"


def step_folder(step_id: str) -> str:
    """The folder of a step under ``--out``, for ``plan`` and ``apply`` alike: its id (an id
    holds namespace names, so it goes through :func:`path_component`)."""
    return path_component(step_id)


def resource_files(objects: Sequence[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """Each object with the file name it gets in its step's folder: ``kind-namespace-name``,
    with ``-2``, ``-3`` ... when two names map to one file once unsafe characters are
    replaced."""
    names: set[str] = set()
    files = []
    for obj in objects:
        name = _file_name(obj)
        stem, n = name.removesuffix(".yaml"), 2
        while name in names:
            name, n = f"{stem}-{n}.yaml", n + 1
        names.add(name)
        files.append((name, obj))
    return files


def kustomization(resources: list[str]) -> str:
    """The text of a ``kustomization.yaml`` listing ``resources``."""
    return dump_yaml({"apiVersion": KUSTOMIZE_API, "kind": "Kustomization",
                      "resources": resources})


def write_gitops(plan: Plan, out: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write the plan under ``out`` atomically and return the final path.

    Raises ``InputError`` when ``out`` exists and is not an empty directory (without ``force``),
    or when it cannot be written."""

    def fill(staging: Path) -> None:
        for step in plan.steps:
            _write_step(staging / step_folder(step.id), step)
        order = {"steps": [step_folder(step.id) for step in plan.steps]}
        (staging / "steps.yaml").write_text(
            "# The steps in the order to apply them; each is the folder of that name.\n"
            + dump_yaml(order), encoding="utf-8")

    return write_tree(out, fill, force=force)


def write_tree(out: str | os.PathLike[str], fill: Callable[[Path], None], *,
               force: bool = False) -> Path:
    """Have ``fill`` write a tree into a staging folder beside ``out``, then rename it into
    place, so ``out`` is never half-written; return the final path. Raises ``InputError`` when
    ``out`` exists and is not an empty directory (without ``force``), or cannot be written."""
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise InputError(f"{target} is not empty; use --force to replace it")
    parent = target.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = temp_dir_beside(parent / target.name)  # the user's umask, not 0700
    except OSError as err:
        raise InputError(f"cannot write {target}: {err.strerror or err}") from err
    try:
        fill(staging)
        _swap_in(staging, target)
    except OSError as err:
        raise InputError(f"cannot write {target}: {err.strerror or err}") from err
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _swap_in(staging: Path, target: Path) -> None:
    """Rename the finished tree into place; an old tree is moved aside first and removed only
    after the new one is in."""
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    try:
        staging.rename(target)
    except OSError:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _file_name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    parts = [str(obj.get("kind", "object")).lower(), str(meta.get("namespace") or ""),
             str(meta.get("name", ""))]
    return path_component("-".join(p for p in parts if p)) + ".yaml"


def write_resources(folder: Path, objects: list[Mapping[str, Any]]) -> None:
    """One file per object in ``folder`` (see :func:`resource_files`) and a
    ``kustomization.yaml`` listing them."""
    folder.mkdir(parents=True, exist_ok=True)
    files = resource_files(objects)
    for name, obj in files:
        (folder / name).write_text(dump_yaml(to_wire(obj)), encoding="utf-8")
    (folder / "kustomization.yaml").write_text(kustomization([name for name, _ in files]),
                                               encoding="utf-8")


def _objects(changes: tuple[Change, ...], action: Action) -> list[Mapping[str, Any]]:
    return [c.object for c in changes if c.action is action]


def _write_step(folder: Path, step: Step) -> None:
    write_resources(folder, _objects(step.apply, Action.APPLY))
    rollback = folder / "rollback"
    write_resources(rollback, _objects(step.rollback, Action.APPLY))
    deletes = _objects(step.rollback, Action.DELETE)
    if deletes:
        (rollback / "delete.yaml").write_text(
            "# kubectl delete -f delete.yaml: objects this step created\n"
            + dump_yaml_all([to_wire(o) for o in deletes]), encoding="utf-8")
    info = to_wire(step_body(step))  # keys sorted, as every YAML the planner writes
    for key in ("apply", "rollback"):
        info.pop(key)
    info["restart"] = [_workload(c.object) for c in step.apply if c.action is Action.RESTART]
    info["rollbackRestart"] = [_workload(c.object) for c in step.rollback
                               if c.action is Action.RESTART]
    (folder / "step.yaml").write_text(dump_yaml(info), encoding="utf-8")


def _workload(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace', '')}/{meta.get('name', '')}"
