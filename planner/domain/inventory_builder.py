"""Turn raw Kubernetes documents into an :class:`~planner.domain.inventory.Inventory`.

Pure: it takes parsed mappings and returns data. Exports of a live cluster carry controller
children (ReplicaSets, Pods, Endpoints); they are folded into their owners so a Deployment with
its ReplicaSet and three Pods is one workload with three running pods.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any, Final, NamedTuple, Protocol, TypeVar

from planner.domain.diagnostics import Diagnostic, Severity, Source
from planner.domain.inventory import (
    AMBIENT_REDIRECTION_ANNOTATION,
    ISTIO_GROUPS,
    PROXY_CONTAINER,
    SIDECAR_STATUS_ANNOTATION,
    ApiServerCallee,
    BackendRef,
    ConfigMap,
    Container,
    ContainerPort,
    EnvFrom,
    EnvVar,
    Inventory,
    Namespace,
    ObjectRef,
    PodState,
    PolicyObject,
    Probe,
    Route,
    RunningPod,
    Service,
    ServicePort,
    VolumeMount,
    Workload,
)
from planner.domain.redact import redact_map, redact_strings, redact_value, redact_words

#: Kinds that have no namespace (kubectl learns this from discovery; these are the built-ins
#: and the cluster-scoped CRDs a mesh assessment meets).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "APIService",
        "PriorityClass",
        "IngressClass",
        "GatewayClass",
        "RuntimeClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "ComponentStatus",
        "CertificateSigningRequest",
        "ClusterIssuer",
        "PodSecurityPolicy",
    }
)

#: Controller-made children folded into their owner (or dropped as status noise), with a count.
_NOISE_KINDS = frozenset({"Endpoints", "EndpointSlice", "Event", "ControllerRevision", "Lease"})

_MONITOR_GROUPS = frozenset({"monitoring.coreos.com"})
_GATEWAY_API_GROUP = "gateway.networking.k8s.io"
_ROUTE_KINDS = frozenset({"HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute"})


class RawObject(Protocol):
    """Anything with a parsed body and where it came from (e.g. a ``RawDocument``)."""

    @property
    def source(self) -> Source: ...

    @property
    def body(self) -> Mapping[str, Any]: ...


class InvalidObject(ValueError):
    """A document has a field of the wrong type; the message names the field."""


# ---------------------------------------------------------------------------------------------
# Typed field access: each helper raises InvalidObject naming the path, so a bad document is
# reported once and skipped instead of crashing a later step. The path comes as a parent path
# and a key (``path + key``), joined only when raising: formatting it for every field of every
# object would cost more than checking the field.


def _map(value: Any, path: str, key: str = "") -> Mapping[str, Any]:
    # Exact-type fast paths first: parsers produce dicts and lists, and an ABC isinstance check
    # is slow enough to matter when it runs for every field of every object.
    if type(value) is dict:
        return value
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidObject(f"{path}{key} must be a mapping, got {_type_name(value)}")
    return value


def _list(value: Any, path: str, key: str = "") -> list[Any]:
    if type(value) is list:
        return value
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidObject(f"{path}{key} must be a list, got {_type_name(value)}")
    return value


def _int(value: Any, path: str, key: str = "", default: int | None = None) -> int | None:
    if type(value) is int:
        return value
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidObject(
            f"{path}{key} must be an integer, got {_type_name(value)} {value!r}")
    return value


def _str(value: Any, path: str, key: str = "", default: str = "") -> str:
    if type(value) is str:
        return value
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidObject(f"{path}{key} must be a string, got {_type_name(value)}")
    return value


def _bool(value: Any, path: str, key: str = "") -> bool:
    """A boolean field. ``"false"`` in quotes is a string, which the API server rejects (and
    which ``bool()`` would read as true)."""
    if type(value) is bool:
        return value
    if value is None:
        return False
    raise InvalidObject(
        f"{path}{key}: invalid value {value!r}: must be a boolean (true or false, without "
        f"quotes), got {_type_name(value)}")


#: What the API server admits: ports 1-65535 (a Service's targetPort 0 too: it defaults to
#: the port), replica and parallelism counts an int32 >= 0.
_PORTS: Final = (1, 65535)
_TARGET_PORTS: Final = (0, 65535)
_COUNTS: Final = (0, 2**31 - 1)


def _within(value: int | None, bounds: tuple[int, int], path: str, key: str = "") -> int | None:
    """``value`` when it is absent or within ``bounds``; the API server refuses the rest (a
    negative replica count read as -3 pods and -0.3 vCPU, port 99999 in a PeerAuthentication)."""
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise InvalidObject(f"{path}{key} must be between {bounds[0]} and {bounds[1]}, "
                            f"got {value}")
    return value


def _int_or_str(value: Any, path: str, key: str = "") -> int | str | None:
    if isinstance(value, str):
        if value.isdigit():
            # A port name must contain a letter: the API server rejects "8080" in quotes,
            # and reading it as a name would match no port.
            raise InvalidObject(
                f"{path}{key}: invalid value {value!r}: a port number in quotes; give the "
                "number without quotes or a port name")
        return value
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidObject(
            f"{path}{key} must be a number or a name, got {_type_name(value)}")
    return value


def _str_map(value: Any, path: str, key: str = "") -> dict[str, str]:
    """Labels/annotations/ConfigMap data: keys and values are strings (numbers are stringified,
    as an API server would reject them but hand-written YAML often has them)."""
    mapping = _map(value, path, key)
    for name, item in mapping.items():
        if type(item) is not str or type(name) is not str:
            break
    else:  # all strings, the usual case
        # A parsed document is not changed after the build, so the inventory shares its dict
        # instead of copying ~60,000 of them on a 10,000-service cluster.
        return mapping if type(mapping) is dict else dict(mapping)
    result: dict[str, str] = {}
    for name, item in mapping.items():
        if isinstance(item, (dict, list)):
            raise InvalidObject(f"{path}{key}.{name} must be a string, got {_type_name(item)}")
        result[str(name)] = "" if item is None else str(item)
    return result


def _annotations(meta: Mapping[str, Any], path: str = "") -> Mapping[str, str]:
    """An object's annotations with their secrets redacted (planner.domain.redact)."""
    annotations = meta.get("annotations")
    if annotations is None:  # most objects and pod templates: nothing to check or redact
        return {}
    return redact_map(_str_map(annotations, path, ".metadata.annotations"
                               if path else "metadata.annotations"))


def _type_name(value: Any) -> str:
    return {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        list: "list",
        dict: "mapping",
    }.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------------
# Pod templates


_Volumes = Mapping[str, tuple[str | None, str | None]]


#: The probes a container may have: (kind, key in the container spec).
_PROBE_KEYS = (("liveness", "livenessProbe"), ("readiness", "readinessProbe"),
               ("startup", "startupProbe"))


def _container(raw: Any, path: str, volumes: _Volumes) -> Container:
    """One container; ``volumes`` maps pod volume names to their (ConfigMap, Secret)."""
    c = _map(raw, path)
    ports = []
    for i, p in enumerate(_list(c.get("ports"), path, ".ports")):
        item = f"{path}.ports[{i}]"
        port = _map(p, item)
        ports.append(ContainerPort(
            _within(_int(port.get("containerPort"), item, ".containerPort"), _PORTS, item,
                    ".containerPort") or 0,
            _str(port.get("name"), item, ".name"),
            _str(port.get("protocol"), item, ".protocol", "TCP"),
        ))
    env = tuple([_env_var(e, path, i) for i, e in enumerate(_list(c.get("env"), path, ".env"))])
    env_from: list[EnvFrom] = []
    for i, e in enumerate(_list(c.get("envFrom"), path, ".envFrom")):
        item = f"{path}.envFrom[{i}]"
        entry = _map(e, item)
        prefix = _str(entry.get("prefix"), item, ".prefix")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in entry:
                name = _str(_map(entry[key], item, f".{key}").get("name"), item, f".{key}.name")
                env_from.append(EnvFrom(kind, name, prefix))
    probes = tuple([_probe(p, kind, f"{path}.{key}")
                    for kind, key in _PROBE_KEYS if (p := c.get(key)) is not None])
    security = _map(c.get("securityContext"), path, ".securityContext")
    # Absent lists are common (most containers have no command, args or mounts): skip the
    # empty tuple-building for them, done once per container of the cluster.
    command, args, mounts = c.get("command"), c.get("args"), c.get("volumeMounts")
    return Container(
        name=_str(c.get("name"), path, ".name"),
        image=_str(c.get("image"), path, ".image"),
        ports=tuple(ports),
        env=env,
        env_from=tuple(env_from),
        command=() if command is None else redact_words(
            [_str(a, path, ".command") for a in _list(command, path, ".command")]),
        args=() if args is None else redact_words(
            [_scalar_str(a) for a in _list(args, path, ".args")]),
        probes=probes,
        run_as_user=_int(security.get("runAsUser"), path, ".securityContext.runAsUser"),
        mounts=() if mounts is None else tuple(
            [_mount(m, f"{path}.volumeMounts[{i}]", volumes)
             for i, m in enumerate(_list(mounts, path, ".volumeMounts"))]),
    )


def _mount(raw: Any, path: str, volumes: _Volumes) -> VolumeMount:
    m = _map(raw, path)
    volume = _str(m.get("name"), path, ".name")
    config_map, secret = volumes.get(volume, (None, None))
    return VolumeMount(volume=volume, mount_path=_str(m.get("mountPath"), path, ".mountPath"),
                       config_map=config_map, secret=secret)


def _scalar_str(value: Any) -> str:
    # Args such as ``- 8080`` are numbers in YAML; kubectl would reject them, but their text is
    # what the container would see, so keep it rather than drop a possible address.
    return value if isinstance(value, str) else str(value)


def _env_var(raw: Any, container: str, index: int) -> EnvVar:
    """Entry ``index`` of the ``env`` of the container at path ``container``."""
    # The usual entry, a name and a string value, is built without a helper call or a path:
    # a cluster of 10,000 Services has about 50,000.
    if type(raw) is dict:
        name, value = raw.get("name"), raw.get("value")
        if type(name) is str and type(value) is str and "valueFrom" not in raw:
            return EnvVar(name, redact_value(name, value))
    path = f"{container}.env[{index}]"
    e = _map(raw, path)
    name = _str(e.get("name"), path, ".name")
    value_from = e.get("valueFrom")
    if value_from is not None:
        value_from = _map(value_from, path, ".valueFrom")
        if "configMapKeyRef" in value_from:
            ref = _map(value_from["configMapKeyRef"], path, ".valueFrom.configMapKeyRef")
            return EnvVar(name=name,
                          config_map=_str(ref.get("name"), path, ".configMapKeyRef.name"),
                          config_map_key=_str(ref.get("key"), path, ".configMapKeyRef.key"))
        if "secretKeyRef" in value_from:
            ref = _map(value_from["secretKeyRef"], path, ".valueFrom.secretKeyRef")
            return EnvVar(name=name, secret=_str(ref.get("name"), path, ".secretKeyRef.name"))
        if "fieldRef" in value_from:
            ref = _map(value_from["fieldRef"], path, ".valueFrom.fieldRef")
            return EnvVar(name=name, field_ref=_str(ref.get("fieldPath"), path, ".fieldRef"))
    value = e.get("value")
    if value is None:
        return EnvVar(name=name, value=value)
    if isinstance(value, (dict, list)):
        raise InvalidObject(f"{path}.value must be a string, got {_type_name(value)}")
    return EnvVar(name=name, value=redact_value(name, _scalar_str(value)))


def _probe(raw: Any, kind: str, path: str) -> Probe:
    p = _map(raw, path)
    for handler, key in (("http", "httpGet"), ("tcp", "tcpSocket"), ("grpc", "grpc")):
        if key in p:
            spec = _map(p[key], path, f".{key}")
            return Probe(kind=kind, handler=handler,
                         port=_int_or_str(spec.get("port"), path, f".{key}.port"),
                         path=_str(spec.get("path"), path, f".{key}.path") or None)
    return Probe(kind=kind, handler="exec")


@dataclass(slots=True)
class _PodSpec:
    labels: dict[str, str]
    annotations: Mapping[str, str]
    service_account: str
    host_network: bool
    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...]
    run_as_user: int | None


def _pod_spec(template: Mapping[str, Any], path: str) -> _PodSpec:
    meta = _map(template.get("metadata"), path, ".metadata")
    spec = _map(template.get("spec"), path, ".spec")
    volumes: dict[str, tuple[str | None, str | None]] = {}
    for i, v in enumerate(_list(spec.get("volumes"), path, ".spec.volumes")):
        item = f"{path}.spec.volumes[{i}]"
        vol = _map(v, item)
        cm = _map(vol.get("configMap"), item, ".configMap").get("name")
        secret = _map(vol.get("secret"), item, ".secret").get("secretName")
        volumes[_str(vol.get("name"), item, ".name")] = (
            _str(cm, "configMap.name") or None,
            _str(secret, "secret.secretName") or None,
        )

    def containers(key: str) -> tuple[Container, ...]:
        return tuple([_container(raw, f"{path}.spec.{key}[{i}]", volumes)
                      for i, raw in enumerate(_list(spec.get(key), path, f".spec.{key}"))])

    security = _map(spec.get("securityContext"), path, ".spec.securityContext")
    return _PodSpec(
        labels=_str_map(meta.get("labels"), path, ".metadata.labels"),
        annotations=_annotations(meta, path),
        service_account=_str(spec.get("serviceAccountName") or spec.get("serviceAccount"),
                             path, ".spec.serviceAccountName", "default"),
        host_network=_bool(spec.get("hostNetwork"), path, ".spec.hostNetwork"),
        containers=containers("containers"),
        init_containers=containers("initContainers"),
        run_as_user=_int(security.get("runAsUser"), path, ".spec.securityContext.runAsUser"),
    )


def _template_path(kind: str) -> tuple[tuple[str, ...], str]:
    """Where the pod template sits in each workload kind."""
    if kind == "Pod":
        return (), ""
    if kind == "CronJob":
        return ("spec", "jobTemplate", "spec", "template"), "spec.jobTemplate.spec.template"
    return ("spec", "template"), "spec.template"


def _dig(body: Mapping[str, Any], keys: tuple[str, ...]) -> Mapping[str, Any]:
    node: Mapping[str, Any] = body
    for depth, key in enumerate(keys):
        value = node.get(key)
        # The path is joined only for a non-dict, so the usual walk formats nothing.
        node = value if type(value) is dict else _map(value, ".".join(keys[:depth + 1]))
    return node


def _replicas(kind: str, body: Mapping[str, Any]) -> int:
    spec = _map(body.get("spec"), "spec")
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "Rollout"):
        return _within(_int(spec.get("replicas"), "spec", ".replicas", 1), _COUNTS, "spec",
                       ".replicas") or 0
    if kind == "Job":
        return _within(_int(spec.get("parallelism"), "spec", ".parallelism", 1), _COUNTS,
                       "spec", ".parallelism") or 0
    if kind == "CronJob":
        job = _dig(body, ("spec", "jobTemplate", "spec"))
        return _within(_int(job.get("parallelism"), "spec.jobTemplate.spec", ".parallelism", 1),
                       _COUNTS, "spec.jobTemplate.spec", ".parallelism") or 0
    # A DaemonSet runs one pod per node; the caller multiplies by the node count.
    return 1


# ---------------------------------------------------------------------------------------------
# The builder


@dataclass(slots=True)
class _Entry:
    ref: ObjectRef
    api_version: str
    body: Mapping[str, Any]
    meta: Mapping[str, Any]  # body["metadata"], checked to be a mapping when collected
    source: Source
    #: What the object makes on its own, built when it is collected (see :func:`_made_early`).
    early: _Early | None = None


@dataclass(frozen=True, slots=True)
class _Refused:
    """The message of the :class:`InvalidObject` that building an object early raised; raised
    again where the object is assembled, so that a replaced duplicate reports nothing."""

    message: str


class _ServiceParts(NamedTuple):
    """A Service's own fields; the workloads it selects need the whole input."""

    type: str
    headless: bool
    selector: dict[str, str]
    ports: tuple[ServicePort, ...]
    labels: dict[str, str]
    annotations: Mapping[str, str]
    external_name: str | None


_Early = Workload | ConfigMap | _ServiceParts | _Refused


@dataclass
class _State:
    default_namespace: str
    #: Source file -> the namespace its objects without one land in (--namespace-per-folder).
    file_namespaces: Mapping[str, str] = field(default_factory=dict)
    entries: dict[ObjectRef, _Entry] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def warn(self, source: Source, message: str, severity: Severity = Severity.WARNING) -> None:
        self.diagnostics.append(Diagnostic(source, severity, message))


def build_inventory(
    documents: Iterable[RawObject], default_namespace: str = "default",
    file_namespaces: Mapping[str, str] | None = None,
) -> Inventory:
    """Build the inventory. Objects without ``metadata.namespace`` land in ``default_namespace``,
    as ``kubectl apply`` would place them, or in the namespace ``file_namespaces`` gives their
    source file. Duplicates: the last wins, with a warning. A document with a field of the wrong
    type is skipped with an error diagnostic (see ``invalid_count``)."""
    builder = InventoryBuilder(default_namespace, file_namespaces)
    builder.add(documents)
    return builder.build()


class InventoryBuilder:
    """:func:`build_inventory` for documents handed over in batches, in input order: a scan
    gives each file's documents as soon as they are read, and each object is checked and
    built then, while the next files are still being parsed. What needs the whole input is
    left to :meth:`build`: which of two duplicates wins, folding controller children into
    their owners, the workloads each Service selects, namespaces only referred to."""

    def __init__(self, default_namespace: str = "default",
                 file_namespaces: Mapping[str, str] | None = None) -> None:
        self._state = _State(default_namespace, dict(file_namespaces or {}))

    def add(self, documents: Iterable[RawObject]) -> None:
        """Take the next documents of the input."""
        state = self._state
        for doc in documents:
            _collect(state, doc)

    def build(self) -> Inventory:
        """The inventory of every document added (the builder is used up)."""
        return _assemble(self._state)


def invalid_count(inventory: Inventory) -> int:
    """How many documents the builder skipped as invalid."""
    return sum(1 for d in inventory.diagnostics if d.severity is Severity.ERROR)


def _collect(state: _State, doc: RawObject) -> None:
    body = doc.body
    meta = body.get("metadata")
    kind = body.get("kind")
    api_version = body.get("apiVersion")
    if (type(meta) is not dict and not isinstance(meta, Mapping)) or not isinstance(
        kind, str
    ) or not isinstance(api_version, str):
        state.warn(doc.source, "not a Kubernetes object (needs apiVersion, kind and metadata)",
                   Severity.ERROR)
        return
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        state.warn(doc.source, f"{kind} without metadata.name", Severity.ERROR)
        return
    namespace = meta.get("namespace")
    if kind in CLUSTER_SCOPED_KINDS:
        namespace = ""
    elif namespace is None or namespace == "":
        namespace = state.file_namespaces.get(doc.source.file, state.default_namespace)
    elif not isinstance(namespace, str):
        state.warn(doc.source, f"{kind} {name}: metadata.namespace must be a string",
                   Severity.ERROR)
        return
    ref = ObjectRef(kind, namespace, name)
    previous = state.entries.get(ref)
    if previous is not None:
        state.warn(doc.source, f"duplicate {ref}: this definition replaces the one at "
                               f"{previous.source} (the last one wins, as with kubectl apply)")
    entry = _Entry(ref, api_version, body, meta, doc.source)
    entry.early = _made_early(entry)
    state.entries[ref] = entry


def _made_early(entry: _Entry) -> _Early | None:
    """The record of an object whose record depends on nothing else (the bulk of a cluster:
    workloads, ConfigMaps, Services without what they select), or ``None``. Each is built by
    the function that would build it at assembly, which takes it from here
    (:func:`_early_or`); an early record that assembly does not ask for (the loser of a
    duplicate, a ``Service`` kind of another API group) is only wasted work."""
    kind = entry.ref.kind
    try:
        if kind in _WORKLOAD_KINDS:
            return _workload(entry)
        if kind == "Service":
            return _service_parts(entry)
        if kind == "ConfigMap":
            return _config_map_record(entry)
    except InvalidObject as err:
        return _Refused(str(err))
    return None


_Made = TypeVar("_Made", Workload, ConfigMap, _ServiceParts)


def _early_or(entry: _Entry, build: Callable[[_Entry], _Made], kind: type[_Made]) -> _Made:
    """The record :func:`_made_early` built for ``entry`` with ``build``, else built now;
    raises the :class:`InvalidObject` that building it raised."""
    early = entry.early
    if type(early) is kind:
        return early
    if type(early) is _Refused:
        raise InvalidObject(early.message)
    return build(entry)


_Builder = Callable[["_Assembly", _Entry], None]


@dataclass
class _Assembly:
    state: _State
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    workloads: dict[ObjectRef, Workload] = field(default_factory=dict)
    config_maps: list[ConfigMap] = field(default_factory=list)
    secrets: list[ObjectRef] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    gateways: list[PolicyObject] = field(default_factory=list)
    network_policies: list[PolicyObject] = field(default_factory=list)
    api_callees: list[ApiServerCallee] = field(default_factory=list)
    istio: list[PolicyObject] = field(default_factory=list)
    monitors: list[PolicyObject] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    crds: list[str] = field(default_factory=list)
    other: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    folded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pods: list[_Entry] = field(default_factory=list)
    running: list[RunningPod] = field(default_factory=list)
    replica_sets: list[_Entry] = field(default_factory=list)
    jobs: list[_Entry] = field(default_factory=list)
    service_entries: list[_Entry] = field(default_factory=list)


#: Sort key for objects with a ``ref``: the reference itself, a named tuple compared in C.
_BY_REF = attrgetter("ref")


def _assemble(state: _State) -> Inventory:
    asm = _Assembly(state)
    for entry in state.entries.values():
        try:
            _dispatch(asm, entry)
        except InvalidObject as err:
            state.warn(entry.source, f"{entry.ref}: {err}", Severity.ERROR)
    _fold_children(asm)
    _add_implied_namespaces(asm)
    services = _services(asm)
    return Inventory(
        namespaces=tuple(sorted(asm.namespaces.values(), key=lambda n: n.name)),
        workloads=tuple(sorted(asm.workloads.values(), key=_BY_REF)),
        services=tuple(sorted(services, key=_BY_REF)),
        config_maps=tuple(sorted(asm.config_maps, key=_BY_REF)),
        secrets=tuple(sorted(asm.secrets)),
        routes=tuple(sorted(asm.routes, key=_BY_REF)),
        gateways=tuple(sorted(asm.gateways, key=_BY_REF)),
        network_policies=tuple(sorted(asm.network_policies, key=_BY_REF)),
        api_server_callees=tuple(sorted(asm.api_callees, key=_BY_REF)),
        istio=tuple(sorted(asm.istio, key=_BY_REF)),
        monitors=tuple(sorted(asm.monitors, key=_BY_REF)),
        nodes=tuple(sorted(asm.nodes)),
        crds=tuple(sorted(asm.crds)),
        pods=tuple(sorted(asm.running, key=_BY_REF)),
        other=dict(sorted(asm.other.items())),
        folded=dict(sorted(asm.folded.items())),
        default_namespace=state.default_namespace,
        diagnostics=tuple(sorted(state.diagnostics)),
    )


def _dispatch(asm: _Assembly, entry: _Entry) -> None:
    kind = entry.ref.kind
    group = entry.api_version.rpartition("/")[0]
    if kind == "Pod":
        asm.pods.append(entry)
    elif kind == "ReplicaSet":
        asm.replica_sets.append(entry)
    elif kind == "Job":
        asm.jobs.append(entry)
    elif kind in _WORKLOAD_KINDS:
        asm.workloads[entry.ref] = _early_or(entry, _workload, Workload)
    elif group in ISTIO_GROUPS:
        asm.istio.append(_policy(entry))
    elif kind in _NOISE_KINDS:
        asm.folded[kind] += 1
    elif (builder := _BUILDERS.get(kind)) is not None:
        builder(asm, entry)
    elif group == _GATEWAY_API_GROUP and kind in _ROUTE_KINDS:
        asm.routes.append(_gateway_route(entry))
    elif group in _MONITOR_GROUPS and kind in ("ServiceMonitor", "PodMonitor"):
        asm.monitors.append(_policy(entry))
    else:
        asm.other[kind] += 1


#: Kinds that declare a workload of their own (a ReplicaSet's, Job's or Pod's may be folded
#: into its owner).
_WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicationController",
                             "CronJob", "Rollout"})

#: Kinds whose pods a selector of their own picks (Jobs' and CronJobs' are generated).
_SELECTOR_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Rollout",
                             "ReplicationController"})

def _workload(entry: _Entry, observed: PodState | None = None) -> Workload:
    kind = entry.ref.kind
    keys, path = _template_path(kind)
    template = _dig(entry.body, keys) if keys else entry.body
    pod = _pod_spec(template, path or "pod")
    meta = entry.meta
    return Workload(
        ref=entry.ref,
        replicas=_replicas(kind, entry.body),
        labels=_str_map(meta.get("labels"), "metadata.labels"),
        annotations=_annotations(meta),
        pod_labels=pod.labels,
        pod_annotations=pod.annotations,
        selector=_selector(kind, entry.body),
        service_account=pod.service_account,
        host_network=pod.host_network,
        containers=pod.containers,
        init_containers=pod.init_containers,
        run_as_user=pod.run_as_user,
        observed=observed,
        source=entry.source,
    )


def _selector(kind: str, body: Mapping[str, Any]) -> dict[str, str]:
    """A controller's ``matchLabels`` (a ReplicationController's plain selector map)."""
    spec = body.get("spec")
    selector = spec.get("selector") if isinstance(spec, Mapping) else None
    if not isinstance(selector, Mapping) or kind not in _SELECTOR_KINDS:
        return {}
    if kind == "ReplicationController":
        return _str_map(selector, "spec.selector")
    return _str_map(selector.get("matchLabels"), "spec.selector.matchLabels")


def _policy(entry: _Entry) -> PolicyObject:
    meta = entry.meta
    return PolicyObject(
        ref=entry.ref,
        api_version=entry.api_version,
        spec=redact_strings(_map(entry.body.get("spec"), "spec")),
        labels=_str_map(meta.get("labels"), "metadata.labels"),
        annotations=_annotations(meta),
        created=_str(meta.get("creationTimestamp"), "metadata.creationTimestamp")
        if isinstance(meta.get("creationTimestamp"), str) else "",
        source=entry.source,
    )


def _namespace(asm: _Assembly, entry: _Entry) -> None:
    meta = entry.meta
    name = entry.ref.name
    asm.namespaces[name] = Namespace(
        name=name,
        labels=_str_map(meta.get("labels"), "metadata.labels"),
        annotations=_annotations(meta),
        source=entry.source,
    )


def _service(asm: _Assembly, entry: _Entry) -> None:
    # Built last, by _services, once the workloads its selector may pick are all known.
    asm.service_entries.append(entry)


def _build_service(entry: _Entry, pods: _PodIndex) -> Service:
    parts = _early_or(entry, _service_parts, _ServiceParts)
    return Service(ref=entry.ref, type=parts.type, headless=parts.headless,
                   selector=parts.selector, ports=parts.ports, labels=parts.labels,
                   annotations=parts.annotations, external_name=parts.external_name,
                   selects=_selected(pods, entry.ref.namespace, parts.selector),
                   source=entry.source)


def _target_port(value: Any, item: str) -> int | str | None:
    port = _int_or_str(value, item, ".targetPort")
    return _within(port, _TARGET_PORTS, item, ".targetPort") if isinstance(port, int) else port


def _service_parts(entry: _Entry) -> _ServiceParts:
    meta = entry.meta
    spec = _map(entry.body.get("spec"), "spec")
    ports = []
    for i, raw in enumerate(_list(spec.get("ports"), "spec.ports")):
        item = f"spec.ports[{i}]"
        p = _map(raw, item)
        port = _within(_int(p.get("port"), item, ".port"), _PORTS, item, ".port")
        if port is None:
            raise InvalidObject(f"{item}.port is required")
        ports.append(ServicePort(
            port=port,
            name=_str(p.get("name"), item, ".name"),
            target_port=_target_port(p.get("targetPort"), item),
            protocol=_str(p.get("protocol"), item, ".protocol", "TCP"),
            app_protocol=_str(p.get("appProtocol"), item, ".appProtocol") or None,
            node_port=_int(p.get("nodePort"), item, ".nodePort"),
        ))
    service_type = _str(spec.get("type"), "spec.type", default="ClusterIP")
    return _ServiceParts(
        type=service_type,
        headless=spec.get("clusterIP") == "None",
        selector=_str_map(spec.get("selector"), "spec.selector"),
        ports=tuple(ports),
        labels=_str_map(meta.get("labels"), "metadata.labels"),
        annotations=_annotations(meta),
        external_name=_str(spec.get("externalName"), "spec.externalName") or None,
    )


def _config_map(asm: _Assembly, entry: _Entry) -> None:
    asm.config_maps.append(_early_or(entry, _config_map_record, ConfigMap))


def _config_map_record(entry: _Entry) -> ConfigMap:
    return ConfigMap(ref=entry.ref, data=redact_map(_str_map(entry.body.get("data"), "data")),
                     source=entry.source)


def _secret(asm: _Assembly, entry: _Entry) -> None:
    # Secret data is never read: only the name is kept, to say where addresses may hide.
    asm.secrets.append(entry.ref)


def _ingress(asm: _Assembly, entry: _Entry) -> None:
    spec = _map(entry.body.get("spec"), "spec")
    ns = entry.ref.namespace
    backends: list[BackendRef] = []

    def add(raw: Any, path: str, http_path: str | None = None) -> None:
        b = _map(raw, path)
        if "service" in b:  # networking.k8s.io/v1
            svc = _map(b["service"], f"{path}.service")
            port = _map(svc.get("port"), f"{path}.service.port")
            number = _int(port.get("number"), f"{path}.service.port.number")
            backends.append(BackendRef(
                namespace=ns, service=_str(svc.get("name"), f"{path}.service.name"),
                port=number if number is not None else
                _str(port.get("name"), f"{path}.service.port.name") or None,
                path=http_path))
        elif "serviceName" in b:  # extensions/v1beta1
            backends.append(BackendRef(
                namespace=ns, service=_str(b.get("serviceName"), f"{path}.serviceName"),
                port=_int_or_str(b.get("servicePort"), f"{path}.servicePort"), path=http_path))

    default = spec.get("defaultBackend") or spec.get("backend")
    if default is not None:
        add(default, "spec.defaultBackend")
    for i, rule in enumerate(_list(spec.get("rules"), "spec.rules")):
        http = _map(_map(rule, f"spec.rules[{i}]").get("http"), f"spec.rules[{i}].http")
        for j, p in enumerate(_list(http.get("paths"), f"spec.rules[{i}].http.paths")):
            pm = _map(p, f"spec.rules[{i}].http.paths[{j}]")
            add(pm.get("backend"), f"spec.rules[{i}].http.paths[{j}].backend",
                _str(pm.get("path"), "path") or None)
    meta = entry.meta
    annotations = _annotations(meta)
    class_name = _str(spec.get("ingressClassName"), "spec.ingressClassName") or annotations.get(
        "kubernetes.io/ingress.class")
    asm.routes.append(Route(ref=entry.ref, api_version=entry.api_version, class_name=class_name,
                            backends=tuple(backends), spec=spec, source=entry.source))


def _gateway_route(entry: _Entry) -> Route:
    spec = _map(entry.body.get("spec"), "spec")
    ns = entry.ref.namespace
    parents = tuple(
        ObjectRef(_str(p.get("kind"), "kind", default="Gateway"),
                  _str(p.get("namespace"), "namespace", default=ns), _str(p.get("name"), "name"))
        for i, p in enumerate(_list(spec.get("parentRefs"), "spec.parentRefs"))
        if isinstance(p, Mapping)
    )
    backends = []
    for i, rule in enumerate(_list(spec.get("rules"), "spec.rules")):
        for j, b in enumerate(_list(_map(rule, f"spec.rules[{i}]").get("backendRefs"),
                                    f"spec.rules[{i}].backendRefs")):
            bm = _map(b, f"spec.rules[{i}].backendRefs[{j}]")
            if _str(bm.get("kind"), "kind", default="Service") != "Service":
                continue
            backends.append(BackendRef(
                namespace=_str(bm.get("namespace"), "namespace", default=ns),
                service=_str(bm.get("name"), "name"),
                port=_int(bm.get("port"), f"spec.rules[{i}].backendRefs[{j}].port"),
                weight=_int(bm.get("weight"), f"spec.rules[{i}].backendRefs[{j}].weight"),
            ))
    return Route(ref=entry.ref, api_version=entry.api_version, backends=tuple(backends),
                 parents=parents, spec=spec, source=entry.source)


def _webhooks(asm: _Assembly, entry: _Entry) -> None:
    backends = []
    for i, hook in enumerate(_list(entry.body.get("webhooks"), "webhooks")):
        client = _map(_map(hook, f"webhooks[{i}]").get("clientConfig"),
                      f"webhooks[{i}].clientConfig")
        svc = client.get("service")
        if svc is not None:
            s = _map(svc, f"webhooks[{i}].clientConfig.service")
            backends.append(BackendRef(
                namespace=_str(s.get("namespace"), "namespace"),
                service=_str(s.get("name"), "name"),
                port=_int(s.get("port"), f"webhooks[{i}].clientConfig.service.port", default=443),
                path=_str(s.get("path"), "path") or None,
            ))
    asm.api_callees.append(ApiServerCallee(entry.ref, tuple(backends), entry.source))


def _api_service(asm: _Assembly, entry: _Entry) -> None:
    spec = _map(entry.body.get("spec"), "spec")
    svc = spec.get("service")
    backends: tuple[BackendRef, ...] = ()
    if svc is not None:
        s = _map(svc, "spec.service")
        backends = (BackendRef(namespace=_str(s.get("namespace"), "namespace"),
                               service=_str(s.get("name"), "name"),
                               port=_int(s.get("port"), "spec.service.port", default=443)),)
    asm.api_callees.append(ApiServerCallee(entry.ref, backends, entry.source))


def _crd(asm: _Assembly, entry: _Entry) -> None:
    asm.crds.append(entry.ref.name)


def _node(asm: _Assembly, entry: _Entry) -> None:
    asm.nodes.append(entry.ref.name)


def _network_policy(asm: _Assembly, entry: _Entry) -> None:
    asm.network_policies.append(_policy(entry))


def _gateway(asm: _Assembly, entry: _Entry) -> None:
    if entry.api_version.startswith(_GATEWAY_API_GROUP):
        asm.gateways.append(_policy(entry))
    else:
        asm.other[entry.ref.kind] += 1


_BUILDERS: dict[str, _Builder] = {
    "Namespace": _namespace,
    "Service": _service,
    "ConfigMap": _config_map,
    "Secret": _secret,
    "Ingress": _ingress,
    "ValidatingWebhookConfiguration": _webhooks,
    "MutatingWebhookConfiguration": _webhooks,
    "APIService": _api_service,
    "CustomResourceDefinition": _crd,
    "Node": _node,
    "NetworkPolicy": _network_policy,
    "Gateway": _gateway,
}


# ---------------------------------------------------------------------------------------------
# Folding controller children into their owners


def _controller_owner(entry: _Entry) -> tuple[str, str] | None:
    for owner in _list(entry.meta.get("ownerReferences"), "metadata.ownerReferences"):
        if isinstance(owner, Mapping) and owner.get("controller", True):
            kind, name = owner.get("kind"), owner.get("name")
            if isinstance(kind, str) and isinstance(name, str):
                return kind, name
    return None


def _fold_children(asm: _Assembly) -> None:
    """ReplicaSets and Jobs with a present owner fold into it; Pods count toward their top owner.

    A child whose owner is absent from the input stands as a workload of its own (an export
    filtered by kind, or a bare ReplicaSet).
    """
    top: dict[ObjectRef, ObjectRef] = {}
    for children in (asm.replica_sets, asm.jobs):
        for entry in children:
            owner = _controller_owner(entry)
            owner_ref = (ObjectRef(owner[0], entry.ref.namespace, owner[1])
                         if owner else None)
            if owner_ref is not None and owner_ref in asm.workloads:
                top[entry.ref] = owner_ref
                asm.folded[entry.ref.kind] += 1
            else:
                try:
                    asm.workloads[entry.ref] = _workload(entry)
                except InvalidObject as err:
                    asm.state.warn(entry.source, f"{entry.ref}: {err}", Severity.ERROR)

    states: dict[ObjectRef, list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in asm.pods:
        owner = _controller_owner(entry)
        target: ObjectRef | None = None
        if owner is not None:
            ref = ObjectRef(owner[0], entry.ref.namespace, owner[1])
            target = top.get(ref) or (ref if ref in asm.workloads
                                     else _implied_owner(asm, entry, ref))
        if target is None:
            try:
                asm.workloads[entry.ref] = _workload(entry, _pod_state([entry]))
            except InvalidObject as err:
                asm.state.warn(entry.source, f"{entry.ref}: {err}", Severity.ERROR)
                continue
            asm.running.append(RunningPod(entry.ref, entry.ref, _pod_ips(entry)))
            continue
        asm.folded["Pod"] += 1
        asm.running.append(RunningPod(entry.ref, target, _pod_ips(entry)))
        counts = states[target]
        injected, ambient = _pod_flags(entry)
        counts[0] += 1
        counts[1] += injected
        counts[2] += ambient
    for ref, (pods, injected, ambient) in states.items():
        w = asm.workloads[ref]
        asm.workloads[ref] = replace(w, observed=PodState(
            pods=pods, sidecar_injected=injected, ambient_redirected=ambient))


#: The label a Deployment's (Argo Rollout's) controller puts on the ReplicaSets it makes and
#: their Pods; the ReplicaSet is named ``<owner>-<hash>``.
_TEMPLATE_HASH_LABELS: Final = (("Deployment", "pod-template-hash"),
                                ("Rollout", "rollouts-pod-template-hash"))
_CRONJOB_JOB_RE: Final = re.compile(r"^(.+)-[0-9]+$")  # <cronjob>-<scheduled minute>


def _implied_owner(asm: _Assembly, pod: _Entry, owner: ObjectRef) -> ObjectRef | None:
    """The workload of the input a Pod runs for when its direct owner is not in the input (a
    pods dump next to the manifests holds no ReplicaSets or Jobs): the Deployment or Rollout
    whose ReplicaSet name is ``<name>-<pod-template-hash>`` by the Pod's own hash label, or
    the CronJob whose Job name is ``<name>-<minute>``."""
    if owner.kind == "ReplicaSet":
        labels = pod.meta.get("labels")
        for kind, label in _TEMPLATE_HASH_LABELS:
            digest = labels.get(label) if isinstance(labels, Mapping) else None
            if isinstance(digest, str) and digest and owner.name.endswith(f"-{digest}"):
                ref = ObjectRef(kind, owner.namespace, owner.name[:-len(digest) - 1])
                if ref in asm.workloads:
                    return ref
    elif owner.kind == "Job" and (found := _CRONJOB_JOB_RE.match(owner.name)):
        ref = ObjectRef("CronJob", owner.namespace, found.group(1))
        if ref in asm.workloads:
            return ref
    return None


_FINISHED_PHASES: Final = frozenset({"Succeeded", "Failed"})


def _pod_ips(entry: _Entry) -> tuple[str, ...]:
    """The IPs a Pod holds (``status.podIPs``, else ``status.podIP``): none for a hostNetwork
    Pod (its address is its node's) or a finished one (its address may be another pod's now).
    Status is the cluster's own writing; an odd one yields no IPs rather than an error."""
    body = entry.body
    status = body.get("status")
    if not isinstance(status, Mapping) or status.get("phase") in _FINISHED_PHASES:
        return ()
    spec = body.get("spec")
    if isinstance(spec, Mapping) and spec.get("hostNetwork") is True:
        return ()
    primary = status.get("podIP")
    listed = status.get("podIPs")
    # Most pods hold one IP, given twice (podIP and the one entry of podIPs).
    if type(primary) is str and (listed is None or (type(listed) is list and len(listed) <= 1)):
        return (primary,) if primary else ()
    ips = {item.get("ip") for item in listed if isinstance(item, Mapping)} \
        if isinstance(listed, list) else set()
    ips.add(primary)
    return tuple(sorted(ip for ip in ips if isinstance(ip, str) and ip))


def _pod_flags(entry: _Entry) -> tuple[int, int]:
    meta = entry.meta
    annotations = meta.get("annotations") or {}
    spec = entry.body.get("spec") or {}
    names = {
        c.get("name")
        for key in ("containers", "initContainers")
        for c in (spec.get(key) or [])
        if isinstance(c, Mapping)
    }
    injected = PROXY_CONTAINER in names or SIDECAR_STATUS_ANNOTATION in annotations
    ambient = annotations.get(AMBIENT_REDIRECTION_ANNOTATION) == "enabled"
    return int(injected), int(ambient)


def _pod_state(entries: list[_Entry]) -> PodState:
    flags = [_pod_flags(e) for e in entries]
    return PodState(pods=len(entries), sidecar_injected=sum(f[0] for f in flags),
                    ambient_redirected=sum(f[1] for f in flags))


def _add_implied_namespaces(asm: _Assembly) -> None:
    seen = {
        ref.namespace
        for ref in asm.state.entries
        if ref.namespace
    }
    for name in seen - asm.namespaces.keys():
        asm.namespaces[name] = Namespace(name=name, declared=False)


#: Workloads by the pod labels they carry: (namespace, key, value) -> workloads.
_PodIndex = dict[tuple[str, str, str], set[ObjectRef]]


def _services(asm: _Assembly) -> list[Service]:
    """Build the Services, resolving each selector against pod labels through an index of label
    pairs so large clusters are not matched services x workloads."""
    pods: _PodIndex = defaultdict(set)
    for ref, w in asm.workloads.items():
        for key, value in w.pod_labels.items():
            pods[(ref.namespace, key, value)].add(ref)
    services = []
    for entry in asm.service_entries:
        try:
            services.append(_build_service(entry, pods))
        except InvalidObject as err:
            asm.state.warn(entry.source, f"{entry.ref}: {err}", Severity.ERROR)
    return services


def _selected(pods: _PodIndex, namespace: str, selector: Mapping[str, str]
              ) -> tuple[ObjectRef, ...]:
    """The workloads whose pod labels match every pair of ``selector`` (none when it is empty)."""
    if not selector:
        return ()
    if len(selector) == 1:  # the usual selector (`app: NAME`): one set, nothing to intersect
        [(key, value)] = selector.items()
        return tuple(sorted(pods.get((namespace, key, value), ())))
    sets = [pods.get((namespace, k, v), set()) for k, v in selector.items()]
    sets.sort(key=len)
    return tuple(sorted(sets[0].intersection(*sets[1:])))
