"""The inventory: every object of a cluster that the later steps need, typed.

The inventory is built by :func:`planner.domain.inventory_builder.build_inventory` from raw
documents (manifests or a live scan). It keeps intended enrollment (namespace labels, pod-template
annotations) and actual enrollment (what the Pods show) apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from functools import cached_property
from typing import NamedTuple, TypeVar

from planner.domain.diagnostics import Diagnostic, Source
from planner.domain.roles import WorkloadRoles
from planner.domain.value import value_class

#: Workload kinds the planner understands, in the order they are reported.
WORKLOAD_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "Pod",
    "Rollout",
)

#: Istio API groups; any served version is accepted.
ISTIO_GROUPS = frozenset(
    {"security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io"}
)

SIDECAR_INJECT_ANNOTATION = "sidecar.istio.io/inject"
SIDECAR_INJECT_LABEL = "sidecar.istio.io/inject"
REWRITE_PROBES_ANNOTATION = "sidecar.istio.io/rewriteAppHTTPProbers"
SIDECAR_STATUS_ANNOTATION = "sidecar.istio.io/status"
AMBIENT_REDIRECTION_ANNOTATION = "ambient.istio.io/redirection"
PROXY_CONTAINER = "istio-proxy"


class ObjectRef(NamedTuple):
    """A Kubernetes object's identity. ``namespace`` is ``""`` for cluster-scoped kinds.

    A named tuple rather than a dataclass: every edge, index and lookup hashes references
    (10^5 times on a 10,000-service cluster), and a tuple hashes, compares and is built in C.
    It orders by kind, namespace, name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind} {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"

    @property
    def key(self) -> str:
        """A compact, stable key: ``Kind/namespace/name`` (``Kind/name`` when cluster-scoped)."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @classmethod
    def from_key(cls, key: str) -> ObjectRef | None:
        """The reference whose :attr:`key` is ``key``; None for text that is no object key.
        Kinds and names hold no ``/``, so the parts are unambiguous."""
        parts = key.split("/")
        if len(parts) == 2:
            ref = cls(parts[0], "", parts[1])
        elif len(parts) == 3:
            ref = cls(parts[0], parts[1], parts[2])
        else:
            return None
        # ``Kind//name`` splits in three but is no key: a cluster-scoped key has one slash.
        return ref if ref.key == key else None


@value_class
class Namespace:
    """A namespace and its mesh labels. ``declared`` is False when only objects in it were seen."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    declared: bool = True
    source: Source | None = None

    @property
    def injection(self) -> str | None:
        """The ``istio-injection`` label value (``enabled``/``disabled``), if any."""
        return self.labels.get("istio-injection")

    @property
    def revision(self) -> str | None:
        """The ``istio.io/rev`` label value, if any."""
        return self.labels.get("istio.io/rev")

    @property
    def dataplane_mode(self) -> str | None:
        """The ``istio.io/dataplane-mode`` label value (``ambient``/``none``), if any."""
        return self.labels.get("istio.io/dataplane-mode")

    @property
    def use_waypoint(self) -> str | None:
        """The ``istio.io/use-waypoint`` label value, if any."""
        return self.labels.get("istio.io/use-waypoint")

    @property
    def enrollment(self) -> str:
        """Intended enrollment from labels: ``sidecar``, ``ambient`` or ``none``.

        Istio's injector gives ``istio-injection`` precedence over ``istio.io/rev``; an explicit
        ``disabled`` wins over a revision label.
        """
        if self.injection == "disabled":
            return "none"
        if self.injection == "enabled" or self.revision:
            return "sidecar"
        if self.dataplane_mode == "ambient":
            return "ambient"
        return "none"


@value_class
class ContainerPort:
    """A port a container declares."""

    container_port: int
    name: str = ""
    protocol: str = "TCP"


@value_class
class EnvVar:
    """One ``env`` entry: a literal value or a reference (Secret refs keep only the name)."""

    name: str
    value: str | None = None
    config_map: str | None = None
    config_map_key: str | None = None
    secret: str | None = None
    field_ref: str | None = None


@value_class
class EnvFrom:
    """One ``envFrom`` entry: every key of a ConfigMap or Secret, with an optional prefix."""

    kind: str  # "ConfigMap" or "Secret"
    name: str
    prefix: str = ""


@value_class
class Probe:
    """A kubelet probe. ``handler`` is ``http``, ``tcp``, ``grpc`` or ``exec``."""

    kind: str  # liveness, readiness, startup
    handler: str
    port: int | str | None = None
    path: str | None = None


@value_class
class VolumeMount:
    """A mounted volume; ``config_map``/``secret`` name the object behind it, if any."""

    volume: str
    mount_path: str
    config_map: str | None = None
    secret: str | None = None


@value_class
class Container:
    """A container or init container of a pod template."""

    name: str
    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    env: tuple[EnvVar, ...] = ()
    env_from: tuple[EnvFrom, ...] = ()
    mounts: tuple[VolumeMount, ...] = ()
    probes: tuple[Probe, ...] = ()
    run_as_user: int | None = None


@value_class
class PodState:
    """What the running Pods of a workload show (only known from exports of a live cluster)."""

    pods: int = 0
    sidecar_injected: int = 0
    ambient_redirected: int = 0


@value_class
class RunningPod:
    """A Pod the input holds (a live scan, or a ``kubectl get pods -o yaml`` dump): the
    workload it runs for and the IPs it holds. Flow logs (Hubble) name pods and IPs; these
    records map them to workloads by the Pods' own ownerReferences, not by guessing."""

    ref: ObjectRef
    #: The workload of the inventory the Pod counts toward (its top controller through
    #: ReplicaSet or Job), or the Pod itself when its controller is not in the input.
    workload: ObjectRef
    #: ``status.podIPs`` (or ``status.podIP``). Empty for hostNetwork Pods, whose address is
    #: their node's and names no pod.
    ips: tuple[str, ...] = ()


@value_class
class Workload:
    """A workload: a controller with a pod template, or a bare Pod."""

    ref: ObjectRef
    replicas: int = 1
    labels: Mapping[str, str] = field(default_factory=dict)
    #: The controller's own annotations (``metadata.annotations``), not its pods'.
    annotations: Mapping[str, str] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    #: The controller's own pod selector (``spec.selector.matchLabels``; a
    #: ReplicationController's ``spec.selector``): it keeps selecting the pods of every version
    #: the controller rolls out, whatever version labels the template carries. Empty for bare
    #: Pods, Jobs and CronJobs (their selectors are generated).
    selector: Mapping[str, str] = field(default_factory=dict)
    service_account: str = "default"
    host_network: bool = False
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    run_as_user: int | None = None
    observed: PodState | None = None
    source: Source | None = None

    @property
    def namespace(self) -> str:
        """The workload's namespace."""
        return self.ref.namespace

    @property
    def name(self) -> str:
        """The workload's name."""
        return self.ref.name

    @property
    def inject_opt(self) -> str | None:
        """The pod-level injection override (label wins over annotation, as in Istio)."""
        return self.pod_labels.get(SIDECAR_INJECT_LABEL) or self.pod_annotations.get(
            SIDECAR_INJECT_ANNOTATION
        )

    @property
    def is_batch(self) -> bool:
        """True for Jobs and CronJobs, whose sidecars historically kept them from completing."""
        return self.ref.kind in ("Job", "CronJob")

    @property
    def all_containers(self) -> tuple[Container, ...]:
        """Init containers first, then containers."""
        return self.init_containers + self.containers

    def pods(self, nodes: int) -> int:
        """Pods it runs on ``nodes`` nodes: its replicas (a Job's or CronJob's parallelism),
        one per node for a DaemonSet."""
        return self.replicas * nodes if self.ref.kind == "DaemonSet" else self.replicas


@value_class
class ServicePort:
    """A Service port. ``target_port`` is a number or a container port name."""

    port: int
    name: str = ""
    protocol: str = "TCP"
    target_port: int | str | None = None
    app_protocol: str | None = None
    node_port: int | None = None


@value_class
class Service:
    """A Service and the workloads its selector picks."""

    ref: ObjectRef
    type: str = "ClusterIP"
    headless: bool = False
    selector: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[ServicePort, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    external_name: str | None = None
    selects: tuple[ObjectRef, ...] = ()
    source: Source | None = None

    @property
    def namespace(self) -> str:
        """The Service's namespace."""
        return self.ref.namespace

    @property
    def name(self) -> str:
        """The Service's name."""
        return self.ref.name


@value_class
class ConfigMap:
    """A ConfigMap's string data (values may hold service addresses)."""

    ref: ObjectRef
    data: Mapping[str, str] = field(default_factory=dict)
    source: Source | None = None


@value_class
class BackendRef:
    """A reference to a Service port from a route, ingress, webhook or APIService."""

    namespace: str
    service: str
    port: int | str | None = None
    path: str | None = None
    weight: int | None = None


@value_class
class Route:
    """An Ingress, a Gateway API route, or a similar entry object, with its backends."""

    ref: ObjectRef
    api_version: str
    class_name: str | None = None
    backends: tuple[BackendRef, ...] = ()
    parents: tuple[ObjectRef, ...] = ()
    spec: Mapping[str, object] = field(default_factory=dict)
    source: Source | None = None


@value_class
class ApiServerCallee:
    """A webhook configuration or APIService: services the API server itself calls."""

    ref: ObjectRef
    backends: tuple[BackendRef, ...] = ()
    source: Source | None = None


@value_class
class PolicyObject:
    """An object kept with its raw spec: Istio resources, NetworkPolicies, monitors."""

    ref: ObjectRef
    api_version: str
    spec: Mapping[str, object] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    created: str = ""
    source: Source | None = None

    @property
    def group(self) -> str:
        """The API group (``""`` for the core group)."""
        return self.api_version.rpartition("/")[0]


@value_class
class Inventory:
    """Everything a scan found, sorted by identity. Build it with ``build_inventory``."""

    namespaces: tuple[Namespace, ...] = ()
    workloads: tuple[Workload, ...] = ()
    services: tuple[Service, ...] = ()
    config_maps: tuple[ConfigMap, ...] = ()
    secrets: tuple[ObjectRef, ...] = ()
    routes: tuple[Route, ...] = ()
    gateways: tuple[PolicyObject, ...] = ()
    network_policies: tuple[PolicyObject, ...] = ()
    api_server_callees: tuple[ApiServerCallee, ...] = ()
    istio: tuple[PolicyObject, ...] = ()
    monitors: tuple[PolicyObject, ...] = ()
    nodes: tuple[str, ...] = ()
    crds: tuple[str, ...] = ()
    #: Pods the input holds, folded into ``workloads`` but kept to name pods and pod IPs.
    pods: tuple[RunningPod, ...] = ()
    other: Mapping[str, int] = field(default_factory=dict)
    folded: Mapping[str, int] = field(default_factory=dict)
    default_namespace: str = "default"
    diagnostics: tuple[Diagnostic, ...] = ()

    @cached_property
    def namespace_index(self) -> dict[str, Namespace]:
        """Namespaces by name."""
        return {ns.name: ns for ns in self.namespaces}

    @cached_property
    def workload_index(self) -> dict[ObjectRef, Workload]:
        """Workloads by reference."""
        return {w.ref: w for w in self.workloads}

    def workload_of(self, node_id: str) -> Workload | None:
        """The workload whose graph node id (``ref.key``, ``Kind/namespace/name``) is
        ``node_id``; None for any other id."""
        return self._workloads_by_node_id.get(node_id)

    @cached_property
    def _workloads_by_node_id(self) -> dict[str, Workload]:
        # By formatted key: a plan asks about 3 x 10^4 node ids, and parsing each back into a
        # reference cost more than formatting every workload's key once. Ids name namespaced
        # objects only (``Kind/namespace/name``), as the graph's parse of them does.
        return {w.ref.key: w for w in self.workloads if w.ref.namespace}

    @cached_property
    def service_index(self) -> dict[tuple[str, str], Service]:
        """Services by ``(namespace, name)``."""
        # ``ref[1:]`` is (namespace, name): the properties cost a call each, per Service.
        return {s.ref[1:]: s for s in self.services}

    @cached_property
    def config_map_index(self) -> dict[tuple[str, str], ConfigMap]:
        """ConfigMaps by ``(namespace, name)``."""
        return {(c.ref.namespace, c.ref.name): c for c in self.config_maps}

    @cached_property
    def istio_index(self) -> dict[ObjectRef, PolicyObject]:
        """Istio objects by reference (the first of a reference, in ``istio``'s order)."""
        found: dict[ObjectRef, PolicyObject] = {}
        for obj in self.istio:
            found.setdefault(obj.ref, obj)
        return found

    @cached_property
    def route_index(self) -> dict[ObjectRef, Route]:
        """Routes (Ingresses, HTTPRoutes and the like) by reference (the first of a
        reference, in ``routes``' order)."""
        found: dict[ObjectRef, Route] = {}
        for route in self.routes:
            found.setdefault(route.ref, route)
        return found

    @cached_property
    def workloads_by_namespace(self) -> dict[str, tuple[Workload, ...]]:
        """Workloads by namespace, each group sorted as ``workloads`` is."""
        return _by_namespace(self.workloads)

    @cached_property
    def services_by_namespace(self) -> dict[str, tuple[Service, ...]]:
        """Services by namespace, each group sorted as ``services`` is."""
        return _by_namespace(self.services)

    @cached_property
    def roles(self) -> WorkloadRoles:
        """What part each workload plays beside the application (Istio gateway, ingress
        controller, Prometheus), worked out once per workload for every stage that asks."""
        return WorkloadRoles()

    @cached_property
    def services_of(self) -> dict[ObjectRef, tuple[Service, ...]]:
        """The Services whose selector picks each workload (workloads no Service selects are
        left out)."""
        found: dict[ObjectRef, list[Service]] = {}
        for svc in self.services:
            for ref in svc.selects:
                found.setdefault(ref, []).append(svc)
        return {ref: tuple(services) for ref, services in found.items()}

    def source_of(self, key: str) -> Source | None:
        """Where the object of ``key`` (``ObjectRef.key``; ``Namespace/<name>`` for a
        namespace) came from; None when the input does not hold it, or holds it without a
        source: how a finding about an object is traced back to a file and line."""
        ref = ObjectRef.from_key(key)
        if ref is None:
            return None
        # As one index of every group would answer, a later group winning for a reference
        # two objects share: the small groups first, then ConfigMaps, Services, workloads and
        # namespaces through indexes the graph and the plan build anyway (workloads by node
        # id, which is the key). A report looks up a handful of objects: indexing all 28,000
        # of a 10,000-service cluster by reference again cost 15-25 ms.
        found = self._other_sources.get(ref)
        if found is not None:
            return found
        place = (ref.namespace, ref.name)
        for obj in (self.config_map_index.get(place), self.service_index.get(place),
                    self.workload_of(key)):
            if obj is not None and obj.ref == ref and obj.source is not None:
                return obj.source
        namespace = self.namespace_index.get(ref.name)
        if namespace is not None and ref == ("Namespace", "", namespace.name):
            return namespace.source
        return None

    @cached_property
    def _other_sources(self) -> dict[ObjectRef, Source]:
        """The sources of the objects of the groups after workloads, Services and ConfigMaps,
        by reference (a later group wins)."""
        return {obj.ref: obj.source
                for group in (self.routes, self.gateways, self.network_policies,
                              self.api_server_callees, self.istio, self.monitors)
                for obj in group if obj.source is not None}

    def istio_of_kind(self, kind: str) -> tuple[PolicyObject, ...]:
        """Istio objects of one kind (e.g. ``PeerAuthentication``), sorted."""
        return tuple(o for o in self.istio if o.ref.kind == kind)

    def pods_total(self) -> int:
        """Pods the cluster runs: the sum of replicas (a CronJob or Job counts its parallelism),
        a DaemonSet's times the Node objects (one pod when there are none), as the cost
        estimate counts them."""
        nodes = max(len(self.nodes), 1)
        return sum(w.pods(nodes) for w in self.workloads)


_Namespaced = TypeVar("_Namespaced", Workload, Service)


def _by_namespace(objects: tuple[_Namespaced, ...]) -> dict[str, tuple[_Namespaced, ...]]:
    """``objects`` grouped by namespace, each group in their order."""
    found: dict[str, list[_Namespaced]] = {}
    for obj in objects:
        found.setdefault(obj.namespace, []).append(obj)
    return {ns: tuple(group) for ns, group in found.items()}
