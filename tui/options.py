"""What ``planner tui`` was started with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from planner.service import InputSpec, TrafficSource

#: Profile questions answered in the TUI: field -> value (a count or yes/no).
Answers = dict[str, int | bool]


@dataclass(frozen=True)
class TuiOptions:
    """What ``planner tui`` was started with."""

    spec: InputSpec
    profile_path: str | None = None
    write: bool = False
    out_dir: str | None = None
    journal_path: str | None = None
    root_namespace: str = "istio-system"
    start: str = "assess"
    overrides: Answers = field(default_factory=dict)
    #: Observed traffic (--prometheus, --traffic ...); None: none.
    traffic: TrafficSource | None = None
    #: ``sidecar``, or ``recommended`` to enroll namespaces as the fit assessment recommends.
    dataplane: str = "recommended"
    #: The plan's authorization phases (``--authz``); None: as the profile's ``plan.authz``.
    authz: bool | None = None

    @property
    def observing(self) -> bool:
        """True when observed traffic was asked for."""
        return self.traffic is not None
