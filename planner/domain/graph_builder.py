"""Build the call graph from an inventory: manifests alone, every edge with its evidence.

How an edge is found (``docs/graph.md`` has the full story):

* **Calls from workloads**: env values (after Kubernetes ``$(VAR)`` expansion), ``envFrom``
  ConfigMaps, ``configMapKeyRef`` values, mounted ConfigMaps, command and args are cut into
  addresses by :mod:`planner.domain.addresses`; each host is looked up in an index of Service
  names built once (name -> namespace -> Service), so the cost is linear in the strings read.
* **Entry edges**: Ingress and Gateway-API route backends (from ``ingress:<class>``), Istio
  VirtualServices bound to a gateway, NodePort/LoadBalancer Services (from the internet).
* **Platform callers**: webhooks and APIServices (API server), probes (kubelet), scraping
  (Prometheus).
* **Hints**: NetworkPolicy, AuthorizationPolicy, VirtualService (mesh) and DestinationRule say
  traffic *may* flow; they are kept in ``CallGraph.hints``, never mixed with calls.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from operator import attrgetter
from typing import Any, NamedTuple

from planner.domain import raw
from planner.domain.addresses import Address, expand_vars, find_addresses
from planner.domain.graph import (
    ANY_CALLER,
    APISERVER,
    INGRESS_PREFIX,
    INTERNET,
    KUBELET,
    PROMETHEUS,
    CallGraph,
    CoverageGap,
    Dangling,
    Edge,
    Evidence,
    ManifestCoverage,
    Node,
    NodeKind,
    merge_evidence,
)
from planner.domain.inventory import (
    ConfigMap,
    Container,
    Inventory,
    Namespace,
    ObjectRef,
    PolicyObject,
    Service,
    ServicePort,
    Workload,
)
from planner.domain.roles import GATEWAY_MESHED, ISTIO_GATEWAY_CLASSES, is_server_only

#: Confidence of each way of finding an edge (documented in docs/graph.md).
CONF_DECLARED = 1.0  # an object names the backend: Ingress, route, webhook, NodePort
CONF_EXPLICIT = 0.9  # an address with a scheme or port that matches a Service port
CONF_QUALIFIED = 0.8  # a ``svc.ns[.svc...]`` name without port or scheme
CONF_NAMED = 0.7  # a bare Service name in a variable whose name says it holds an address
CONF_SCRAPE = 0.7  # scrape annotations and monitors
CONF_PORT_MISMATCH = 0.5  # the Service exists but the port given is none of its ports
CONF_HINT = 0.5  # allowed-traffic hints
CONF_PROBE = 0.3  # kubelet probes reach pods, not Services: a weak, informative edge
#: The most an address can count for when the workload gets it only as one of many keys of a
#: ConfigMap other workloads consume too (``envFrom``, a mounted file): a shared list of
#: every endpoint says little about which of them this workload calls.
CONF_SHARED = 0.6

#: Variable (or inner ``key=``) names whose bare values are taken as host names. Names of the
#: form ``*_NAME`` are identities (``OTEL_SERVICE_NAME=cart``), never addresses.
_ADDRESS_KEY = re.compile(
    r"host|addr|url|uri|endpoint|server|service|svc|broker|bootstrap|upstream|backend|target|"
    r"peer|dsn|connect|remote|proxy", re.IGNORECASE)
_NAME_KEY = re.compile(r"name$", re.IGNORECASE)

_SCHEME_PROTOCOLS: Mapping[str, str] = {
    "http": "http", "https": "http", "ws": "http", "wss": "http", "grpc": "grpc",
    "grpcs": "grpc", "dns": "grpc", "h2c": "grpc", "postgres": "postgres",
    "postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "mongodb": "mongo",
    "mongodb+srv": "mongo", "redis": "redis", "rediss": "redis", "smtp": "smtp",
}  # fmt: skip
_PORT_PROTOCOLS: Mapping[int, str] = {
    3306: "mysql", 5432: "postgres", 27017: "mongo", 6379: "redis", 25: "smtp", 587: "smtp",
}  # fmt: skip
#: The protocols a port name or appProtocol can name, in the order they are tried: by a
#: prefix (``http-web``, ``tcp-mysql``) or a last path segment (``example.com/grpc``).
_NAME_PROTOCOLS = tuple(
    (protocol, (needle, f"tcp-{needle}"), f"/{needle}") for needle, protocol in (
        ("grpc", "grpc"), ("http", "http"), ("mysql", "mysql"), ("postgres", "postgres"),
        ("mongo", "mongo"), ("redis", "redis"), ("smtp", "smtp"),
    ))  # fmt: skip

#: Workload names and ``app`` labels that identify an in-cluster Prometheus server.
_PROMETHEUS_NAMES = frozenset({"prometheus", "prometheus-server", "prometheus-deployment",
                               "prometheus-k8s", "prometheus-prometheus"})
_APP_LABELS = ("app.kubernetes.io/name", "app", "k8s-app", "name")
_SYSTEM_NAMESPACES = frozenset({"kube-system"})


#: Sort key of objects with a ``ref``: the reference, as the inventory sorts them.
_BY_REF = attrgetter("ref")


def build_graph(inventory: Inventory, *, cluster_domain: str = "cluster.local",
                min_confidence: float = 0.0) -> CallGraph:
    """The call graph of ``inventory``. Deterministic: the same inventory gives the same graph
    whatever the order its objects were read in. ``cluster_domain`` is the DNS suffix of the
    cluster (``svc.<domain>`` names resolve to Services). Calls whose best evidence is below
    ``min_confidence`` are left out (and count as not found for coverage)."""
    builder = _Builder(inventory, cluster_domain, min_confidence)
    builder.workload_calls()
    builder.entry_edges()
    builder.apiserver_edges()
    builder.probe_edges()
    builder.scrape_edges()
    builder.hint_edges()
    return builder.finish()


class _EdgeAcc:
    """Evidence and protocol guesses gathered for one (caller, callee, port). A plain class
    with slots: one is made per edge, and a dataclass's default factories cost more."""

    __slots__ = ("evidence", "protocols", "target_ports")

    def __init__(self) -> None:
        self.evidence: list[Evidence] = []
        self.protocols: list[str] = []
        self.target_ports: set[int] = set()

    def gather(self, evidence: Evidence, protocol: str | None,
               target_ports: Iterable[int]) -> None:
        """Add one piece of evidence, the protocol it implies and the container ports."""
        self.evidence.append(evidence)
        if protocol:
            self.protocols.append(protocol)
        self.target_ports.update(target_ports)


class _Text(NamedTuple):
    """One string a workload carries, with where it came from. A named tuple: a large cluster
    has one per env variable, ConfigMap key and command line of every workload."""

    kind: str  # evidence kind: env, configmap, volume, command, args
    source: str
    value: str
    key: str | None  # the variable or ConfigMap key; decides whether bare names count
    bare_ok: bool
    #: Other workloads that get the same text wholesale (a shared ``envFrom`` ConfigMap or
    #: mounted file); empty when the text is the workload's own.
    shared_with: tuple[str, ...] = ()


class _Found(NamedTuple):
    """An address of a string, seen from one namespace: the Service it names (None: none) and,
    when it names one, the Service port it reaches and what such a call counts for."""

    address: Address
    service: Service | None
    #: ``address.explicit``, asked of every occurrence of the string.
    explicit: bool = False
    #: Whether the port given (or the default one) is one of the Service's.
    exact: bool = False
    #: The confidence of a call to ``service`` (before a shared ConfigMap lowers it).
    confidence: float = 0.0
    protocol: str | None = None
    #: The edge key's callee and port, and the container ports behind the Service port.
    callee: str = ""
    port_number: int | None = None
    target_ports: tuple[int, ...] = ()


class _Builder:
    def __init__(self, inventory: Inventory, cluster_domain: str,
                 min_confidence: float = 0.0) -> None:
        self.inv = inventory
        self.min_confidence = min_confidence
        #: Node ids (``ObjectRef.key``) of workloads and Services, formatted once: every call,
        #: node and coverage line names them.
        refs = [w.ref for w in inventory.workloads] + [s.ref for s in inventory.services]
        self.keys: dict[ObjectRef, str] = {ref: ref.key for ref in refs}
        #: ConfigMap (namespace, name) -> workloads that take all of it (envFrom or a mount).
        self.wholesale: dict[tuple[str, str], list[str]] = defaultdict(list)
        for w in inventory.workloads:
            names = {ref.name for c in w.all_containers for ref in c.env_from
                     if ref.kind == "ConfigMap"}
            names.update(m.config_map for c in w.all_containers for m in c.mounts
                         if m.config_map)
            for name in names:
                self.wholesale[(w.namespace, name)].append(self.keys[w.ref])
        self.suffixes = (f".svc.{cluster_domain.strip('.')}", ".svc")
        # The one index of Service names: every host token is a dictionary lookup.
        self.by_name: dict[str, dict[str, Service]] = defaultdict(dict)
        for svc in inventory.services:
            self.by_name[svc.name][svc.namespace] = svc
        self.served_by: dict[ObjectRef, list[Service]] = defaultdict(list)
        for svc in inventory.services:
            for ref in svc.selects:
                self.served_by[ref].append(svc)
        self.calls: dict[tuple[str, str, int | None], _EdgeAcc] = defaultdict(_EdgeAcc)
        self.hints: dict[tuple[str, str, int | None], _EdgeAcc] = defaultdict(_EdgeAcc)
        self.externals: dict[str, str] = {}  # id -> mesh reason
        self.dangling: set[Dangling] = set()
        self.scraper_id: str | None = None
        self.ingress_reasons: dict[str, str] = {}  # controller -> ingress_reason's answer

    # -----------------------------------------------------------------------------------------
    # Resolution helpers

    def resolve_host(self, host: str, namespace: str) -> Service | None:
        """The Service a DNS name reaches from ``namespace``: ``svc``, ``svc.ns``,
        ``svc.ns.svc[.<domain>]`` and ``pod.svc.ns.svc[.<domain>]`` (headless pod names)."""
        name = host
        qualified = False
        for suffix in self.suffixes:
            # ``api.svc`` is Service api of namespace svc (the search domain svc.<domain>
            # completes it); a suffix is only stripped from ``name.ns``.
            if name.endswith(suffix) and "." in name[: -len(suffix)]:
                name = name[: -len(suffix)]
                qualified = True
                break
        parts = name.split(".")
        if len(parts) == 1:
            ns = namespace
        elif len(parts) == 2 or (qualified and len(parts) == 3):
            name, ns = parts[-2], parts[-1]
        else:
            return None
        by_ns = self.by_name.get(name)
        return by_ns.get(ns) if by_ns else None

    def target_ports(self, svc: Service, port: ServicePort) -> tuple[int, ...]:
        """Container port numbers behind a Service port (named targetPorts through the pods)."""
        target = port.target_port if port.target_port is not None else port.port
        if isinstance(target, int):
            return (target,)
        numbers: set[int] = set()
        for ref in svc.selects:
            workload = self.inv.workload_index.get(ref)
            for container in workload.all_containers if workload else ():
                numbers.update(p.container_port for p in container.ports if p.name == target)
        return tuple(sorted(numbers))

    def service_port(self, svc: Service, wanted: int | str | None) -> ServicePort | None:
        """The Service port a backend reference names (by number or port name)."""
        for port in svc.ports:
            if wanted == port.port or (isinstance(wanted, str) and wanted == port.name):
                return port
        if wanted is None and len(svc.ports) == 1:
            return svc.ports[0]
        return None

    def add(self, table: dict[tuple[str, str, int | None], _EdgeAcc], caller: str,
            svc: Service, port: ServicePort | None, evidence: Evidence,
            protocol: str | None = None, extra_targets: Iterable[int] = ()) -> None:
        acc = table[(caller, svc.ref.key, port.port if port else None)]
        acc.gather(evidence, protocol, self.target_ports(svc, port) if port is not None else ())
        acc.target_ports.update(extra_targets)

    def external(self, node_id: str, reason: str) -> str:
        self.externals.setdefault(node_id, reason)
        return node_id

    # -----------------------------------------------------------------------------------------
    # Calls from workloads

    def workload_calls(self) -> None:
        # Workloads often carry the same string (one address in many env variables, a
        # ConfigMap several of them read): each distinct string is cut into addresses once,
        # and resolved once per namespace; only what depends on where the string sits (its
        # variable, a shared ConfigMap) is decided per workload.
        cut: dict[str, list[Address]] = {}
        found: dict[tuple[str, str], list[_Found]] = {}
        for workload in self.inv.workloads:
            caller, namespace = self.keys[workload.ref], workload.namespace
            for text in self.texts(workload):
                place = (text.value, namespace)
                addresses = found.get(place)
                if addresses is None:
                    if (in_text := cut.get(text.value)) is None:
                        in_text = cut[text.value] = find_addresses(text.value)
                    addresses = found[place] = [self.find(a, namespace) for a in in_text]
                for address in addresses:
                    self.add_address(workload, caller, text, address)

    def find(self, address: Address, namespace: str) -> _Found:
        """The Service ``address`` names from ``namespace``, the port and confidence of a call
        to it."""
        svc = self.resolve_host(address.host, namespace)
        if svc is None:
            return _Found(address, None)
        port, exact = self.port_for(svc, address)
        explicit = address.explicit
        if explicit or address.next_port is not None:
            confidence = CONF_EXPLICIT if exact else CONF_PORT_MISMATCH
        elif "." in address.host:
            confidence = CONF_QUALIFIED
        else:
            confidence = CONF_NAMED
        return _Found(address, svc, explicit, exact, confidence,
                      _SCHEME_PROTOCOLS.get(address.scheme or ""), self.keys[svc.ref],
                      port.port if port else None,
                      self.target_ports(svc, port) if port is not None else ())

    def texts(self, workload: Workload) -> list[_Text]:
        """Every string of ``workload`` that may hold an address, with ``$(VAR)`` expanded."""
        owner = str(workload.ref)
        texts: list[_Text] = []
        seen_mounts: set[str] = set()
        for container in workload.all_containers:
            where = owner if container in workload.containers else (
                f"{owner} initContainer {container.name}")
            texts.extend(self.container_texts(workload, container, where))
            for mount in container.mounts:
                if mount.config_map and mount.config_map not in seen_mounts:
                    seen_mounts.add(mount.config_map)
                    cm = self.config_map(workload.namespace, mount.config_map)
                    shared = self.shared_with(workload, cm)
                    for key, value in sorted(cm.data.items()) if cm else ():
                        # File content: a bare word there is too weak to count.
                        texts.append(_Text("volume", f"{cm.ref} key {key}" if cm else "",
                                           value, key, False, shared))
        return texts

    def shared_with(self, workload: Workload, cm: ConfigMap | None) -> tuple[str, ...]:
        """The other workloads that take all of ``cm`` too (sorted)."""
        if cm is None:
            return ()
        consumers = self.wholesale.get((cm.ref.namespace, cm.ref.name), ())
        own = self.keys[workload.ref]
        return tuple(sorted(k for k in consumers if k != own))

    def config_map(self, namespace: str, name: str) -> ConfigMap | None:
        return self.inv.config_map_index.get((namespace, name))

    def container_texts(self, workload: Workload, container: Container,
                        where: str) -> list[_Text]:
        texts: list[_Text] = []
        env: dict[str, str] = {}
        for ref in container.env_from:
            cm = self.config_map(workload.namespace, ref.name) if ref.kind == "ConfigMap" else None
            shared = self.shared_with(workload, cm)
            for key, value in sorted(cm.data.items()) if cm else ():
                env[ref.prefix + key] = value
                texts.append(_Text("configmap", f"{cm.ref} key {key}" if cm else "", value,
                                   key, True, shared))
        for var in container.env:
            if var.value is not None:
                value = expand_vars(var.value, env)
                texts.append(_Text("env", f"{where} env {var.name}", value, var.name, True))
            elif var.config_map and var.config_map_key:
                cm = self.config_map(workload.namespace, var.config_map)
                found = cm.data.get(var.config_map_key) if cm else None
                if found is None or cm is None:
                    continue
                value = found
                texts.append(_Text("configmap", f"{cm.ref} key {var.config_map_key}", value,
                                   var.name, True))
            else:
                continue
            env[var.name] = value
        for kind, words in (("command", container.command), ("args", container.args)):
            if words:
                value = " ".join(expand_vars(w, env) for w in words)
                texts.append(_Text(kind, f"{where} {kind}", value, None, True))
        return texts

    def add_address(self, workload: Workload, caller: str, text: _Text, found: _Found) -> None:
        """The call (or dangling address) ``found`` in ``text`` of ``workload`` (whose node id
        is ``caller``) makes."""
        address, svc = found.address, found.service
        if svc is None:
            if self.names_missing_service(text, address):
                self.dangling.add(Dangling(caller, text.source, address.text, address.host))
            return
        if workload.ref in svc.selects:
            return  # the workload naming itself (CURRENT_SERVICE=cars)
        if not found.explicit and not self.bare_name_counts(text, address, found.exact):
            return
        confidence = found.confidence
        source = text.source
        if text.shared_with:
            confidence = min(confidence, CONF_SHARED)
            others = text.shared_with
            named = ", ".join(others[:3]) + (f" and {len(others) - 3} more"
                                             if len(others) > 3 else "")
            cm = source.split(" key ", 1)[0]
            source = f"{source} (shared {cm}, also used by {named})"
        self.calls[(caller, found.callee, found.port_number)].gather(
            Evidence(text.kind, source, address.text, confidence), found.protocol,
            found.target_ports)

    def names_missing_service(self, text: _Text, address: Address) -> bool:
        """Whether an address that resolved to no Service still names one: a cluster DNS name
        (``x.ns.svc``, or ``x.ns`` for a namespace of the input), a URL to a bare name
        (``http://cart``), or a bare ``name:port`` in a variable named like an address
        (``CART_ADDR=cart:7070``)."""
        host = address.host
        if host.startswith(_APISERVER_HOSTS):
            return False  # default/kubernetes: the API server, never in manifests
        if host.endswith(self.suffixes):
            return True
        if "." in host:
            parts = host.split(".")
            return len(parts) == 2 and parts[1] in self.inv.namespace_index
        if not address.explicit or host == "localhost":
            return False
        if address.scheme is not None:
            return True  # a URL to a dotless host: only cluster DNS resolves that
        if not text.bare_ok:
            return False
        key = address.key or text.key
        return key is not None and bool(_ADDRESS_KEY.search(key.lstrip("-"))) \
            and not _NAME_KEY.search(key)

    def bare_name_counts(self, text: _Text, address: Address, exact: bool) -> bool:
        """A bare word equal to a Service name is a call only where the context says it is an
        address: a variable named like one, or ``host PORT`` in a command line."""
        if address.next_port is not None and exact:
            return True
        if "." in address.host:
            return True  # ``svc.ns`` and longer forms resolved to a Service: no word is that
        if not text.bare_ok:
            return False
        key = address.key or text.key
        if key is None:
            return False
        key = key.lstrip("-")
        return bool(_ADDRESS_KEY.search(key)) and not _NAME_KEY.search(key)

    def port_for(self, svc: Service, address: Address) -> tuple[ServicePort | None, bool]:
        """The Service port an address reaches and whether it matched exactly. A number equal
        to a targetPort maps back to its Service port; no port at all takes the scheme's
        default or the Service's only port."""
        wanted = address.port if address.port is not None else address.next_port
        if wanted is not None:
            for port in svc.ports:
                if port.port == wanted:
                    return port, True
            for port in svc.ports:
                if wanted in self.target_ports(svc, port):
                    return port, True
            return None, False
        default = address.effective_port
        for port in svc.ports:
            if port.port == default:
                return port, True
        if len(svc.ports) == 1:
            return svc.ports[0], True
        return None, True

    # -----------------------------------------------------------------------------------------
    # Entry edges

    def entry_edges(self) -> None:
        gateway_class = {g.ref: str(g.spec.get("gatewayClassName") or g.ref.name)
                         for g in self.inv.gateways}
        for route in self.inv.routes:
            if route.ref.kind == "Ingress":
                kind, controller = "ingress", route.class_name or "default"
            else:
                kind = route.ref.kind.lower()
                classes = sorted({gateway_class.get(ObjectRef("Gateway", p.namespace, p.name),
                                                    p.name) for p in route.parents})
                controller = classes[0] if classes else "gateway"
            caller = self.external(INGRESS_PREFIX + controller,
                                   self.ingress_reason(controller))
            for backend in route.backends:
                svc = self.inv.service_index.get((backend.namespace, backend.service))
                if svc is None:
                    continue
                port = self.service_port(svc, backend.port)
                path = f" path {backend.path}" if backend.path else ""
                self.add(self.calls, caller, svc, port,
                         Evidence(kind, f"{route.ref}{path}",
                                  f"{backend.service}:{backend.port or ''}".rstrip(":"),
                                  CONF_DECLARED), _protocol_of_port(port))
        for svc in self.inv.services:
            if svc.type not in ("NodePort", "LoadBalancer"):
                continue
            caller = self.external(INTERNET, "outside the cluster")
            for port in svc.ports:
                node_port = f" nodePort {port.node_port}" if port.node_port else ""
                self.add(self.calls, caller, svc, port,
                         Evidence(svc.type.lower(), f"{svc.ref} type {svc.type}",
                                  f"port {port.port}{node_port}", CONF_DECLARED),
                         _protocol_of_port(port))
        for vs in self.inv.istio_of_kind("VirtualService"):
            gateways = [str(g) for g in raw.sequence(vs.spec.get("gateways"))]
            if any(g != "mesh" for g in gateways):
                caller = self.external(INGRESS_PREFIX + "istio", self.ingress_reason("istio"))
                self.virtual_service(vs, caller, self.calls, CONF_DECLARED)

    def ingress_reason(self, controller: str) -> str:
        """Whether the ingress ``controller``'s workload is in the mesh, in words; worked out
        once per controller (it looks through every workload, and a cluster may hold an
        Ingress per Service)."""
        reason = self.ingress_reasons.get(controller)
        if reason is None:
            reason = self.ingress_reasons[controller] = self._ingress_reason(controller)
        return reason

    def _ingress_reason(self, controller: str) -> str:
        if controller in ISTIO_GATEWAY_CLASSES:
            return f"meshed: {GATEWAY_MESHED}"
        for workload in self.inv.workloads:
            names = {workload.name, *(workload.pod_labels.get(k, "") for k in _APP_LABELS)}
            if any(controller in n and ("ingress" in n or "gateway" in n or "controller" in n)
                   for n in names if n):
                meshed, reason = self.mesh_state(workload)
                if meshed:
                    return f"meshed: its workload {workload.ref.key} is {reason}"
        return "an ingress controller outside the mesh (or not in the input)"

    def virtual_service(self, vs: PolicyObject, caller: str,
                        table: dict[tuple[str, str, int | None], _EdgeAcc],
                        confidence: float) -> None:
        for section in ("http", "tcp", "tls", "grpc"):
            for rule in raw.sequence(vs.spec.get(section)):
                for route in raw.sequence(raw.mapping(rule).get("route")):
                    dest = raw.mapping(raw.mapping(route).get("destination"))
                    host = str(dest.get("host") or "")
                    svc = self.resolve_host(host.lower(), vs.ref.namespace)
                    if svc is None:
                        continue
                    number = raw.mapping(dest.get("port")).get("number")
                    port = self.service_port(svc, number if isinstance(number, int) else None)
                    text = f"{host}:{number}" if number else host
                    self.add(table, caller, svc, port,
                             Evidence("virtualservice", f"{vs.ref} {section}", text,
                                      confidence),
                             "http" if section in ("http", "grpc") else _protocol_of_port(port))

    # -----------------------------------------------------------------------------------------
    # The API server, kubelet and Prometheus

    def apiserver_edges(self) -> None:
        for callee in self.inv.api_server_callees:
            kind = "apiservice" if callee.ref.kind == "APIService" else "webhook"
            for backend in callee.backends:
                svc = self.inv.service_index.get((backend.namespace, backend.service))
                if svc is None:
                    continue
                caller = self.external(APISERVER, "the Kubernetes control plane, never meshed")
                port = self.service_port(svc, backend.port)
                path = f" path {backend.path}" if backend.path else ""
                self.add(self.calls, caller, svc, port,
                         Evidence(kind, str(callee.ref) + path,
                                  f"{backend.service}.{backend.namespace}:{backend.port}",
                                  CONF_DECLARED), "http")

    def probe_edges(self) -> None:
        for workload in self.inv.workloads:
            services = self.served_by.get(workload.ref, [])
            for container in workload.all_containers if services else ():
                for probe in container.probes:
                    number = _container_port(container, probe.port)
                    if number is None:
                        continue
                    for svc in services:
                        for port in svc.ports:
                            if number not in self.target_ports(svc, port):
                                continue
                            caller = self.external(KUBELET, "runs on the node, never meshed")
                            self.add(self.calls, caller, svc, port, Evidence(
                                "probe", f"{workload.ref} container {container.name}",
                                f"{probe.kind} {probe.handler} port {probe.port}", CONF_PROBE),
                                "grpc" if probe.handler == "grpc" else
                                "http" if probe.handler == "http" else "tcp")

    def prometheus_caller(self) -> str:
        """The in-cluster Prometheus server when the input has one (first by identity), else
        ``external:prometheus``."""
        for workload in self.inv.workloads:
            labels = {workload.pod_labels.get(k) for k in _APP_LABELS}
            if workload.name in _PROMETHEUS_NAMES or "prometheus" in labels:
                return workload.ref.key
        return self.external(PROMETHEUS, "a Prometheus server not in the input")

    def scraper(self) -> str:
        """The caller of every scrape edge: :meth:`prometheus_caller`, looked up (and kept in
        ``scraper_id``) when the first scrape target is found."""
        if self.scraper_id is None:
            self.scraper_id = self.prometheus_caller()
        return self.scraper_id

    def scrape_edges(self) -> None:
        for workload in self.inv.workloads:
            annotations = workload.pod_annotations
            if annotations.get("prometheus.io/scrape") != "true":
                continue
            number = _int(annotations.get("prometheus.io/port"))
            for svc in self.served_by.get(workload.ref, []):
                ports: list[ServicePort | None] = [
                    p for p in svc.ports if number in self.target_ports(svc, p)]
                evidence = Evidence("scrape", f"{workload.ref} annotation prometheus.io/scrape",
                                    f"prometheus.io/port={number}" if number else "true",
                                    CONF_SCRAPE)
                for port in ports or [None]:
                    self.add(self.calls, self.scraper(), svc, port, evidence, "http",
                             (number,) if number and port is None else ())
        for svc in self.inv.services:
            if svc.annotations.get("prometheus.io/scrape") != "true":
                continue
            number = _int(svc.annotations.get("prometheus.io/port"))
            service_port = next(
                (p for p in svc.ports if number in (p.port, *self.target_ports(svc, p))), None,
            ) if number else self.service_port(svc, None)
            self.add(self.calls, self.scraper(), svc, service_port,
                     Evidence("scrape", f"{svc.ref} annotation prometheus.io/scrape",
                              f"prometheus.io/port={number}" if number else "true",
                              CONF_SCRAPE), "http")
        for monitor in self.inv.monitors:
            self.monitor(monitor)

    def monitor(self, monitor: PolicyObject) -> None:
        spec = monitor.spec
        selector = raw.mapping(spec.get("selector"))
        ns_selector = raw.mapping(spec.get("namespaceSelector"))
        names = {str(n) for n in raw.sequence(ns_selector.get("matchNames"))}
        any_ns = bool(ns_selector.get("any"))

        # The namespaces in scope only: a cluster may hold a monitor per Service, and each
        # would otherwise test every Service and workload of the cluster (kept in the
        # inventory's order, which the evidence of an edge is gathered in).
        namespaces = names or {monitor.ref.namespace}
        evidence_source = str(monitor.ref)
        if monitor.ref.kind == "ServiceMonitor":
            services = self.inv.services if any_ns else sorted(
                (svc for ns in namespaces for svc in self.inv.services_by_namespace.get(ns, ())),
                key=_BY_REF)
            for svc in services:
                if not _selector_matches(selector, svc.labels):
                    continue
                for endpoint in raw.sequence(spec.get("endpoints")):
                    ep = raw.mapping(endpoint)
                    wanted = ep.get("port") or ep.get("targetPort")
                    for port in svc.ports:
                        if wanted in (port.name, port.port, port.target_port):
                            self.add(self.calls, self.scraper(), svc, port, Evidence(
                                "scrape", evidence_source, f"port {wanted}", CONF_SCRAPE),
                                "http")
            return
        by_namespace = self.inv.workloads_by_namespace
        workloads = self.inv.workloads if any_ns else sorted(
            (w for ns in namespaces for w in by_namespace.get(ns, ())), key=_BY_REF)
        for workload in workloads:
            if not _selector_matches(selector, workload.pod_labels):
                continue
            for endpoint in raw.sequence(spec.get("podMetricsEndpoints")):
                wanted = raw.mapping(endpoint).get("port")
                numbers = {_container_port(c, wanted) for c in workload.all_containers} - {None}
                for svc in self.served_by.get(workload.ref, []):
                    for port in svc.ports:
                        if numbers & set(self.target_ports(svc, port)):
                            self.add(self.calls, self.scraper(), svc, port, Evidence(
                                "scrape", evidence_source, f"port {wanted}", CONF_SCRAPE),
                                "http")

    # -----------------------------------------------------------------------------------------
    # Allowed-traffic hints

    def hint_edges(self) -> None:
        for policy in self.inv.network_policies:
            self.network_policy(policy)
        for policy in self.inv.istio_of_kind("AuthorizationPolicy"):
            self.authorization_policy(policy)
        for vs in self.inv.istio_of_kind("VirtualService"):
            gateways = [str(g) for g in raw.sequence(vs.spec.get("gateways"))]
            if not gateways or "mesh" in gateways:
                caller = self.external(ANY_CALLER, "any caller (a hint names no client)")
                self.virtual_service(vs, caller, self.hints, CONF_HINT)
        for rule in self.inv.istio_of_kind("DestinationRule"):
            host = str(rule.spec.get("host") or "")
            svc = self.resolve_host(host.lower(), rule.ref.namespace)
            if svc is not None:
                caller = self.external(ANY_CALLER, "any caller (a hint names no client)")
                self.add(self.hints, caller, svc, None,
                         Evidence("destinationrule", str(rule.ref), host, CONF_HINT))

    def services_of(self, workloads: Iterable[Workload]) -> list[Service]:
        found = {s.ref: s for w in workloads for s in self.served_by.get(w.ref, [])}
        return [found[k] for k in sorted(found)]

    def network_policy(self, policy: PolicyObject) -> None:
        spec = policy.spec
        ns = policy.ref.namespace
        types = [str(t) for t in raw.sequence(spec.get("policyTypes"))] or ["Ingress"]
        if "Ingress" not in types:
            return
        pod_selector = raw.mapping(spec.get("podSelector"))
        # A namespace's workloads only: a cluster with a policy per workload would otherwise
        # test every workload of the cluster against each policy.
        targets = self.services_of(w for w in self.inv.workloads_by_namespace.get(ns, ())
                                   if _selector_matches(pod_selector, w.pod_labels))
        for index, rule in enumerate(raw.sequence(spec.get("ingress"))):
            rule_map = raw.mapping(rule)
            peers = raw.sequence(rule_map.get("from"))
            callers = self.policy_callers(ns, peers) if peers else [
                self.external(ANY_CALLER, "any caller (a hint names no client)")]
            wanted = [raw.mapping(p).get("port") for p in raw.sequence(rule_map.get("ports"))]
            evidence = Evidence("networkpolicy", f"{policy.ref} ingress[{index}]",
                                ", ".join(str(w) for w in wanted) or "all ports", CONF_HINT)
            for svc in targets:
                ports: list[ServicePort | None] = [
                    p for p in svc.ports
                    if any(w in (p.target_port, *self.target_ports(svc, p), p.name)
                           for w in wanted)
                ] if wanted else [None]
                for caller in callers:
                    for port in ports:
                        if caller not in {w.key for w in svc.selects}:
                            self.add(self.hints, caller, svc, port, evidence)

    def policy_callers(self, ns: str, peers: Sequence[Any]) -> list[str]:
        callers: set[str] = set()
        for peer in peers:
            peer_map = raw.mapping(peer)
            if "podSelector" not in peer_map and "namespaceSelector" not in peer_map:
                continue  # ipBlock: addresses outside the cluster, not a workload
            pod_sel = raw.mapping(peer_map.get("podSelector"))
            if "namespaceSelector" in peer_map:
                ns_sel = raw.mapping(peer_map.get("namespaceSelector"))
                namespaces = {n.name for n in self.inv.namespaces
                              if _selector_matches(ns_sel, _ns_labels(n))}
            else:
                namespaces = {ns}
            by_namespace = self.inv.workloads_by_namespace
            callers.update(w.ref.key for n in namespaces for w in by_namespace.get(n, ())
                           if _selector_matches(pod_sel, w.pod_labels))
        return sorted(callers)

    def authorization_policy(self, policy: PolicyObject) -> None:
        spec = policy.spec
        if str(spec.get("action") or "ALLOW") != "ALLOW":
            return
        ns = policy.ref.namespace
        selector = raw.mapping(raw.mapping(spec.get("selector")).get("matchLabels"))
        by_namespace = self.inv.workloads_by_namespace
        targets = self.services_of(
            w for w in by_namespace.get(ns, ())
            if all(w.pod_labels.get(k) == v for k, v in selector.items()))
        for index, rule in enumerate(raw.sequence(spec.get("rules"))):
            callers: set[str] = set()
            for source in raw.sequence(raw.mapping(rule).get("from")):
                src = raw.mapping(raw.mapping(source).get("source"))
                for principal in raw.sequence(src.get("principals")):
                    parts = str(principal).split("/")
                    if len(parts) >= 5 and parts[-4] == "ns" and parts[-2] == "sa":
                        callers.update(w.ref.key for w in by_namespace.get(parts[-3], ())
                                       if w.service_account == parts[-1])
                for namespace in raw.sequence(src.get("namespaces")):
                    callers.update(w.ref.key for w in by_namespace.get(str(namespace), ()))
            evidence = Evidence("authorizationpolicy", f"{policy.ref} rules[{index}]",
                                "from principals/namespaces", CONF_HINT)
            for svc in targets:
                for caller in sorted(callers):
                    if caller not in {w.key for w in svc.selects}:
                        self.add(self.hints, caller, svc, None, evidence)

    # -----------------------------------------------------------------------------------------
    # Nodes, mesh state and coverage

    @cached_property
    def gateways(self) -> frozenset[ObjectRef]:
        """The Istio gateways among the workloads: the mesh state and the coverage both ask."""
        is_gateway = self.inv.roles.is_gateway
        return frozenset(w.ref for w in self.inv.workloads if is_gateway(w))

    @cached_property
    def enrollments(self) -> dict[str, str]:
        """Each namespace's intended enrollment (``Namespace.enrollment``), read once."""
        return {name: ns.enrollment for name, ns in self.inv.namespace_index.items()}

    def mesh_state(self, workload: Workload) -> tuple[bool, str]:
        """Whether the workload's pods are in the mesh now, and why, in words."""
        if workload.ref in self.gateways:
            return True, GATEWAY_MESHED
        observed = workload.observed
        if observed is not None and observed.pods > 0:
            if observed.sidecar_injected > 0:
                return True, f"{observed.sidecar_injected}/{observed.pods} pods run a sidecar"
            if observed.ambient_redirected > 0:
                return True, (f"{observed.ambient_redirected}/{observed.pods} pods are "
                              "redirected by ambient")
            return False, f"none of its {observed.pods} running pods is in the mesh"
        if workload.host_network:
            return False, "uses hostNetwork, which the mesh cannot capture"
        if workload.namespace in _SYSTEM_NAMESPACES:
            return False, f"runs in {workload.namespace}, which is never meshed"
        enrollment = self.enrollments.get(workload.namespace, "none")
        opt = workload.inject_opt
        if enrollment == "sidecar":
            if opt == "false":
                return False, "opted out with sidecar.istio.io/inject=false"
            return True, f"namespace {workload.namespace} has sidecar injection"
        if enrollment == "ambient":
            if workload.pod_labels.get("istio.io/dataplane-mode") == "none":
                return False, "opted out of ambient with istio.io/dataplane-mode=none"
            return True, f"namespace {workload.namespace} is in ambient mode"
        if workload.pod_labels.get("sidecar.istio.io/inject") == "true":
            return True, "pod label sidecar.istio.io/inject=true"
        return False, f"namespace {workload.namespace} is not enrolled in the mesh"

    def finish(self) -> CallGraph:
        nodes: list[Node] = []
        workload_mesh: dict[str, bool] = {}
        for workload in self.inv.workloads:
            meshed, reason = self.mesh_state(workload)
            key = self.keys[workload.ref]
            workload_mesh[key] = meshed
            nodes.append(Node(key, NodeKind.WORKLOAD, workload.namespace,
                              workload.name, meshed, reason))
        backends: dict[str, tuple[str, ...]] = {}
        services: dict[str, Service] = {}
        for svc in self.inv.services:
            key = self.keys[svc.ref]
            services[key] = svc
            # The keys formatted once per build (a Service selects workloads of the inventory).
            served = tuple(self.keys[ref] for ref in svc.selects)
            backends[key] = served
            meshed_backends = sum(workload_mesh.get(w, False) for w in served)
            meshed = bool(served) and meshed_backends == len(served)
            nodes.append(Node(key, NodeKind.SERVICE, svc.namespace, svc.name, meshed,
                              f"{meshed_backends}/{len(served)} backends meshed"))
        for node_id, reason in self.externals.items():
            meshed = reason.startswith("meshed")
            nodes.append(Node(node_id, NodeKind.EXTERNAL, "", node_id, meshed, reason))
        edges = _edges(self.calls, services, hint=False)
        if self.min_confidence > 0.0:  # no confidence is negative: no minimum keeps every edge
            edges = tuple(e for e in edges if max((ev.confidence for ev in e.evidence),
                                                  default=1.0) >= self.min_confidence)
        hints = _edges(self.hints, services, hint=True)
        return CallGraph(
            nodes=tuple(sorted(nodes, key=lambda n: n.id)),
            edges=edges,
            hints=hints,
            coverage=self.coverage(edges),
            backends=dict(sorted(backends.items())),
            manifest_coverage=self.manifest_coverage(edges),
        )

    def manifest_coverage(self, edges: tuple[Edge, ...]) -> ManifestCoverage:
        """Application workloads, the blind ones among them, and the dangling addresses."""
        callers = {e.caller for e in edges}
        apps = [self.keys[w.ref] for w in self.inv.workloads if self.expected_to_call(w)]
        return ManifestCoverage(len(apps), tuple(k for k in apps if k not in callers),
                                tuple(sorted(self.dangling)))

    def expected_to_call(self, workload: Workload) -> bool:
        """An application workload whose calls the graph should show: not in a system
        namespace, not Istio's (istiod, gateways), not an ingress controller or Prometheus, and
        no datastore, broker or exporter (they serve and call nothing)."""
        if workload.namespace in _INFRA_NAMESPACES or workload.ref in self.gateways:
            return False
        if workload.name.startswith("istiod") or \
                self.inv.roles.infrastructure(workload) is not None:
            return False
        return not is_server_only(workload)

    def coverage(self, edges: tuple[Edge, ...]) -> tuple[CoverageGap, ...]:
        """Workloads the graph may be blind to. Kubelet and scrape edges do not count: every
        pod gets them, they say nothing about the application's calls."""
        # Scrape evidence only ever comes from the scraper: no other caller's edge is a scrape.
        app_edges = [e for e in edges if e.caller != KUBELET and (
            e.caller != self.scraper_id or not all(ev.kind == "scrape" for ev in e.evidence))]
        callers = {e.caller for e in app_edges}
        called = {e.callee for e in app_edges}
        # By workload once: looking through every dangling address for each gap grew with
        # their product.
        named: dict[str, set[str]] = defaultdict(set)
        for d in self.dangling:
            named[d.workload].add(d.host)
        gaps: list[CoverageGap] = []
        for workload in self.inv.workloads:
            key = self.keys[workload.ref]
            if key in callers:
                continue  # a workload with an outbound call is no blind spot
            secrets = _secret_names(workload)
            if secrets:
                gaps.append(CoverageGap(key, "no address found; addresses may be in Secret "
                                        + ", ".join(secrets)))
            elif not any(self.keys[s.ref] in called
                         for s in self.served_by.get(workload.ref, [])):
                missing = sorted(named.get(key, ()))
                gaps.append(CoverageGap(key, "no inferred inbound or outbound edge" + (
                    f"; it names {', '.join(missing)}, which no Service in the input is"
                    if missing else "")))
        return tuple(sorted(gaps, key=lambda g: (g.workload, g.reason)))


_APISERVER_HOSTS = ("kubernetes.default.svc", "kubernetes.default")
_INFRA_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "istio-system"})


def _edges(table: Mapping[tuple[str, str, int | None], _EdgeAcc],
           services: Mapping[str, Service], hint: bool) -> tuple[Edge, ...]:
    """The edges of ``table``, sorted; ``services`` maps callee ids to their Services."""
    # The protocol a Service port's name implies, worked out once for all its callers, and
    # once per distinct port: most Services of a cluster declare the same few ports.
    port_protocols: dict[tuple[str, int | None], str] = {}
    protocols_of: dict[ServicePort | None, str] = {}
    edges = []
    for (caller, callee, port), acc in table.items():
        if acc.protocols:
            # Scheme-given protocols beat port names: ``http://x:5432`` is what the client
            # speaks. Most calls have one (one piece of evidence): nothing to rank.
            protocols = acc.protocols
            protocol = protocols[0] if len(protocols) == 1 else min(protocols, key=_protocol_rank)
        elif (protocol_of_port := port_protocols.get((callee, port))) is not None:
            protocol = protocol_of_port
        else:
            service_port = next((p for p in services[callee].ports if p.port == port), None)
            if (known := protocols_of.get(service_port)) is None:
                known = protocols_of[service_port] = _protocol_of_port(service_port) or "tcp"
            protocol = port_protocols[(callee, port)] = known
        # Most edges have one piece of evidence: nothing to merge.
        evidence = (acc.evidence[0],) if len(acc.evidence) == 1 else merge_evidence(acc.evidence)
        targets = tuple(sorted(acc.target_ports))
        # ``hint`` only when it is one: a keyword argument costs nearly as much as making the
        # edge, 34,000 times on a 10,000-service cluster.
        edges.append(Edge(caller, callee, port, targets, protocol, evidence, hint=True) if hint
                     else Edge(caller, callee, port, targets, protocol, evidence))
    return tuple(sorted(edges, key=lambda e: (e.caller, e.callee, -1 if e.port is None
                                              else e.port)))


#: Specific server-first protocols first, then grpc over http (gRPC runs on HTTP/2).
_PROTOCOL_ORDER: Mapping[str, int] = {"http": 2, "grpc": 1, "tcp": 3}


def _protocol_rank(protocol: str) -> tuple[int, str]:
    return _PROTOCOL_ORDER.get(protocol, 0), protocol


def _protocol_of_port(port: ServicePort | None) -> str | None:
    """Guess the protocol from appProtocol, Istio's port-name prefixes and well-known ports."""
    if port is None:
        return None
    for hint in (port.app_protocol or "", port.name):
        lowered = hint.lower()
        for protocol, prefixes, suffix in _NAME_PROTOCOLS:
            if lowered.startswith(prefixes) or lowered.endswith(suffix):
                return protocol
    return _PORT_PROTOCOLS.get(port.port)


def _container_port(container: Container, port: object) -> int | None:
    if isinstance(port, int):
        return port
    return next((p.container_port for p in container.ports if p.name == port), None)


def _secret_names(workload: Workload) -> list[str]:
    names: set[str] = set()
    for container in workload.all_containers:
        names.update(v.secret for v in container.env if v.secret)
        names.update(e.name for e in container.env_from if e.kind == "Secret")
        names.update(m.secret for m in container.mounts if m.secret)
    return sorted(names)


def _ns_labels(namespace: Namespace) -> Mapping[str, str]:
    # The API server sets this label on every namespace; policies select on it.
    return {"kubernetes.io/metadata.name": namespace.name, **namespace.labels}


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector (``matchLabels`` and ``matchExpressions``); empty selects
    everything."""
    for key, value in raw.mapping(selector.get("matchLabels")).items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in raw.sequence(selector.get("matchExpressions")):
        expr = raw.mapping(expression)
        key = str(expr.get("key"))
        values = {str(v) for v in raw.sequence(expr.get("values"))}
        operator = expr.get("operator")
        present = key in labels
        if (operator == "In" and labels.get(key) not in values) or (
            operator == "NotIn" and present and labels[key] in values) or (
            operator == "Exists" and not present) or (
                operator == "DoesNotExist" and present):
            return False
    return True




def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
