"""Findings and the rule contract: what a rule reads (:class:`RuleContext`), what it is
(:class:`RuleInfo`) and what it reports (:class:`Finding`, :class:`Level`). Domain types: the
fit engine and the planner consume findings, the rules in :mod:`planner.rules` produce them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from planner.domain.graph import CallGraph
from planner.domain.inventory import Inventory
from planner.domain.value import value_class

if TYPE_CHECKING:
    from planner.domain.membership import CallerFates


class Level(StrEnum):
    """Finding severity, lowest first. ``--fail-on`` compares against this order."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order INFO < WARNING < ERROR < CRITICAL."""
        return list(Level).index(self)


@value_class
class RuleInfo:
    """What a rule is, for docs (``planner rules list``) and reports."""

    code: str
    title: str
    category: str  # "fit", "blocker" or "plan"
    severity: Level
    why: str
    fix: str

    def finding(self, *, subject: str, message: str, namespace: str = "",
                objects: tuple[str, ...] = (), **extra: Any) -> Finding:
        """A finding of this rule: its code, severity and fix, with the given details."""
        return Finding(code=self.code, subject=subject, message=message, severity=self.severity,
                       namespace=namespace, objects=objects, fix=self.fix, **extra)


@value_class
class PortExceptionOffer:
    """The port exception a blocker can offer: a workload-scoped ``portLevelMtls: PERMISSIVE``
    on ``workload``'s container ``ports`` for ``caller``, which cannot use mTLS."""

    #: The caller's graph node id (``ingress:nginx``, ``Deployment/ns/name``).
    caller: str
    #: The called workload's key (``Kind/namespace/name``).
    workload: str
    ports: tuple[int, ...] = ()


@value_class(order=True)
class Finding:
    """One result of a rule.

    For blockers: ``subject`` is the object at risk (``Kind/ns/name``), ``objects`` every object
    involved, ``namespace`` the namespace whose STRICT step it endangers.
    For fit factors: ``value`` is what was measured, ``threshold`` the rule's threshold, and
    ``weight`` the signed score contribution.
    """

    code: str
    subject: str
    message: str
    severity: Level = Level.WARNING
    namespace: str = ""
    objects: tuple[str, ...] = ()
    fix: str = ""
    value: str = ""
    threshold: str = ""
    weight: float = 0.0
    #: The port exception that would cover a blocker, when one can.
    exception: PortExceptionOffer | None = field(default=None, compare=False)


@value_class
class RuleContext:
    """Everything a rule may read. ``profile`` holds answers the manifests cannot give
    (fit rules); ``root_namespace`` is Istio's root namespace; ``dataplane`` is the data plane
    the plan gives namespaces not yet labelled (namespace -> ``ambient``|``sidecar``; None:
    sidecar), so blocker rules judge the mesh the plan will build."""

    inventory: Inventory
    graph: CallGraph
    profile: Any = None
    root_namespace: str = "istio-system"
    dataplane: Mapping[str, str] | None = None
    #: Namespaces the ambient readiness rules judge as if they went ambient (``assess`` asks
    #: before choosing a data plane); None: the namespaces the plan puts in ambient mode.
    ambient_candidates: frozenset[str] | None = None
    #: Each node's fate in the mesh ``dataplane`` builds, when the caller keeps it to share with
    #: the plan builder: :class:`~planner.domain.membership.CallerFates` of ``membership(
    #: inventory, root_namespace, dataplane)``. None: the blocker rules work it out.
    fates: CallerFates | None = None
    #: What rules derive from this context and share (the plaintext calls at risk, the
    #: enrolled workloads): worked out once per context and kept with it, not in module state
    #: that would outlive it. Not an argument: ``dataclasses.replace`` starts it afresh.
    derived: dict[str, Any] = field(default_factory=dict, init=False, compare=False,
                                    repr=False)


Check = Callable[[RuleContext], list[Finding]]


@value_class
class Rule:
    """A rule: its description and its check. ``answers`` names the profile answers
    (:class:`planner.domain.profile.Profile` fields) the check reads: the fit assessment's
    what-if for an unanswered question replays only the rules that read it."""

    info: RuleInfo
    check: Check
    answers: frozenset[str] = frozenset()
