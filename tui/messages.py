"""Messages the workers post back to the UI thread (harlequin's habit: results as messages)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from planner.domain.analysis import Analysis
    from planner.domain.fit import Assessment
    from planner.domain.observed import NamespaceTraffic
    from planner.domain.plan import Plan
    from planner.domain.traffic import GateResult
    from planner.service import StepOutcome, StepPreview
    from tui.options import Answers


@dataclass
class Analysed(Message):
    """A scan finished: the analysis and the plan (the assessment follows separately).

    With observed traffic, ``plan`` is the gated plan (``planner plan --prometheus``: MP301
    blockers, proven namespaces first) and ``apply_plan`` the plan the apply engine gets (the
    one ``planner apply`` builds, so both write the same journal); ``gates`` holds each STRICT
    step's plaintext gate by step id and ``namespaces`` the namespace report by name.
    ``traffic_error`` says why the traffic could not be read (the scan is still shown).
    """

    analysis: Analysis
    plan: Plan
    seconds: float
    apply_plan: Plan | None = None
    gates: dict[str, GateResult] = field(default_factory=dict)
    namespaces: dict[str, NamespaceTraffic] = field(default_factory=dict)
    traffic_error: str = ""


@dataclass
class Assessed(Message):
    """An assessment is ready (first run, or re-run with answered profile questions)."""

    assessment: Assessment
    analysis: Analysis
    overrides: Answers


@dataclass
class WorkProgress(Message):
    """Progress of long work: ``done`` of ``total`` (0: unknown) for ``label``."""

    label: str
    done: int = 0
    total: int = 0
    detail: str = ""


@dataclass
class StepsChanged(Message):
    """Step states from the apply session (step id -> state), the journal's note on a step
    where it has one (step id -> note, such as "applied without gate (--no-gate)"), and how
    the gate of an applied STRICT step was met when not on evidence (step id -> ``none`` or
    ``forced``)."""

    states: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)
    gate_modes: dict[str, str] = field(default_factory=dict)


@dataclass
class PreviewReady(Message):
    """A dry-run of one step; ``then`` is the action waiting for it (``apply`` or ``show``)."""

    step_id: str
    preview: StepPreview
    then: str


@dataclass
class RollbackPreviewReady(Message):
    """The diff a rollback will make (from the journal), and the applied steps that depend on
    the step (rolled back first when confirmed)."""

    step_id: str
    preview: StepPreview
    dependents: list[str] = field(default_factory=list)


@dataclass
class StepFinished(Message):
    """An apply, rollback or verify finished; ``outcome`` is the engine's answer."""

    operation: str
    step_id: str
    outcome: StepOutcome


@dataclass
class GateRefusedStep(Message):
    """The apply engine refused a STRICT step because its plaintext gate did not pass."""

    step_id: str
    reason: str


@dataclass
class WorkFailed(Message):
    """Long work failed; ``details`` is shown in a modal when there is more than one line."""

    title: str
    message: str
    details: str = ""
    expected: bool = True


#: Posts a message from a worker thread to the app (dropped once the worker is superseded).
Post = Callable[[Message], None]


@dataclass
class PostApplyFailed(Message):
    """The post-apply check of a STRICT step saw plaintext or connection failures rise;
    ``outcome`` is the apply's answer (state ``applied``, or ``rolled back`` after
    ``--auto-rollback``)."""

    step_id: str
    outcome: StepOutcome
