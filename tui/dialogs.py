"""What the apply and rollback confirmation dialogs say: a dry run's diff, changes and
warnings as renderables, every string from the cluster cleaned. The modal screens themselves
are in :mod:`tui.screens.modals`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.text import Text

from planner.untrusted import clean

if TYPE_CHECKING:
    from planner.service import StepPreview


def apply_body(step_id: str, preview: StepPreview) -> list[RenderableType]:
    """The body of the "Apply step?" dialog: the step's dry run against the target."""
    body: list[RenderableType] = [Text(f"Dry-run of {clean(step_id)} against the target. "
                            "Nothing has changed yet.", style="bold")]
    if preview.diff:
        from rich.syntax import Syntax

        body.append(Syntax(preview.diff, "diff", theme="ansi_dark", background_color="default"))
    else:
        body.append(Text("(no difference: the target already matches)", style="dim"))
    if preview.changes:
        body.append(Text("\n".join(f"• {clean(c)}" for c in preview.changes)))
    if preview.warnings:
        body.append(Text("\n".join(f"! {clean(w)}" for w in preview.warnings), style="yellow"))
    return body


def rollback_dialog(step_id: str, preview: StepPreview,
                    dependents: list[str]) -> tuple[str, list[RenderableType], str]:
    """Title, body and confirm label of the "Roll back?" dialog: the rollback's diff from the
    journal, and the applied steps that depend on it (rolled back first)."""
    body: list[RenderableType] = [Text(
        f"Rollback of {clean(step_id)}: the diff below is built from the journal (what was "
        "there before the step). Nothing has changed yet.", style="bold")]
    if dependents:
        body.append(Text(f"{', '.join(clean(d) for d in dependents)} depend(s) on it and "
                         "will be rolled back first, latest first.", style="bold yellow"))
    if preview.diff:
        from rich.syntax import Syntax

        body.append(Syntax(preview.diff, "diff", theme="ansi_dark",
                           background_color="default"))
    else:
        body.append(Text("(no difference: the target already holds the before-state)",
                         style="dim"))
    if preview.changes:
        body.append(Text("\n".join(f"• {clean(c)}" for c in preview.changes)))
    if preview.warnings and not dependents:
        body.append(Text("\n".join(f"! {clean(w)}" for w in preview.warnings),
                         style="yellow"))
    title = (f"Roll back {step_id} and the {len(dependents)} step(s) that depend on it?"
             if dependents else f"Roll back step {step_id}?")
    label = f"Roll back {len(dependents) + 1} steps" if dependents else "Roll back"
    return title, body, label
