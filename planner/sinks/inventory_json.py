"""The inventory's wire format (``planner scan -o json|yaml``), versioned apart from the model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from planner.domain.diagnostics import capped
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
    Service,
    ServicePort,
    VolumeMount,
    Workload,
)
from planner.sinks.wire import Override, dataclass_converter, document, to_wire

SCHEMA_VERSION = "meshplan.io/inventory/v1"


def _ref(ref: ObjectRef) -> str:
    return ref.key


#: Objects with an identity print it as top-level ``kind``, ``namespace`` and ``name`` keys.
_FLAT_REF: Mapping[str, Override] = {
    "ref": None,
    "kind": "o.ref.kind",
    "namespace": "o.ref.namespace",
    "name": "o.ref.name",
}

#: Value classes that :func:`planner.sinks.wire.json_bytes` writes itself (orjson, in C) in
#: ``inventory_document(..., native=True)``: each declares its fields in sorted order and holds
#: only scalars and other native classes, so the JSON is the same as for the plain document.
NATIVE_VALUES: tuple[type, ...] = (BackendRef, Container, ContainerPort, EnvFrom, EnvVar,
                                   PodState, Probe, ServicePort, VolumeMount)


@dataclass(frozen=True)
class _Converters:
    """Converters that emit the wire shape directly: one pass over a 10,000-service inventory
    instead of converting the model and then reshaping (and re-walking) every object."""

    workload: Callable[[Workload], dict[str, Any]]
    service: Callable[[Service], dict[str, Any]]
    route: Callable[[Route], dict[str, Any]]
    api_callee: Callable[[ApiServerCallee], dict[str, Any]]


def _converters(native: tuple[type, ...]) -> _Converters:
    return _Converters(
        workload=dataclass_converter(Workload, _FLAT_REF, native=native),
        service=dataclass_converter(
            Service, {**_FLAT_REF, "selects": lambda s: [_ref(r) for r in s.selects]},
            native=native),
        route=dataclass_converter(Route, _FLAT_REF, native=native),
        api_callee=dataclass_converter(ApiServerCallee, _FLAT_REF, native=native),
    )


_PLAIN = _converters(())
_NATIVE = _converters(NATIVE_VALUES)
_namespace = dataclass_converter(Namespace, {"enrollment": "o.enrollment"})
_config_map = dataclass_converter(ConfigMap, _FLAT_REF)
_policy = dataclass_converter(PolicyObject, _FLAT_REF)


def inventory_document(inventory: Inventory, *, native: bool = False,
                       unread: tuple[str, ...] = ()) -> dict[str, Any]:
    """The inventory as a plain, sorted document. Object sources are kept (file and document
    index) because they are how a user finds an object again; references print as
    ``Kind/namespace/name``. ``unread`` (kinds a live scan could not read) become
    ``unreadKinds``, left out when every kind was read.

    ``native`` leaves containers, ports, probes and backends as the model's objects, for
    ``json_bytes`` only: orjson writes them faster than it writes their dicts, with the same
    bytes (docs/performance.md)."""
    convert = _NATIVE if native else _PLAIN
    return document(SCHEMA_VERSION, {
        "defaultNamespace": inventory.default_namespace,
        "namespaces": [_namespace(ns) for ns in inventory.namespaces],
        "workloads": [convert.workload(w) for w in inventory.workloads],
        "services": [convert.service(s) for s in inventory.services],
        "configMaps": [_config_map(c) for c in inventory.config_maps],
        "secrets": [_ref(s) for s in inventory.secrets],
        "routes": [convert.route(r) for r in inventory.routes],
        "gateways": [_policy(g) for g in inventory.gateways],
        "networkPolicies": [_policy(p) for p in inventory.network_policies],
        "apiServerCallees": [convert.api_callee(a) for a in inventory.api_server_callees],
        "istio": [_policy(o) for o in inventory.istio],
        "monitors": [_policy(m) for m in inventory.monitors],
        "nodes": list(inventory.nodes),
        "crds": list(inventory.crds),
        "other": to_wire(inventory.other),
        "folded": to_wire(inventory.folded),
        "diagnostics": [to_wire(d) for d in capped(inventory.diagnostics)],
        **({"unreadKinds": list(unread)} if unread else {}),
    }, converted=True)
