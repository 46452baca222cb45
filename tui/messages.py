"""Messages the workers post back to the UI thread (harlequin's habit: results as messages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class Analysed(Message):
    """A scan finished: the analysis and the plan (the assessment follows separately)."""

    analysis: Any
    plan: Any
    seconds: float


@dataclass
class Assessed(Message):
    """An assessment is ready (first run, or re-run with answered profile questions)."""

    assessment: Any
    analysis: Any
    overrides: dict[str, Any]


@dataclass
class WorkProgress(Message):
    """Progress of long work: ``done`` of ``total`` (0: unknown) for ``label``."""

    label: str
    done: int = 0
    total: int = 0
    detail: str = ""


@dataclass
class StepsChanged(Message):
    """Step states from the apply session (step id -> state)."""

    states: dict[str, str]


@dataclass
class PreviewReady(Message):
    """A dry-run of one step; ``then`` is the action waiting for it (``apply`` or ``show``)."""

    step_id: str
    preview: Any
    then: str


@dataclass
class StepFinished(Message):
    """An apply, rollback or verify finished; ``outcome`` is the engine's answer."""

    operation: str
    step_id: str
    outcome: Any


@dataclass
class WorkFailed(Message):
    """Long work failed; ``details`` is shown in a modal when there is more than one line."""

    title: str
    message: str
    details: str = ""
    expected: bool = True
