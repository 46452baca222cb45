"""What ``planner tui`` was started with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from planner.service import DEFAULT_SETTLE, parse_duration

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
    #: After a STRICT step, seconds to wait before the post-apply check re-reads the traffic
    #: (``--settle``, the same default as ``planner apply``).
    settle_s: float = parse_duration(DEFAULT_SETTLE)
    #: Roll a STRICT step back at once when its post-apply check fails (``--auto-rollback``).
    auto_rollback: bool = False

    @property
    def observing(self) -> bool:
        """True when observed traffic was asked for."""
        return self.traffic is not None
