"""The one door for the CLI and the TUI: every command goes through these functions.

Front ends hold no domain logic; they choose an input, call a function here, and render what it
returns. Adapters (files, cluster, Prometheus) are imported lazily so ``planner --help`` stays
fast and the kubernetes client loads only for live commands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from planner.domain.diagnostics import Diagnostic, Severity
from planner.domain.inventory import Inventory
from planner.domain.inventory_builder import build_inventory

if TYPE_CHECKING:
    # networkx loads only for commands that build the graph; `planner scan` does not need it.
    from planner.domain.graph import CallGraph
    from planner.rules.base import RuleContext

#: ``progress(done, total)`` for file scans; ``progress(kind, objects)`` is adapted to it.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ManifestInput:
    """Manifests on disk or stdin (``-``), like ``kubectl apply -f``."""

    paths: tuple[str, ...]
    recursive: bool = False
    strict: bool = False
    namespace: str = "default"

    @property
    def label(self) -> str:
        """How the source is shown to users."""
        return ", ".join(self.paths)


@dataclass(frozen=True)
class ClusterInput:
    """A live cluster through a kubeconfig (or in-cluster config)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None

    @property
    def label(self) -> str:
        """How the source is shown to users."""
        return f"context {self.context}" if self.context else "current context"


InputSpec = ManifestInput | ClusterInput


@dataclass(frozen=True)
class ScanResult:
    """An inventory plus what reading the input said about it."""

    inventory: Inventory
    source_label: str
    diagnostics: tuple[Diagnostic, ...] = ()
    invalid: int = 0
    api_calls: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def scan(spec: InputSpec, *, progress: Progress | None = None,
         stdin: BinaryIO | None = None) -> ScanResult:
    """Read the input and build the inventory.

    Raises ``InputError`` (unusable input) or ``ClusterError`` (API server unreachable)."""
    if isinstance(spec, ManifestInput):
        from planner.sources.manifests import load_manifests

        loaded = load_manifests(spec.paths, recursive=spec.recursive, strict=spec.strict,
                                stdin=stdin, progress=progress)
        inventory = build_inventory(loaded.documents, default_namespace=spec.namespace)
        return _result(inventory, spec.label, loaded.diagnostics, loaded.invalid, spec.strict)

    from planner.sources.kube import KubeTarget, scan_cluster

    def kind_progress(kind: str, objects: int) -> None:
        if progress is not None:
            progress(objects, 0)

    loaded, stats = scan_cluster(
        KubeTarget(spec.kubeconfig, spec.context, spec.namespace), progress=kind_progress
    )
    inventory = build_inventory(loaded.documents, default_namespace=spec.namespace or "default")
    notes = tuple(f"kind not served by the cluster: {k}" for k in stats.kinds_absent)
    result = _result(inventory, spec.label, loaded.diagnostics, loaded.invalid, strict=False)
    return ScanResult(result.inventory, result.source_label, result.diagnostics, result.invalid,
                      stats.api_calls, notes)


def _result(inventory: Inventory, label: str, load_diagnostics: list[Diagnostic], invalid: int,
            strict: bool) -> ScanResult:
    from planner.errors import InputError

    build_errors = [d for d in inventory.diagnostics if d.severity is Severity.ERROR]
    if strict and build_errors:
        raise InputError(str(build_errors[0]))
    diagnostics = tuple(sorted([*load_diagnostics, *inventory.diagnostics]))
    return ScanResult(inventory, label, diagnostics, invalid + len(build_errors))


@dataclass(frozen=True)
class Analysis:
    """A scan with its call graph and the fit profile: what every later step reads."""

    scan: ScanResult
    graph: CallGraph
    profile: Any
    context: RuleContext


def analyse(spec: InputSpec, *, profile_path: str | None = None,
            profile_overrides: Mapping[str, Any] | None = None,
            progress: Progress | None = None, stdin: BinaryIO | None = None,
            root_namespace: str = "istio-system",
            cluster_domain: str = "cluster.local") -> Analysis:
    """Scan, build the call graph and load the profile (``--profile FILE`` plus flag answers)."""
    from planner.domain.graph_builder import build_graph
    from planner.rules.base import RuleContext
    from planner.sources.profile import load_profile

    result = scan(spec, progress=progress, stdin=stdin)
    profile = load_profile(profile_path, profile_overrides or {})
    graph = build_graph(result.inventory, cluster_domain=cluster_domain)
    context = RuleContext(result.inventory, graph, profile, root_namespace)
    return Analysis(result, graph, profile, context)
