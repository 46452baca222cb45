"""The one door for the CLI and the TUI: every command goes through these functions.

Front ends hold no domain logic; they choose an input, call a function here, and render what it
returns. Adapters (files, cluster, Prometheus) are imported lazily so ``planner --help`` stays
fast and the kubernetes client loads only for live commands.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from planner.domain.analysis import Analysis, ScanResult
from planner.domain.diagnostics import Diagnostic, Severity, capped
from planner.domain.inventory import Inventory
from planner.domain.inventory_builder import InventoryBuilder, build_inventory
from planner.domain.staging import DEFAULT_BATCH as DEFAULT_BATCH
from planner.domain.staging import DEFAULT_ROLLOUT_TIMEOUT as DEFAULT_ROLLOUT_TIMEOUT
from planner.domain.staging import DEFAULT_SETTLE as DEFAULT_SETTLE
from planner.domain.staging import parse_batch as parse_batch
from planner.domain.staging import parse_duration as parse_duration

if TYPE_CHECKING:
    # Modules a command may not need (graph, rules, traffic) load when it uses them.
    from planner.domain.authz import AuthzProposal
    from planner.domain.authz_rollout import ShadowDenials
    from planner.domain.findings import Finding
    from planner.domain.fit import Assessment
    from planner.domain.observed import NamespaceTraffic
    from planner.domain.plan import DataplaneDecision, Plan
    from planner.domain.simulation_index import SimulationIndex
    from planner.domain.suppressions import Suppression
    from planner.domain.traffic import GateResult, Health, TrafficSnapshot
    from planner.domain.whatif import WhatIf

#: ``progress(done, total)`` for file scans; ``progress(kind, objects)`` is adapted to it.
#: ``progress(done, total, what)``: files done of total for manifests; for a live scan, objects
#: read so far (total 0: unknown) and the kind being listed.
Progress = Callable[[int, int, str], None]

#: The journal of applied steps when none is named: the CLI and the TUI share it, so each sees
#: the steps the other applied.
DEFAULT_JOURNAL = os.path.join(".meshplan", "journal.json")

#: How far back observed traffic is read for the plan's gates unless ``--window`` says: long
#: enough for weekly jobs.
DEFAULT_WINDOW = "7d"


@dataclass(frozen=True)
class ManifestInput:
    """Manifests on disk or stdin (``-``), like ``kubectl apply -f``."""

    paths: tuple[str, ...]
    recursive: bool = False
    strict: bool = False
    namespace: str = "default"
    #: Each immediate subfolder of a directory in ``paths`` is the namespace of the objects in
    #: it that have none (a GitOps tree laid out one folder per namespace); implies recursive.
    namespace_per_folder: bool = False

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


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector. A scan allocates millions of objects that stay alive
    to the end (the parsed documents, then the model and its wire form) and makes no reference
    cycles, so each collection only re-walks live objects (figures: docs/performance.md, "Why
    the code is shaped this way"). Reference counting still frees everything else as it goes.
    Nests. :func:`analyse` pauses it around the scan and the graph, for every caller; what a
    front end does with the collector beyond that is its own policy, in one place each:
    :mod:`planner.commands.process` for the console script, :mod:`tui.collector` for the TUI."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def yaml_readers() -> str:
    """Which parsers read YAML manifests in this install (``planner --version``)."""
    from planner.sources.yaml_compiled import describe

    return describe()


def scan(spec: InputSpec, *, progress: Progress | None = None,
         stdin: BinaryIO | None = None) -> ScanResult:
    """Read the input and build the inventory.

    Raises ``InputError`` (unusable input) or ``ClusterError`` (API server unreachable)."""
    if isinstance(spec, ManifestInput):
        from planner.sources.manifests import load_manifests

        def file_progress(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total, "reading files")

        # The inventory is built file by file while the next files are parsed, except when
        # folders give namespaces: those are known once every file has been found.
        builder = (None if spec.namespace_per_folder
                   else InventoryBuilder(default_namespace=spec.namespace))
        loaded = load_manifests(spec.paths, recursive=spec.recursive or spec.namespace_per_folder,
                                strict=spec.strict, stdin=stdin, progress=file_progress,
                                on_documents=None if builder is None else builder.add)
        if not loaded.documents and not loaded.invalid:
            # Only skipped files (Helm templates, say): an empty inventory would read as
            # "nothing to do", so stop and say why.
            from planner.errors import InputError

            why = f" ({loaded.diagnostics[0]})" if loaded.diagnostics else ""
            raise InputError(f"no Kubernetes objects found in {spec.label}{why}")
        if builder is not None:
            inventory = builder.build()
        else:
            from planner.sources.manifests import folder_namespaces

            folders = folder_namespaces(spec.paths, loaded.documents)
            inventory = build_inventory(loaded.documents, default_namespace=spec.namespace,
                                        file_namespaces=folders)
        result = _result(inventory, spec.label, loaded.diagnostics, loaded.invalid, spec.strict)
        rejected = {d.source for d in inventory.diagnostics if d.severity is Severity.ERROR}
        if result.invalid and all(doc.source in rejected for doc in loaded.documents):
            from planner.domain.redact import redact_message
            from planner.errors import NoUsableInput

            # A plan of nothing would read as "nothing to do"; exit 4 says the input is unusable.
            # One bad document reads as the line --strict prints for it; several are each
            # listed, then summed up. Redacted here: the TUI shows the message as it is.
            errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
            if len(errors) == 1:
                raise NoUsableInput(redact_message(errors[0].located), tuple(
                    redact_message(str(d)) for d in result.diagnostics if d is not errors[0]))
            raise NoUsableInput(
                f"no usable document in {spec.label}: all {result.invalid} invalid",
                tuple(redact_message(str(d)) for d in result.diagnostics))
        return result

    from planner.sources.kube import SCAN_KINDS, KubeTarget, scan_cluster

    per_kind: dict[str, int] = {}

    def kind_progress(kind: str, objects: int) -> None:
        per_kind[kind] = objects
        if progress is not None:
            progress(sum(per_kind.values()), 0, f"listing {kind}")

    # Each kind's objects are built into the inventory while the next kinds are listed.
    builder = InventoryBuilder(default_namespace=spec.namespace or "default")
    loaded, stats = scan_cluster(
        KubeTarget(spec.kubeconfig, spec.context, spec.namespace), progress=kind_progress,
        on_documents=builder.add)
    inventory = builder.build()
    notes = tuple(f"kind not served by the cluster: {k}" for k in stats.kinds_absent)
    result = _result(inventory, spec.label, loaded.diagnostics, loaded.invalid, strict=False)
    kinds = {k.qualified: k.kind for k in SCAN_KINDS}
    unread = tuple(sorted({kinds.get(q, q)
                           for q in (*stats.kinds_forbidden, *stats.kinds_timed_out)}))
    return ScanResult(result.inventory, result.source_label, result.diagnostics, result.invalid,
                      stats.api_calls, notes, unread)


def _result(inventory: Inventory, label: str, load_diagnostics: list[Diagnostic], invalid: int,
            strict: bool) -> ScanResult:
    from planner.errors import InputError

    build_errors = [d for d in inventory.diagnostics if d.severity is Severity.ERROR]
    if strict and build_errors:
        raise InputError(build_errors[0].located)
    diagnostics = capped(sorted([*load_diagnostics, *inventory.diagnostics]))
    return ScanResult(inventory, label, diagnostics, invalid + len(build_errors))


def analyse(spec: InputSpec, *, profile_path: str | None = None,
            profile_overrides: Mapping[str, Any] | None = None,
            progress: Progress | None = None, stdin: BinaryIO | None = None,
            root_namespace: str = "istio-system",
            cluster_domain: str = "cluster.local", min_confidence: float = 0.0) -> Analysis:
    """Scan, build the call graph and load the profile (``--profile FILE`` plus flag answers).
    Calls whose best evidence is below ``min_confidence`` stay out of the graph."""
    from planner.domain.findings import RuleContext
    from planner.domain.graph_builder import build_graph
    from planner.sources.profile import load_profile

    with paused_gc():
        result = scan(spec, progress=progress, stdin=stdin)
        profile = load_profile(profile_path, profile_overrides or {})
        graph = build_graph(result.inventory, cluster_domain=cluster_domain,
                            min_confidence=min_confidence)
    context = RuleContext(result.inventory, graph, profile, root_namespace)
    return Analysis(result, graph, profile, context)


#: ``--dataplane`` values: as ``assess`` recommends per namespace, or one mode for all.
DATAPLANE_CHOICES = ("recommended", "sidecar", "ambient")


def build_plan(analysis: Analysis, *, granularity: str = "namespace",
               dataplane: str | Mapping[str, str] = "recommended",
               assessment: Assessment | None = None, authz: bool | None = None) -> Plan:
    """Run the STRICT blocker rules and order the PERMISSIVE -> STRICT rollout, led by the fit
    verdict.

    ``dataplane`` is how namespaces not yet labelled join the mesh: ``recommended`` (the data
    plane ``assess`` recommends for each), ``sidecar`` or ``ambient`` for all (``--dataplane``),
    or an explicit namespace -> mode map (sidecar where missing). ``assessment`` is
    :func:`assess`'s result when the caller has it already (computed otherwise). ``authz``
    adds the authorization phases after mesh-wide STRICT (dry run, gate, enforce per
    namespace; docs/authz.md); None takes ``plan.authz`` of the profile (default: without).
    Their policies name the callers of ``analysis.graph``, with the observed traffic once
    :func:`observe` merged it, as ``planner authz`` does. Raises ``ValueError`` for an unknown
    ``granularity`` or ``dataplane``."""
    from dataclasses import replace

    from planner.domain.fit import plan_cost
    from planner.domain.membership import CallerFates, membership
    from planner.domain.plan_builder import build_plan_from
    from planner.domain.simulation_index import SimulationIndex
    from planner.rules.blockers import AMBIENT_READINESS_RULES, BLOCKER_RULES

    if assessment is None:
        assessment = assess(analysis)
    decision = _dataplane_decision(analysis, assessment, dataplane)
    inventory, root = analysis.context.inventory, analysis.context.root_namespace
    # Who will be in the mesh, node by node: worked out once for the rules and the builder.
    fates = CallerFates(inventory, membership(inventory, root, decision.modes))
    # The rules judge the mesh this plan builds: ambient namespaces are not sidecar ones.
    context = replace(analysis.context, dataplane=decision.modes, fates=fates)
    findings = [f for rule in BLOCKER_RULES for f in rule.check(context)]
    proposal = None
    authz_blockers: list[Finding] = []
    if authz is None:
        authz = bool(getattr(analysis.profile, "plan_authz", None))
    if authz:
        # Imported here: a plan without authorization phases never needs these models.
        from planner.domain.authz import authorization_policies
        from planner.rules.authz import authz_findings

        members = membership(context.inventory, context.root_namespace, decision.modes,
                             decision.why)
        proposal = authorization_policies(context.inventory, analysis.graph, members)
        authz_blockers = authz_findings(proposal)
    # The plan's exceptions and its steps' what-ifs simulate the same calls: resolved once.
    index = SimulationIndex(context.inventory, context.graph)
    plan = build_plan_from(context.inventory, context.graph, findings,
                           root_namespace=context.root_namespace, granularity=granularity,
                           dataplane=decision.modes, dataplane_why=decision.why,
                           dataplane_choice=decision.selection,
                           fit=assessment.fit_verdict, unread=analysis.scan.unread,
                           enrollment_codes={r.info.code for r in AMBIENT_READINESS_RULES},
                           authz=proposal,
                           authz_findings=authz_blockers,
                           index=index, fates=fates)
    cost, notes = plan_cost(inventory, fates, assessment)
    return replace(plan, what_if=_step_what_ifs(analysis, plan, index), cost=cost,
                   notes=(*plan.notes, *notes))


def _step_what_ifs(analysis: Analysis, plan: Plan,
                   index: SimulationIndex | None = None) -> dict[str, WhatIf]:
    """Each STRICT and exception step's what-if now: its policies on top of the mesh as the
    scan shows it, judged on ``analysis.graph`` (with observed traffic once merged).
    ``index``: the plan's simulation index, used when it was built on that graph."""
    from planner.domain import whatif

    inventory = analysis.scan.inventory
    if index is not None and not index.serves(inventory, analysis.graph):
        index = None
    return whatif.step_what_ifs(
        inventory, analysis.graph, plan.steps, root_namespace=plan.root_namespace,
        enrollment=whatif.current_enrollment(inventory, analysis.graph), index=index)


def _dataplane_decision(analysis: Analysis, assessment: Assessment,
                        dataplane: str | Mapping[str, str]) -> DataplaneDecision:
    """The data plane per namespace, as ``dataplane`` (see :func:`build_plan`) asks."""
    from planner.domain.plan import DataplaneDecision, DataplaneSelection

    if not isinstance(dataplane, str):
        modes = dict(dataplane)
        return DataplaneDecision(DataplaneSelection.GIVEN, modes,
                                 {ns: f"{m}, as given" for ns, m in modes.items()})
    if dataplane == DataplaneSelection.RECOMMENDED:
        modes, why = {}, {}
        for ns, choice in assessment.dataplane.items():
            modes[ns] = choice.mode
            why[ns] = (f"{choice.mode}, as assess recommends"
                       + (f": {choice.reasons[0]}" if choice.reasons else ""))
        return DataplaneDecision(DataplaneSelection.RECOMMENDED, modes, why)
    if dataplane not in DATAPLANE_CHOICES:
        raise ValueError(f"dataplane must be one of {', '.join(DATAPLANE_CHOICES)}, "
                         f"not {dataplane!r}")
    names = [ns.name for ns in analysis.scan.inventory.namespaces]
    recommended = {ns: choice.mode for ns, choice in assessment.dataplane.items()}
    why = {ns: f"{dataplane}, chosen with --dataplane {dataplane}"
               + (f" (assess recommends {recommended[ns]})"
                  if recommended.get(ns, dataplane) != dataplane else "")
           for ns in names}
    return DataplaneDecision(DataplaneSelection(dataplane), {ns: dataplane for ns in names}, why)


def assess(analysis: Analysis) -> Assessment:
    """The mesh-fit verdict, the data plane per namespace and the cost of each option."""
    from dataclasses import replace

    from planner.domain.fit import ambient_candidates, assess_fit
    from planner.rules.blockers import AMBIENT_READINESS_RULES, WAYPOINT_RESOLVES
    from planner.rules.fit import FIT_RULES, L7_RULES

    ctx = analysis.context
    # Judge every namespace as if it went ambient, so the recommendation and the plan's
    # ambient enrollment rest on the same readiness rules.
    judged = replace(ctx, ambient_candidates=ambient_candidates(ctx.inventory,
                                                                ctx.root_namespace))
    readiness = [f for rule in AMBIENT_READINESS_RULES for f in rule.check(judged)]
    return assess_fit(ctx, FIT_RULES, [r.info.code for r in L7_RULES], readiness,
                      WAYPOINT_RESOLVES)


def authorization(analysis: Analysis, *, dataplane: str | Mapping[str, str] = "recommended",
                  enforce: bool = False, trust_domain: str = "cluster.local") -> AuthzProposal:
    """Least-privilege ALLOW AuthorizationPolicies for the mesh the plan builds (``dataplane``
    as for :func:`build_plan`): who calls each workload, from the call graph and the observed
    traffic :func:`observe` merged into it. Dry run unless ``enforce``."""
    from planner.domain.authz import authorization_policies
    from planner.domain.membership import membership

    decision = _dataplane_decision(analysis, assess(analysis), dataplane)
    members = membership(analysis.scan.inventory, analysis.context.root_namespace,
                         decision.modes, decision.why)
    return authorization_policies(analysis.scan.inventory, analysis.graph, members,
                                  enforce=enforce, trust_domain=trust_domain)


# --- applying plan steps ----------------------------------------------------------------------

if TYPE_CHECKING:
    # ApplySession re-exported: front ends name the session type without importing the engine.
    from planner.apply.engine import ApplySession as ApplySession
    from planner.apply.engine import RolloutTick as RolloutTick
    from planner.apply.engine import SettleWatch as SettleWatch
    from planner.apply.engine import StepOutcome as StepOutcome
    from planner.apply.engine import StepPreview as StepPreview
    from planner.apply.engine import TrafficReader


@dataclass(frozen=True, kw_only=True)
class TrafficSource:
    """Where observed traffic comes from: a Prometheus (bearer token from ``token_file`` or
    ``$PLANNER_PROMETHEUS_TOKEN``, server certificate checked against ``ca_file``) or an export
    file (``traffic_format`` detected when None). Exactly one of ``prometheus`` and
    ``traffic_file``; ``InputError`` otherwise.

    ``trust_declared`` accepts an export's declared mTLS shares (a CSV ``mtls_share``) as
    proof: the user's decision, recorded in the snapshot and shown with every gate it passes.

    ``window`` is how far back Prometheus looks; None leaves it to the reader's caller (the
    apply engine: 7 days before a STRICT step, 15 minutes to verify one; :func:`observe`:
    :data:`DEFAULT_WINDOW`). The one shape of observed-traffic input for every front end;
    satisfies the apply engine's ``TrafficReader``.
    """

    prometheus: str | None = None
    token_file: str | None = None
    ca_file: str | None = None
    traffic_file: str | None = None
    traffic_format: str | None = None
    window: str | None = None
    trust_declared: bool = False

    def __post_init__(self) -> None:
        if (self.prometheus is None) == (self.traffic_file is None):
            from planner.errors import InputError

            raise InputError("observed traffic: give either a Prometheus URL or a traffic "
                             "export file (not both)")

    @property
    def label(self) -> str:
        """The kind of source, for gate messages."""
        return "Prometheus" if self.prometheus is not None else "traffic export"

    def read(self, window: str) -> TrafficSnapshot:
        """The snapshot over ``self.window`` or else ``window`` (an export covers its own
        span). Raises ``MetricsError`` when the source (or the token file) cannot be read."""
        if self.prometheus is not None:
            from planner.sources.prometheus import fetch_traffic, resolve_bearer_token

            return fetch_traffic(self.prometheus, window=self.window or window,
                                 bearer_token=resolve_bearer_token(self.token_file),
                                 ca_file=self.ca_file)
        from planner.domain.traffic import trusting_declared
        from planner.sources.exports import load_traffic_export

        assert self.traffic_file is not None  # one of the two, checked in __post_init__
        snapshot = load_traffic_export(self.traffic_file, self.traffic_format)
        return trusting_declared(snapshot) if self.trust_declared else snapshot

    @property
    def rereadable(self) -> bool:
        """True when the source can be read again after an apply (a Prometheus, not a file)."""
        return self.prometheus is not None

    def shadow_denials(self, namespaces: Sequence[str], window: str) -> ShadowDenials | None:
        """The would-be denials of the dry-run authorization policies in ``namespaces`` over
        ``self.window`` or else ``window``, from Envoy's shadow RBAC counters (Prometheus);
        None for an export file, which has no such counters. Raises ``MetricsError``."""
        if self.prometheus is None:
            return None
        from planner.sources.prometheus import PrometheusClient, resolve_bearer_token

        return PrometheusClient(self.prometheus, bearer_token=resolve_bearer_token(
            self.token_file), ca_file=self.ca_file).shadow_denials(namespaces,
                                                                   self.window or window)

    def health(self, namespaces: Sequence[str], window: str) -> Health:
        """Plaintext and failures into ``namespaces`` over the last ``window`` (Prometheus
        only; ``MetricsError`` for an export file, which cannot be read again)."""
        from planner.errors import MetricsError
        from planner.sources.prometheus import PrometheusClient, resolve_bearer_token

        if self.prometheus is None:
            raise MetricsError(f"{self.traffic_file}: a traffic export cannot be read again "
                               "after an apply; give --prometheus to check it")
        return PrometheusClient(self.prometheus, bearer_token=resolve_bearer_token(
            self.token_file), ca_file=self.ca_file).health(namespaces, window)


def open_apply_session(analysis: Analysis, plan: Plan, *, write: bool, journal_path: str,
                       kube: ClusterInput | None = None, out_dir: str | None = None,
                       traffic: TrafficReader | None = None,
                       lock_wait_s: float | None = None,
                       caller: str = "planner") -> ApplySession:
    """A session that previews, applies, verifies and rolls back ``plan``'s steps on the
    cluster ``kube`` (server-side apply, field manager ``meshplan``) or, for manifest input,
    as GitOps files under ``out_dir``; ``journal_path`` records every write (docs/apply.md).

    ``traffic`` (a :class:`TrafficSource`, or any ``TrafficReader``) is where the STRICT
    steps' plaintext gate reads observed traffic, on every apply and verify (``fail`` or
    ``unknown`` refuse the step unless forced). ``write=False`` keeps it read-only:
    ``preview``, ``verify`` and ``status`` work, ``apply`` and ``rollback`` raise
    ``ReadOnlyError``. Raises ``ApplyError`` when there is no target and ``ClusterError`` when
    the kubeconfig cannot be loaded. Close it (or use ``with``)."""
    from planner.apply.engine import ApplySession
    from planner.apply.writer import Writer
    from planner.domain.journal import LOCK_WAIT_S  # not at the top: only apply needs it
    from planner.errors import ApplyError

    writer: Writer
    if kube is not None:
        from planner.apply.kube_writer import KubeWriter
        from planner.sources.kube_client import KubeTarget

        writer = KubeWriter(KubeTarget(kube.kubeconfig, kube.context, kube.namespace))
    elif out_dir is not None:
        from planner.apply.gitops_writer import GitOpsWriter

        writer = GitOpsWriter(out_dir)
    else:
        # status and verify need it too: in manifest mode the folder is what they check.
        raise ApplyError("manifest input has no cluster: give --out DIR, the folder that holds "
                         "(or will hold) the steps as GitOps files")
    return ApplySession(plan, writer, write=write, journal_path=journal_path,
                        traffic=traffic, gates=partial(gates_on, analysis),
                        source=analysis.scan.source_label,
                        lock_wait_s=LOCK_WAIT_S if lock_wait_s is None else lock_wait_s,
                        caller=caller, unread=analysis.scan.unread)


def check_cluster_config(spec: ClusterInput) -> None:
    """Load the configuration ``spec`` names (its kubeconfig and context, or the in-cluster
    service account) without reading the cluster: a front end that opens a long session (the
    TUI) says at once, in one line, that there is none rather than inside its screens.
    Raises ``ClusterError`` (``NoKubeconfig`` when nothing names a cluster)."""
    from planner.sources.kube_client import KubeTarget, connect

    client, _ = connect(KubeTarget(spec.kubeconfig, spec.context, spec.namespace))
    with client:
        pass  # loaded is all this asks; leaving closes the client's connection pool


def migrate_journal(session: ApplySession) -> int:
    """Bind the steps of a format-1 journal (which did not record its cluster) to the
    session's target and rewrite it in the current format, under the journal's lock; the old
    file is kept as ``<journal>.v1``. Returns the number of steps bound (0: nothing to do)."""
    from planner.apply.journal_file import journal_lock
    from planner.apply.journal_file import migrate_journal as migrate

    target = session.target
    with journal_lock(session.journal_path, f"{session.caller} migrate the journal",
                      session.lock_wait_s):
        return migrate(session.journal_path, target)


def journal_step_ids(journal_path: str) -> list[str]:
    """Ids of the steps a journal file records for any target, sorted (shell completion of
    STEP, which cannot ask a cluster which target it is); raises ``ApplyError`` when the
    journal cannot be read."""
    from planner.apply.journal_file import load_journals

    journals = load_journals(journal_path).by_target.values()
    return sorted({step for journal in journals for step in journal.steps})


def check_writable(write: bool) -> None:
    """Raise ``ReadOnlyError`` unless ``write``: lets front ends refuse before a slow scan."""
    from planner.apply.engine import require_write

    require_write(write)


def observe(analysis: Analysis, traffic: TrafficSource) -> Analysis:
    """Read observed traffic (over ``traffic.window`` or :data:`DEFAULT_WINDOW`; an export
    says its own) and merge it into the graph.

    The returned Analysis carries the snapshot in ``traffic`` and the merged graph in ``graph``;
    ``context.graph`` stays the manifests' graph, so the blocker rules and the plan's steps still
    come from the manifests and the telemetry only gates them. Raises ``MetricsError`` when the
    source cannot be read.
    """
    from dataclasses import replace

    from planner.domain.observed import merge_observed, resolve_pods

    snapshot = traffic.read(DEFAULT_WINDOW)
    # Hubble names pods: map them to the scanned workloads before they meet the graph.
    snapshot = resolve_pods(snapshot, analysis.scan.inventory)
    return replace(analysis, graph=merge_observed(analysis.graph, snapshot), traffic=snapshot)


def gate_plan(analysis: Analysis, plan: Plan, shadow: ShadowDenials | None = None,
              ) -> tuple[Plan, dict[str, GateResult]]:
    """Evaluate each STRICT step's plaintext gate on ``analysis.traffic`` and block on it, and
    each authorization enforce step's gate on the would-be denials (``shadow``: the shadow
    RBAC counters, when they were read).

    Returns the plan with failing STRICT steps blocked by MP301 findings (enforce steps by
    MP304) and the namespaces that proved mTLS-only first, and the gate of every gated step by
    id. Without traffic the plan comes back unchanged with no gates."""
    from dataclasses import replace

    from planner.domain.gates import block_on_gates, evaluate_gates
    from planner.rules.plan import gate_findings

    if analysis.traffic is None:
        return plan, {}
    gates = evaluate_gates(plan, analysis.traffic, analysis.scan.inventory, analysis.graph,
                           shadow)
    blocked = block_on_gates(plan, gates, gate_findings(plan, analysis.graph))
    # The steps' what-ifs again, now with the plaintext the traffic shows as evidence.
    return replace(blocked, what_if=_step_what_ifs(analysis, blocked)), gates


def gate_for_step(analysis: Analysis, plan: Plan, step_id: str) -> GateResult:
    """The gate of one step (for ``planner verify`` and the TUI): plaintext for a STRICT step,
    would-be denials for an authorization enforce step.

    ``unknown`` when the analysis has no traffic (no proof either way); ``pass`` for a step
    with no gate. Raises ``KeyError`` for a step id the plan does not have."""
    from planner.domain.gates import evaluate_gates
    from planner.domain.plan import Phase
    from planner.domain.traffic import GateResult

    step = plan.step(step_id)
    if analysis.traffic is None:
        what = ("would-be denials" if step.phase is Phase.AUTHZ_ENFORCE else "plaintext")
        return GateResult("unknown", "no observed traffic given (a Prometheus URL or a traffic "
                          f"export): {what} cannot be ruled out")
    gate = evaluate_gates(plan, analysis.traffic, analysis.scan.inventory,
                          analysis.graph).get(step_id)
    return gate or GateResult("pass", f"step {step_id} has no plaintext precondition")


def gates_on(analysis: Analysis, plan: Plan, snapshot: TrafficSnapshot,
             shadow: ShadowDenials | None = None) -> dict[str, GateResult]:
    """The gate of every gated step of ``plan`` on a fresh ``snapshot`` (as ``apply`` and
    ``verify`` read it) and the shadow RBAC denials when they were read: its pods mapped to
    the scanned workloads and its edges merged into the manifests' graph, as :func:`observe`
    does, then judged by :func:`planner.domain.gates.evaluate_gates`."""
    from planner.domain.gates import evaluate_gates
    from planner.domain.observed import merge_observed, resolve_pods

    inventory = analysis.scan.inventory
    snapshot = resolve_pods(snapshot, inventory)
    return evaluate_gates(plan, snapshot, inventory,
                          merge_observed(analysis.context.graph, snapshot), shadow)


def step_callers(analysis: Analysis, plan: Plan, step_id: str) -> list[str]:
    """The calls a STRICT step's plaintext gate judges: those its what-if, at its place in the
    plan (:func:`planner.domain.gates.gate_what_ifs`, the simulation the gate decides by),
    puts under STRICT, as ``caller -> Service:port`` keys, sorted. Calls on ports an exception
    keeps PERMISSIVE and calls into workloads that enforce nothing are left out, as the gate
    leaves them out. These are who must be proven to speak mutual TLS when the gate cannot
    tell; empty for steps without a plaintext gate. Raises ``KeyError`` for an unknown step."""
    from planner.domain.gates import gate_what_ifs
    from planner.domain.graph import edge_key
    from planner.domain.plan import Phase
    from planner.domain.whatif import STRICT

    step = plan.step(step_id)
    if step.phase not in (Phase.STRICT, Phase.MESH_STRICT):
        return []
    found = gate_what_ifs(analysis.scan.inventory, analysis.graph, plan,
                          only=step_id).get(step_id)
    if found is None:
        return []
    return sorted({edge_key(row.caller, row.service, row.port)
                   for row in found.result.edges if row.mode == STRICT})


def namespace_report(analysis: Analysis) -> tuple[NamespaceTraffic, ...]:
    """Per namespace: mTLS status, plaintext callers, the STRICT gate, and where the manifests
    and the telemetry disagree. Empty when the analysis has no traffic (see :func:`observe`)."""
    from planner.domain.observed import namespace_traffic

    if analysis.traffic is None:
        return ()
    return namespace_traffic(analysis.graph, analysis.traffic)


# --- the pipeline every front end runs ----------------------------------------------------


@dataclass(frozen=True)
class PlanOptions:
    """How to plan: Istio's root namespace, STRICT per ``namespace`` or per ``workload``, how
    namespaces not yet labelled join the mesh (one of :data:`DATAPLANE_CHOICES`), the
    profile (``--profile FILE``) behind the fit verdict the plan opens with, the weakest
    evidence a call may rest on (``--min-confidence``), whether the plan ends with the
    authorization phases (``--authz``), and the profile answers given as flags."""

    root_namespace: str = "istio-system"
    granularity: str = "namespace"
    dataplane: str = "recommended"
    profile_path: str | None = None
    min_confidence: float = 0.0
    #: The authorization phases after mesh-wide STRICT (``--authz``); None: as the profile's
    #: ``plan.authz`` says (default without).
    authz: bool | None = None
    #: Profile answers given as flags (``--platform-engineers``, ``--compliance-mtls``,
    #: ``--observability-needed``, ``--nodes``): field -> value, each winning over the file's.
    answers: Mapping[str, int | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Rollout:
    """What :func:`run_pipeline` gives: the analysis (with the observed traffic merged in when
    it was read), its assessment, the plan as the manifests make it (what the apply engine
    gets), the plan to show (``gated``: with observed traffic, MP301 blockers and the proven
    namespaces first; else ``plan`` itself), the gate of every STRICT step by id (None without
    traffic), and why the traffic asked for could not be read ("")."""

    analysis: Analysis
    assessment: Assessment
    plan: Plan
    gated: Plan
    gates: dict[str, GateResult] | None
    traffic_error: str = ""

    def step_gates(self) -> dict[str, GateResult]:
        """The gate of every STRICT step: ``gates``, or ``unknown`` (and why) for each without
        observed traffic."""
        if self.gates is not None:
            return self.gates
        return {step_id: gate_for_step(self.analysis, self.plan, step_id)
                for step_id in gated_steps(self.plan)}


def gated_steps(plan: Plan) -> tuple[str, ...]:
    """The ids of the steps with a gate: the plaintext gate of namespace, workload and
    mesh-wide STRICT, and the would-be-denials gate of the authorization enforce steps."""
    from planner.domain.plan import GATED_PHASES

    return tuple(s.id for s in plan.steps if s.phase in GATED_PHASES)


def run_pipeline(spec: InputSpec, options: PlanOptions = PlanOptions(), *,
                 traffic: TrafficSource | None = None,
                 traffic_optional: bool = False, progress: Progress | None = None,
                 stdin: BinaryIO | None = None,
                 scanned: Callable[[ScanResult], None] | None = None,
                 stage: Callable[[str], None] | None = None) -> Rollout:
    """Scan, read the observed traffic, assess, plan and gate: the one chain ``plan``,
    ``report``, ``apply`` and the TUI run.

    ``traffic_optional``: a source that cannot be read leaves the analysis without traffic and
    says why in ``traffic_error`` (the TUI shows the manifests' analysis anyway) instead of
    raising. ``scanned`` sees the scan before the traffic is read; ``stage`` names each later
    stage (``reading traffic``, ``assessing``, ``planning``) as it starts. Raises what
    :func:`analyse` and :func:`observe` raise, and ``ValueError`` for an unknown granularity
    or data plane."""
    from planner.errors import PlannerError

    analysis = analyse(spec, profile_path=options.profile_path,
                       profile_overrides=options.answers, progress=progress, stdin=stdin,
                       root_namespace=options.root_namespace,
                       min_confidence=options.min_confidence)
    if scanned is not None:
        scanned(analysis.scan)
    traffic_error = ""
    if traffic is not None:
        if stage is not None:
            stage("reading traffic")
        try:
            analysis = observe(analysis, traffic)
        except PlannerError as err:
            if not traffic_optional:
                raise
            traffic_error = str(err)
    if stage is not None:
        stage("assessing")
    # One assessment serves the verdict, the plan's verdict and its data plane.
    assessment = assess(analysis)
    if stage is not None:
        stage("planning")
    plan = build_plan(analysis, granularity=options.granularity, dataplane=options.dataplane,
                      assessment=assessment, authz=options.authz)
    gated, gates = plan, None
    if analysis.traffic is not None:
        shadow = None
        if traffic is not None:
            try:
                shadow = _shadow_denials(traffic, plan)
            except PlannerError as err:
                if not traffic_optional:
                    raise
                traffic_error = str(err)
        gated, gates = gate_plan(analysis, plan, shadow)
    return Rollout(analysis, assessment, plan, gated, gates, traffic_error)


def _shadow_denials(traffic: TrafficSource, plan: Plan) -> ShadowDenials | None:
    """The shadow RBAC denials into the namespaces of ``plan``'s authorization enforce steps
    over the gates' window (None without such steps, or from an export file)."""
    from planner.domain.plan import Phase

    namespaces = sorted({s.target.namespace for s in plan.steps
                         if s.phase is Phase.AUTHZ_ENFORCE})
    return traffic.shadow_denials(namespaces, DEFAULT_WINDOW) if namespaces else None


def write_output(path: Path, text: str) -> None:
    """Write a report or other output atomically (a reader sees the old file or the new one).

    Raises ``InputError`` naming the path when it cannot be written."""
    from planner.apply.journal_file import write_atomically
    from planner.errors import ApplyError, InputError

    try:
        write_atomically(path, text)
    except ApplyError as err:
        # The shared writer speaks for the journal; for an output file it is a path problem.
        raise InputError(str(err)) from None


def what_if(analysis: Analysis, *, strict: Sequence[str] = (), permissive: Sequence[str] = (),
            workloads: Sequence[str] = (), after_enrollment: bool = False,
            dataplane: str | Mapping[str, str] = "recommended") -> WhatIf:
    """Simulate PeerAuthentication changes on top of the current state and judge every call
    into the workloads they reach (docs/what-if.md).

    ``strict``/``permissive`` are namespaces (the root namespace means mesh-wide);
    ``workloads`` are ``KIND/NS/NAME`` or ``KIND/NS/NAME=MODE`` (default PERMISSIVE: one
    exception). Callers and servers are judged as the scan shows them, or, with
    ``after_enrollment``, as the plan's enroll steps leave them (``dataplane`` as for
    :func:`build_plan`, so the two agree). Observed traffic merged by :func:`observe` counts
    as evidence. Raises ``InputError`` for no change, an unknown namespace or workload, or a
    bad mode."""
    from planner.domain import whatif
    from planner.domain.membership import membership
    from planner.errors import InputError

    inventory, graph = analysis.scan.inventory, analysis.graph
    root = analysis.context.root_namespace
    if not (strict or permissive or workloads):
        raise InputError("what-if needs a change: --strict NS, --permissive NS or "
                         "--workload KIND/NS/NAME")
    changes = []
    for mode, namespaces in (("STRICT", strict), ("PERMISSIVE", permissive)):
        for ns in namespaces:
            if ns not in inventory.namespace_index:
                raise InputError(f"namespace {ns!r} is not in the input (namespaces: "
                                 f"{', '.join(n.name for n in inventory.namespaces)})")
            changes.append(whatif.namespace_policy(inventory, root, ns, mode))
    for text in workloads:
        try:
            ref, mode = whatif.parse_workload_change(text)
        except ValueError as err:
            raise InputError(str(err)) from None
        workload = inventory.workload_index.get(ref)
        if workload is None:
            raise InputError(f"--workload {text}: no {ref} in the input")
        try:
            changes.append(whatif.workload_policy(workload, mode))
        except ValueError as err:
            raise InputError(f"--workload {text}: {err}") from None
    if after_enrollment:
        modes = _dataplane_decision(analysis, assess(analysis), dataplane).modes
        enrollment = whatif.planned_enrollment(inventory, graph,
                                               membership(inventory, root, modes))
    else:
        enrollment = whatif.current_enrollment(inventory, graph)
    return whatif.simulate(inventory, graph, changes, root_namespace=root,
                           enrollment=enrollment)


def suppressions(analysis: Analysis, ignore: Sequence[str] = ()) -> tuple[Suppression, ...]:
    """The accepted risks for a report: ``meshplan.io/ignore`` annotations in the input,
    ``ignore`` (``--ignore CODE[:KIND/NS/NAME]`` values) and the profile's ``ignore:``.
    Raises ``InputError`` for a malformed ``--ignore`` value."""
    from planner.domain.suppressions import (
        FLAG,
        SuppressionError,
        annotation_suppressions,
        parse_ignore,
    )
    from planner.errors import InputError

    flags = []
    for text in ignore:
        try:
            flags.append(parse_ignore(text, kind=FLAG, origin=f"--ignore {text}",
                                      reason="given on the command line (--ignore)"))
        except SuppressionError as err:
            raise InputError(f"--ignore {err}") from None
    profile = getattr(analysis.profile, "ignore", ())
    _refuse_unknown_codes((*flags, *profile))
    return (*annotation_suppressions(analysis.scan.inventory), *flags, *profile)


def _refuse_unknown_codes(accepted: Sequence[Suppression]) -> None:
    """An ``--ignore`` or profile entry whose code no rule has would suppress nothing, and a
    typo (``MP2O5``) would leave the gate failing without saying why: ``InputError``."""
    if not accepted:
        return  # the catalogue brings every rule's models (authz too): only when needed
    from planner.errors import InputError
    from planner.rules.registry import CATALOGUE

    codes = {info.code for info in CATALOGUE}
    for suppression in accepted:
        if suppression.code not in codes:
            raise InputError(f"{suppression.origin}: no rule has the code {suppression.code} "
                             "(planner rules list shows them)")
