"""The mesh-fit verdict, the data-plane choice per namespace, and what each option costs.

Pure. :func:`assess_fit` runs the fit rules (MP1xx) on a rule context and combines their
findings:

* **Score** = ``BASE_SCORE`` (50) + the sum of the factors' weights, clamped to 0..100. The
  article's "skip the mesh if" reasons weigh about -20 each and its "use a mesh when" reasons
  +15 or more, so one reason alone moves a neutral cluster across a verdict boundary.
* **Verdict**: ``mesh-overkill`` below 35, ``mesh-recommended`` from 65, ``mesh-optional``
  between.
* **Unknowns**: every profile question left unanswered counts as no effect, and a what-if
  replays the rules with each possible answer to state what it would change.

:func:`recommend_dataplane` picks ambient or sidecar per namespace and the waypoints ambient
needs; :func:`estimate_costs` sizes each option from the inventory and the profile's costs, and
:func:`plan_cost` the mesh a rollout plan leaves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from planner.domain import raw
from planner.domain.findings import Finding, Rule, RuleContext
from planner.domain.inventory import Inventory, ObjectRef, PolicyObject, Service, Workload
from planner.domain.plan import NamespaceMode
from planner.domain.profile import COST_BASIS, QUESTIONS, Profile
from planner.domain.value import value_class
from planner.domain.verdict import Alternative, FitVerdict, Verdict

if TYPE_CHECKING:
    from planner.domain.membership import CallerFates

BASE_SCORE: Final = 50
OVERKILL_BELOW: Final = 35
RECOMMENDED_FROM: Final = 65


#: Namespaces of Kubernetes and of the mesh itself: not application services, never enrolled.
SYSTEM_NAMESPACES: Final = frozenset({"kube-system", "kube-public", "kube-node-lease",
                                      "istio-system"})

#: An existing sidecar namespace with at least this many L7 policy objects keeps sidecars: the
#: article calls sidecar "the safer choice" for existing meshes with complex L7 policy.
COMPLEX_L7_OBJECTS: Final = 3

AMBIENT: Final = NamespaceMode.AMBIENT
SIDECAR: Final = NamespaceMode.SIDECAR


def is_system_namespace(namespace: str, root_namespace: str = "istio-system") -> bool:
    """True for Kubernetes' own namespaces and Istio's root namespace."""
    return namespace in SYSTEM_NAMESPACES or namespace == root_namespace


def app_services(inventory: Inventory, root_namespace: str = "istio-system") -> list[Service]:
    """The Services a team runs: every Service outside the system namespaces except
    ExternalName aliases, which point outside the cluster, and ``default/kubernetes``, the
    API server's own Service (in every export of a cluster)."""
    return [s for s in inventory.services
            if s.type != "ExternalName" and not is_system_namespace(s.namespace, root_namespace)
            and not is_apiserver_service(s)]


def is_apiserver_service(service: Service) -> bool:
    """True for ``default/kubernetes``: the API server's Service, without a selector."""
    return (service.name == "kubernetes" and service.namespace == "default"
            and not service.selector)


def verdict_for(score: float) -> Verdict:
    """The verdict for a score."""
    if score < OVERKILL_BELOW:
        return Verdict.OVERKILL
    if score >= RECOMMENDED_FROM:
        return Verdict.RECOMMENDED
    return Verdict.OPTIONAL


# ---------------------------------------------------------------------------------------------
# Result types


@value_class
class Factor:
    """One rule finding that entered the score, with the rule's title."""

    code: str
    title: str
    value: str
    threshold: str
    weight: float
    message: str
    objects: tuple[str, ...] = ()
    fix: str = ""


@value_class
class Outcome:
    """What the score and verdict would be with one answer to an unknown question."""

    answer: str
    score: int
    verdict: Verdict


@value_class
class Unknown:
    """A profile question without an answer, and what each answer would change."""

    field: str
    question: str
    outcomes: tuple[Outcome, ...]

    @property
    def effect(self) -> str:
        """The effect in words: ``yes: 80 (mesh-recommended); no: 45 (mesh-optional)``."""
        return "; ".join(f"{o.answer}: {o.score} ({o.verdict})" for o in self.outcomes)


@value_class
class Waypoint:
    """The waypoint a namespace needs in ambient mode. ``service_accounts`` is empty when the
    waypoint must serve the whole namespace; ``features`` are the rules that triggered it."""

    namespace: str
    service_accounts: tuple[str, ...]
    features: tuple[str, ...]
    objects: tuple[str, ...]

    @property
    def scope(self) -> str:
        """``namespace`` or ``service-account``."""
        return "service-account" if self.service_accounts else "namespace"

    @property
    def count(self) -> int:
        """Waypoint deployments: one per service account, or one for the namespace."""
        return len(self.service_accounts) or 1


@value_class
class DataplaneChoice:
    """The data plane recommended for one namespace, with reasons. ``waypoint`` is what the
    namespace would need in ambient mode (also set when sidecar is chosen, so the all-ambient
    cost counts it)."""

    namespace: str
    mode: NamespaceMode
    reasons: tuple[str, ...]
    pods: int
    waypoint: Waypoint | None = None
    ambient_blockers: tuple[str, ...] = ()


@value_class
class CostLine:
    """One component of an option: how many, their total requests, and the assumption."""

    component: str
    count: int
    cpu_millicores: int
    memory_mib: float
    assumption: str


@value_class
class CostOption:
    """The resources one data-plane option adds."""

    name: str
    lines: tuple[CostLine, ...]

    @property
    def cpu_millicores(self) -> int:
        """Total CPU requests."""
        return sum(line.cpu_millicores for line in self.lines)

    @property
    def memory_mib(self) -> float:
        """Total memory requests."""
        return round(sum(line.memory_mib for line in self.lines), 1)

    @property
    def proxies(self) -> int:
        """Proxy containers or pods added (istiod excluded)."""
        return sum(line.count for line in self.lines if line.component != "istiod")


@value_class
class CostEstimate:
    """Sidecar, ambient and the recommended mix, sized from the inventory."""

    pods: int
    meshed_pods: int
    nodes: int
    nodes_source: str
    options: tuple[CostOption, ...]
    assumptions: tuple[str, ...]


@value_class
class Assessment:
    """The verdict and everything behind it."""

    verdict: Verdict
    score: int
    raw_score: float
    factors: tuple[Factor, ...]
    unknowns: tuple[Unknown, ...]
    alternatives: tuple[Alternative, ...]
    namespaces: tuple[DataplaneChoice, ...]
    costs: CostEstimate
    profile: Profile

    @property
    def fit_verdict(self) -> FitVerdict:
        """The verdict as the plan leads with it: score, the weightiest factors in one
        sentence, and the lighter alternatives."""
        pushing = sorted((f for f in self.factors if f.weight),
                         key=lambda f: (-abs(f.weight), f.code))
        against = [f.title for f in pushing if f.weight < 0][:3]
        towards = [f.title for f in pushing if f.weight > 0][:3]
        if self.verdict == Verdict.OVERKILL:
            summary = ("A mesh is likely more than this cluster needs"
                       + (f" ({'; '.join(against)})" if against else "")
                       + (": consider " + " or ".join(a.name for a in self.alternatives)
                          if self.alternatives else "")
                       + ". The plan below is the way to STRICT mTLS if you proceed anyway.")
        elif self.verdict == Verdict.RECOMMENDED:
            summary = ("A mesh fits this cluster"
                       + (f" ({'; '.join(towards)})" if towards else "") + ".")
        else:
            summary = ("A mesh is optional here: weigh its cost against "
                       + ("; ".join(towards) if towards else "what it would add") + ".")
        return FitVerdict(self.verdict, self.score, summary, self.alternatives)

    @property
    def dataplane(self) -> dict[str, DataplaneChoice]:
        """Namespace -> its data plane choice (``mode`` and ``reasons``): what the plan engine
        reads."""
        return {c.namespace: c for c in self.namespaces}


# ---------------------------------------------------------------------------------------------
# The verdict


def _score(findings: Iterable[Finding]) -> tuple[int, float]:
    raw = BASE_SCORE + sum(f.weight for f in findings)
    return max(0, min(100, round(raw))), raw


def assess_fit(ctx: RuleContext, rules: Sequence[Rule], l7_codes: Iterable[str],
               readiness: Sequence[Finding] = (),
               waypoint_codes: Collection[str] = ()) -> Assessment:
    """Run the fit ``rules`` and build the assessment. ``l7_codes`` are the rules whose objects
    call for an L7 proxy (a waypoint in ambient). ``readiness`` are the ambient readiness
    findings for every namespace judged as ambient (:func:`ambient_candidates`): a namespace
    with one is not recommended ambient, except for ``waypoint_codes`` findings, which the
    recommended waypoint resolves and the reasons name as what must change first."""
    profile = ctx.profile if isinstance(ctx.profile, Profile) else Profile()
    ctx = replace(ctx, profile=profile)
    by_rule = [rule.check(ctx) for rule in rules]
    findings = [f for found in by_rule for f in found]
    score, raw = _score(findings)
    titles = {r.info.code: r.info.title for r in rules}
    factors = tuple(Factor(f.code, titles.get(f.code, f.code), f.value, f.threshold, f.weight,
                           f.message, f.objects, f.fix) for f in findings)
    codes = {f.code for f in findings if f.weight}
    nodes = node_count(ctx.inventory, profile)
    choices = recommend_dataplane(ctx.inventory, findings, titles, set(l7_codes), nodes[0],
                                  ctx.root_namespace, readiness, waypoint_codes)
    return Assessment(
        verdict=verdict_for(score),
        score=score,
        raw_score=raw,
        factors=factors,
        unknowns=_what_if(ctx, rules, by_rule, profile),
        alternatives=_alternatives(codes, profile),
        namespaces=choices,
        costs=estimate_costs(ctx.inventory, choices, profile, nodes, ctx.root_namespace),
        profile=profile,
    )


def _what_if(ctx: RuleContext, rules: Sequence[Rule], by_rule: Sequence[Sequence[Finding]],
             profile: Profile) -> tuple[Unknown, ...]:
    """What each answer to each unanswered question would make of the score. ``by_rule`` are
    each rule's findings with ``profile``: only the rules that read an answer
    (``Rule.answers``) run again, the others' findings stand (the inventory-wide rules would
    otherwise run once per answer)."""
    unknowns = []
    for name, question, answers in QUESTIONS:
        if getattr(profile, name) is not None:
            continue
        outcomes = []
        for value, label in answers:
            answered = replace(ctx, profile=replace(profile, **{name: value}))
            score, _ = _score(f for rule, found in zip(rules, by_rule, strict=True)
                              for f in (rule.check(answered) if name in rule.answers else found))
            outcomes.append(Outcome(label, score, verdict_for(score)))
        unknowns.append(Unknown(name, question, tuple(outcomes)))
    return tuple(unknowns)


def _alternatives(codes: set[str], profile: Profile) -> tuple[Alternative, ...]:
    """The article's lighter options when the cluster is small or needs encryption only."""
    found: list[Alternative] = []
    if "MP101" in codes or "MP108" in codes:
        found.append(Alternative(
            "NetworkPolicy plus application-level TLS",
            "Default-deny NetworkPolicies limit who can connect and TLS in each app encrypts; "
            "no proxies or control plane, but every app handles its own certificates.",
        ))
    if "MP108" in codes:
        caveat = (" It encrypts node to node but gives no per-workload mTLS identity: check "
                  "it satisfies the compliance requirement.") if profile.compliance_mtls else ""
        found.append(Alternative(
            "CNI with WireGuard encryption (e.g. Cilium)",
            "If all you want is encryption: the CNI encrypts pod traffic transparently, "
            "without a proxy per pod and without L7 features." + caveat,
        ))
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# Data plane per namespace


def ambient_candidates(inventory: Inventory, root_namespace: str) -> frozenset[str]:
    """The namespaces the data-plane choice could put in ambient mode: every namespace but
    Kubernetes' own and Istio's root."""
    names = {n.name for n in inventory.namespaces} | {w.namespace for w in inventory.workloads}
    return frozenset(n for n in names if not is_system_namespace(n, root_namespace))


def recommend_dataplane(inventory: Inventory, findings: Sequence[Finding],
                        titles: Mapping[str, str], l7_codes: set[str], nodes: int,
                        root_namespace: str = "istio-system",
                        readiness: Sequence[Finding] = (),
                        waypoint_codes: Collection[str] = ()) -> tuple[DataplaneChoice, ...]:
    """Ambient by default; sidecar where existing L7 policy is complex or an ambient readiness
    finding says ambient cannot take the configuration; a waypoint only for namespaces or
    service accounts whose services need L7 features, naming the features. ``nodes`` sizes
    DaemonSets."""
    l7: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    accounts: dict[str, set[str | None]] = defaultdict(set)
    for f in findings:
        if f.code not in l7_codes:
            continue
        feature = f"{f.code} {titles.get(f.code, '')}".strip()
        for key in f.objects:
            for namespace, account in _l7_targets(inventory, key):
                l7[namespace][key].add(feature)
                accounts[namespace].add(account)
    pods = _pods_by_namespace(inventory, nodes)
    blockers: dict[str, list[str]] = defaultdict(list)
    changes: dict[str, list[str]] = defaultdict(list)
    for f in sorted(readiness):
        (changes if f.code in waypoint_codes else blockers)[f.namespace].append(
            f"{f.code} {f.message}")
    infrastructure = _infrastructure_notes(inventory)
    choices = []
    for namespace in sorted(pods):
        if is_system_namespace(namespace, root_namespace):
            continue
        objects = l7.get(namespace, {})
        features = tuple(sorted({feat for feats in objects.values() for feat in feats}))
        waypoint = None
        if objects:
            sas = accounts[namespace]
            waypoint = Waypoint(namespace,
                                () if None in sas else tuple(sorted(str(a) for a in sas)),
                                features, tuple(sorted(objects)))
        choice = _choose(inventory, namespace, pods[namespace], waypoint,
                         tuple(blockers.get(namespace, ())), tuple(changes.get(namespace, ())))
        if namespace in infrastructure:
            # Say where the assessment and the rollout plan differ, so neither surprises.
            choice = replace(choice, reasons=(*choice.reasons, infrastructure[namespace]))
        choices.append(choice)
    return tuple(choices)


def _infrastructure_notes(inventory: Inventory) -> dict[str, str]:
    """Namespaces holding an ingress controller or Prometheus: the rollout plan keeps them
    outside the mesh by default (their callers get port exceptions instead)."""
    roles: dict[str, set[str]] = defaultdict(set)
    for w in inventory.workloads:
        if (role := inventory.roles.infrastructure(w)) is not None:
            roles[w.namespace].add(f"{role} {w.name}")
    return {ns: (f"the rollout plan keeps this namespace outside the mesh by default (holds "
                 f"{', '.join(sorted(found))}) and gives its callers port exceptions; "
                 "enrolling it here is the alternative")
            for ns, found in roles.items()}


def _choose(inventory: Inventory, namespace: str, pods: int, waypoint: Waypoint | None,
            blockers: tuple[str, ...], changes: tuple[str, ...] = ()) -> DataplaneChoice:
    ns = inventory.namespace_index.get(namespace)
    existing_sidecar = ns is not None and ns.enrollment == SIDECAR
    reasons: list[str] = []
    if blockers:
        reasons.append("ambient cannot take: " + "; ".join(blockers)
                       + " (change it to move to ambient; docs/rules.md says how)")
    if existing_sidecar and waypoint and len(waypoint.objects) >= COMPLEX_L7_OBJECTS:
        reasons.append(f"existing sidecar namespace with complex L7 policy "
                       f"({len(waypoint.objects)} objects: {', '.join(waypoint.features)}); "
                       "sidecar is the safer choice")
    if reasons:
        return DataplaneChoice(namespace, SIDECAR, tuple(reasons), pods, waypoint, blockers)
    reasons.append("ambient is the default starting point: ztunnel on each node gives L4 mTLS "
                   "without a proxy per pod")
    if waypoint is None:
        reasons.append("no L7 features needed: no waypoint")
    else:
        who = (f"service accounts {', '.join(waypoint.service_accounts)}"
               if waypoint.service_accounts else "the whole namespace")
        reasons.append(f"waypoint for {who}: {', '.join(waypoint.features)}")
    if changes:
        reasons.append("before enrolling it in ambient: " + "; ".join(changes))
    return DataplaneChoice(namespace, AMBIENT, tuple(reasons), pods, waypoint, blockers)


def _l7_targets(inventory: Inventory, key: str) -> list[tuple[str, str | None]]:
    """``(namespace, service account)`` pairs an L7 object needs a proxy for; the account is
    ``None`` when the object applies to its whole namespace. Objects applied at an ingress
    gateway need no waypoint and give nothing."""
    parts = key.split("/")
    if len(parts) != 3:
        return []  # e.g. Flagger canaries, known by count only
    kind, namespace, name = parts
    service = inventory.service_index.get((namespace, name))
    if kind == "Service" and service is not None:
        return _service_accounts(inventory, service)
    # Found through indexes: a cluster may hold an L7 object per Service, each asked here.
    workload = inventory.workload_of(key)
    if workload is not None:
        return [(namespace, workload.service_account)]
    ref = ObjectRef(kind, namespace, name)
    policy = inventory.istio_index.get(ref)
    if policy is not None:
        return _policy_targets(inventory, policy)
    route = inventory.route_index.get(ref)
    if route is not None and any(p.kind == "Service" for p in route.parents):
        return [t for b in route.backends
                for svc in [inventory.service_index.get((b.namespace, b.service))]
                if svc is not None for t in _service_accounts(inventory, svc)]
    return []


def _policy_targets(inventory: Inventory, policy: PolicyObject) -> list[tuple[str, str | None]]:
    namespace = policy.ref.namespace
    spec = policy.spec
    if policy.ref.kind == "VirtualService":
        gateways = spec.get("gateways")
        if isinstance(gateways, list) and gateways and "mesh" not in gateways:
            return []
        hosts = spec.get("hosts")
        return _host_targets(inventory, namespace, hosts if isinstance(hosts, list) else [])
    if policy.ref.kind == "DestinationRule":
        return _host_targets(inventory, namespace, [spec.get("host")])
    refs = spec.get("targetRefs")
    if isinstance(refs, list) and refs:
        services = [inventory.service_index.get((namespace, str(raw.mapping(r).get("name"))))
                    for r in refs if raw.mapping(r).get("kind") == "Service"]
        found = [t for s in services if s is not None for t in _service_accounts(inventory, s)]
        return found or [(namespace, None)]
    labels = raw.mapping(raw.mapping(spec.get("selector")).get("matchLabels"))
    if not labels:
        return [(namespace, None)]
    return [(namespace, w.service_account) for w in inventory.workloads
            if w.namespace == namespace and _selects(labels, w)]


def _host_targets(inventory: Inventory, namespace: str,
                  hosts: list[Any]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for host in hosts:
        if not isinstance(host, str) or "*" in host:
            continue
        labels = host.split(".")
        target_ns = labels[1] if len(labels) > 1 else namespace
        service = inventory.service_index.get((target_ns, labels[0]))
        if service is not None:
            found.extend(_service_accounts(inventory, service))
    return found


def _service_accounts(inventory: Inventory, service: Service) -> list[tuple[str, str | None]]:
    workloads = [inventory.workload_index[r] for r in service.selects
                 if r in inventory.workload_index]
    if not workloads:
        return [(service.namespace, None)]
    return [(service.namespace, w.service_account) for w in workloads]


def _selects(labels: Mapping[str, Any], workload: Workload) -> bool:
    return all(workload.pod_labels.get(str(k)) == v for k, v in labels.items())


# ---------------------------------------------------------------------------------------------
# Costs


def node_count(inventory: Inventory, profile: Profile) -> tuple[int, str]:
    """The node count and where it comes from: ``--nodes`` (or the profile) wins over the Node
    objects seen; with neither it is unknown and counted as 1, and the source says so."""
    if profile.nodes is not None:
        return profile.nodes, "--nodes or profile cluster.nodes"
    if inventory.nodes:
        return len(inventory.nodes), "Node objects"
    return 1, NODES_UNKNOWN


#: :func:`node_count`'s source when nothing gives the node count.
NODES_UNKNOWN: Final = ("unknown: no Node objects, no --nodes and no cluster.nodes in the profile; "
                        "counted as 1, per-node figures scale with the real count")


def _pods_by_namespace(inventory: Inventory, nodes: int) -> dict[str, int]:
    """Pods that would join the mesh, per namespace: hostNetwork pods never get a proxy."""
    pods: dict[str, int] = defaultdict(int)
    for w in inventory.workloads:
        if not w.host_network:
            pods[w.namespace] += w.pods(nodes)
    return dict(pods)


class _Pricing:
    """The lines of a cost option at the profile's per-unit requests, each naming its basis:
    every option prices its components alike, so they compare line by line."""

    def __init__(self, profile: Profile, nodes: int) -> None:
        self.profile = profile
        self.nodes = nodes

    def _line(self, component: str, count: int, basis: str) -> CostLine:
        cost = self.profile.costs[component]
        where = ("profile costs" if component in self.profile.costs_from_profile
                 else COST_BASIS[component])
        return CostLine(component, count, count * cost.cpu_millicores,
                        round(count * cost.memory_mib, 1),
                        f"{cost.cpu_millicores}m CPU, {cost.memory_mib:g} MiB each ({where}); "
                        + basis)

    def sidecars(self, pods: int) -> CostLine:
        """A sidecar in each of ``pods``."""
        return self._line("sidecar", pods, "one per application pod")

    def ztunnels(self, ambient: bool) -> CostLine:
        """ztunnel on every node once a namespace is ambient (``ambient``), else none."""
        return self._line("ztunnel", self.nodes if ambient else 0,
                          f"one per node, {self.nodes} node(s)")

    def waypoints(self, count: int) -> CostLine:
        """``count`` waypoint proxies."""
        return self._line("waypoint", count, "one per namespace or service account needing L7")

    def istiod(self) -> CostLine:
        """The control plane, in every option."""
        return self._line("istiod", 1, "one replica")


def estimate_costs(inventory: Inventory, choices: Sequence[DataplaneChoice], profile: Profile,
                   node_info: tuple[int, str],
                   root_namespace: str = "istio-system") -> CostEstimate:
    """Resources each option adds: every application pod with a sidecar; ambient's ztunnel per
    node plus the waypoints; and the recommended per-namespace mix. istiod is in all three.
    ``node_info`` is :func:`node_count`'s answer."""
    nodes, nodes_source = node_info
    price = _Pricing(profile, nodes)
    meshed = sum(c.pods for c in choices)
    waypoints = sum(c.waypoint.count for c in choices if c.waypoint is not None)
    mix_sidecars = sum(c.pods for c in choices if c.mode == SIDECAR)
    mix_waypoints = sum(c.waypoint.count for c in choices
                        if c.mode == AMBIENT and c.waypoint is not None)
    any_ambient = any(c.mode == AMBIENT for c in choices)
    options = (
        CostOption(SIDECAR, (price.sidecars(meshed), price.istiod())),
        CostOption(AMBIENT, (price.ztunnels(True), price.waypoints(waypoints), price.istiod())),
        CostOption("recommended", (price.sidecars(mix_sidecars), price.ztunnels(any_ambient),
                                   price.waypoints(mix_waypoints), price.istiod())),
    )
    all_pods = sum(w.pods(nodes) for w in inventory.workloads)
    assumptions = (
        f"pods = sum of replicas (Jobs/CronJobs: parallelism; DaemonSets x {nodes} node(s)); "
        f"{all_pods} in total, {meshed} in application namespaces without hostNetwork",
        f"nodes: {nodes} ({nodes_source})",
        f"system namespaces ({', '.join(sorted(SYSTEM_NAMESPACES | {root_namespace}))}) and "
        "hostNetwork pods are never enrolled",
        "figures are requests (what the scheduler reserves); real use depends on traffic",
    )
    return CostEstimate(all_pods, meshed, nodes, nodes_source, options, assumptions)


#: The name of :func:`plan_cost`'s option.
PLAN_COST = "plan"


def plan_cost(inventory: Inventory, fates: CallerFates,
              assessment: Assessment) -> tuple[CostOption, tuple[str, ...]]:
    """What the mesh a plan leaves adds, priced as :func:`estimate_costs` prices the
    assessment's options: a sidecar in each pod of the workloads the plan puts in a sidecar
    namespace (opt-outs, hostNetwork pods and Istio gateways, proxies themselves, get none),
    ztunnel on every node once a namespace is ambient, the waypoints the assessment found its
    ambient namespaces need (the plan does not deploy them), and istiod. ``fates`` are the
    plan's (its namespaces' data planes, labels already there included).

    With it, the notes a plan adds when the figure rests on a node count nothing gave (ztunnel
    or a meshed DaemonSet counted for one node)."""
    modes = fates.members.modes
    nodes = assessment.costs.nodes
    price = _Pricing(assessment.profile, nodes)
    meshed = [w for w in inventory.workloads
              if modes.get(w.namespace) == SIDECAR and fates.enforces(w.ref.key)]
    ambient = {ns for ns, mode in modes.items() if mode == AMBIENT}
    waypoints = sum(c.waypoint.count for c in assessment.namespaces
                    if c.namespace in ambient and c.waypoint is not None)
    cost = CostOption(PLAN_COST, (price.sidecars(sum(w.pods(nodes) for w in meshed)),
                                  price.ztunnels(bool(ambient)), price.waypoints(waypoints),
                                  price.istiod()))
    per_node = ambient or any(w.ref.kind == "DaemonSet" for w in meshed)
    if assessment.costs.nodes_source != NODES_UNKNOWN or not per_node:
        return cost, ()
    return cost, ("The cost counts 1 node: the input has no Node objects, and neither --nodes "
                  "nor the profile's cluster.nodes was given (ztunnel runs on every node, and "
                  "so does a DaemonSet's pod). Give --nodes N for the real figure.",)
