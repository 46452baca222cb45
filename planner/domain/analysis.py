"""What the service layer hands the front ends and the sinks: a scan's inventory with what
reading the input said, and the analysis every later step reads (call graph, fit profile, rule
context, observed traffic)."""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Any

from planner.domain.diagnostics import Diagnostic
from planner.domain.inventory import Inventory
from planner.domain.value import value_class

if TYPE_CHECKING:
    # The graph, rules and traffic modules load only for commands that use them (not `scan`).
    from planner.domain.findings import RuleContext
    from planner.domain.graph import CallGraph
    from planner.domain.traffic import TrafficSnapshot


@value_class
class ScanResult:
    """An inventory plus what reading the input said about it."""

    inventory: Inventory
    source_label: str
    diagnostics: tuple[Diagnostic, ...] = ()
    invalid: int = 0
    api_calls: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: Kinds (``PeerAuthentication``) a live scan could not read (403, timeout): what depends on
    #: them is unknown, never absent. Every output says so; commands exit PARTIAL (13).
    unread: tuple[str, ...] = ()


@value_class
class Analysis:
    """A scan with its call graph and the fit profile: what every later step reads.

    ``traffic`` is the observed-traffic snapshot once :func:`planner.service.observe` merged it
    into ``graph``.
    """

    scan: ScanResult
    graph: CallGraph
    profile: Any
    context: RuleContext
    traffic: TrafficSnapshot | None = None
