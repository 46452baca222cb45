"""The inventory's wire format (``planner scan -o json|yaml``), versioned apart from the model."""

from __future__ import annotations

from typing import Any

from planner.domain.diagnostics import Diagnostic, Source, capped
from planner.domain.inventory import (
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
from planner.sinks.wire import document, to_wire

SCHEMA_VERSION = "meshplan.io/inventory/v2"

# One function per record: the wire key of every field is written out here, so renaming an
# attribute never renames a key. Each returns a fresh dict in one display (no second pass over
# a 10,000-service inventory); tuples of strings become lists, and label and annotation maps are
# passed on as they are: json_bytes sorts every map, and print_document's YAML follows it.


def source_body(source: Source | None) -> dict[str, Any] | None:
    """Where an object was read: file, document index, List item and line."""
    if source is None:
        return None
    return {"file": source.file, "doc": source.doc, "item": source.item, "line": source.line}


def diagnostic_body(diagnostic: Diagnostic) -> dict[str, Any]:
    """One scan diagnostic: its severity, message and source."""
    return {"severity": diagnostic.severity.value, "message": diagnostic.message,
            "source": source_body(diagnostic.source)}


def _ref_body(ref: ObjectRef) -> dict[str, str]:
    return {"kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def _namespace(ns: Namespace) -> dict[str, Any]:
    return {"name": ns.name, "labels": ns.labels, "annotations": ns.annotations,
            "declared": ns.declared, "enrollment": ns.enrollment,
            "source": source_body(ns.source)}


def _port(port: ContainerPort) -> dict[str, Any]:
    return {"containerPort": port.container_port, "name": port.name, "protocol": port.protocol}


def _env(env: EnvVar) -> dict[str, Any]:
    return {"name": env.name, "value": env.value, "configMap": env.config_map,
            "configMapKey": env.config_map_key, "secret": env.secret, "fieldRef": env.field_ref}


def _env_from(env: EnvFrom) -> dict[str, Any]:
    return {"kind": env.kind, "name": env.name, "prefix": env.prefix}


def _probe(probe: Probe) -> dict[str, Any]:
    return {"kind": probe.kind, "handler": probe.handler, "path": probe.path, "port": probe.port}


def _mount(mount: VolumeMount) -> dict[str, Any]:
    return {"volume": mount.volume, "mountPath": mount.mount_path,
            "configMap": mount.config_map, "secret": mount.secret}


def _container(c: Container) -> dict[str, Any]:
    return {
        "name": c.name,
        "image": c.image,
        "command": list(c.command),
        "args": list(c.args),
        "ports": [_port(p) for p in c.ports],
        "env": [_env(e) for e in c.env],
        "envFrom": [_env_from(e) for e in c.env_from],
        "mounts": [_mount(m) for m in c.mounts],
        "probes": [_probe(p) for p in c.probes],
        "runAsUser": c.run_as_user,
    }


def _pod_state(state: PodState | None) -> dict[str, int] | None:
    if state is None:
        return None
    return {"pods": state.pods, "sidecarInjected": state.sidecar_injected,
            "ambientRedirected": state.ambient_redirected}


def _workload(w: Workload) -> dict[str, Any]:
    ref = w.ref
    return {
        **_ref_body(ref),
        "replicas": w.replicas,
        "labels": w.labels,
        "annotations": w.annotations,
        "podLabels": w.pod_labels,
        "podAnnotations": w.pod_annotations,
        "selector": w.selector,
        "serviceAccount": w.service_account,
        "hostNetwork": w.host_network,
        "containers": [_container(c) for c in w.containers],
        "initContainers": [_container(c) for c in w.init_containers],
        "runAsUser": w.run_as_user,
        "observed": _pod_state(w.observed),
        "source": source_body(w.source),
    }


def _service_port(port: ServicePort) -> dict[str, Any]:
    return {"name": port.name, "port": port.port, "targetPort": port.target_port,
            "protocol": port.protocol, "appProtocol": port.app_protocol,
            "nodePort": port.node_port}


def _service(s: Service) -> dict[str, Any]:
    ref = s.ref
    return {
        **_ref_body(ref),
        "type": s.type,
        "headless": s.headless,
        "selector": s.selector,
        "ports": [_service_port(p) for p in s.ports],
        "labels": s.labels,
        "annotations": s.annotations,
        "externalName": s.external_name,
        "selects": [r.key for r in s.selects],
        "source": source_body(s.source),
    }


def _config_map(c: ConfigMap) -> dict[str, Any]:
    ref = c.ref
    return {**_ref_body(ref), "data": c.data,
            "source": source_body(c.source)}


def _backend(b: BackendRef) -> dict[str, Any]:
    return {"namespace": b.namespace, "service": b.service, "port": b.port, "path": b.path,
            "weight": b.weight}


def _route(r: Route) -> dict[str, Any]:
    ref = r.ref
    return {
        **_ref_body(ref),
        "apiVersion": r.api_version,
        "className": r.class_name,
        "backends": [_backend(b) for b in r.backends],
        "parents": [_ref_body(p) for p in r.parents],
        "spec": to_wire(r.spec),
        "source": source_body(r.source),
    }


def _api_callee(a: ApiServerCallee) -> dict[str, Any]:
    ref = a.ref
    return {**_ref_body(ref),
            "backends": [_backend(b) for b in a.backends], "source": source_body(a.source)}


def _pod(pod: RunningPod) -> dict[str, Any]:
    ref = pod.ref
    return {**_ref_body(ref),
            "workload": pod.workload.key, "ips": list(pod.ips)}


def _policy(p: PolicyObject) -> dict[str, Any]:
    ref = p.ref
    return {
        **_ref_body(ref),
        "apiVersion": p.api_version,
        "spec": to_wire(p.spec),
        "labels": p.labels,
        "annotations": p.annotations,
        "created": p.created,
        "source": source_body(p.source),
    }


def inventory_document(inventory: Inventory, *, unread: tuple[str, ...] = ()) -> dict[str, Any]:
    """The inventory as a plain document. Object sources are kept (file and document index)
    because they are how a user finds an object again; references print as
    ``Kind/namespace/name``. ``unread`` (kinds a live scan could not read) become
    ``unreadKinds``, left out when every kind was read."""
    return document(SCHEMA_VERSION, {
        "defaultNamespace": inventory.default_namespace,
        "namespaces": [_namespace(ns) for ns in inventory.namespaces],
        "workloads": [_workload(w) for w in inventory.workloads],
        "services": [_service(s) for s in inventory.services],
        "configMaps": [_config_map(c) for c in inventory.config_maps],
        "secrets": [s.key for s in inventory.secrets],
        "routes": [_route(r) for r in inventory.routes],
        "gateways": [_policy(g) for g in inventory.gateways],
        "networkPolicies": [_policy(p) for p in inventory.network_policies],
        "apiServerCallees": [_api_callee(a) for a in inventory.api_server_callees],
        "istio": [_policy(o) for o in inventory.istio],
        "monitors": [_policy(m) for m in inventory.monitors],
        "nodes": list(inventory.nodes),
        "crds": list(inventory.crds),
        "pods": [_pod(p) for p in inventory.pods],
        "other": to_wire(inventory.other),
        "folded": to_wire(inventory.folded),
        "diagnostics": [diagnostic_body(d) for d in capped(inventory.diagnostics)],
        **({"unreadKinds": list(unread)} if unread else {}),
    }, converted=True)
