"""The inventory's wire format (``planner scan -o json|yaml``), versioned apart from the model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.domain.inventory import (
    ApiServerCallee,
    ConfigMap,
    Inventory,
    Namespace,
    ObjectRef,
    PolicyObject,
    Route,
    Service,
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

# Converters that emit the wire shape directly: one pass over a 10,000-service inventory
# instead of converting the model and then reshaping (and re-walking) every object.
_namespace = dataclass_converter(Namespace, {"enrollment": "o.enrollment"})
_workload = dataclass_converter(Workload, _FLAT_REF)
_service = dataclass_converter(
    Service, {**_FLAT_REF, "selects": lambda s: [_ref(r) for r in s.selects]})
_config_map = dataclass_converter(ConfigMap, _FLAT_REF)
_route = dataclass_converter(Route, _FLAT_REF)
_policy = dataclass_converter(PolicyObject, _FLAT_REF)
_api_callee = dataclass_converter(ApiServerCallee, _FLAT_REF)


def inventory_document(inventory: Inventory) -> dict[str, Any]:
    """The inventory as a plain, sorted document. Object sources are kept (file and document
    index) because they are how a user finds an object again; references print as
    ``Kind/namespace/name``."""
    return document(SCHEMA_VERSION, {
        "defaultNamespace": inventory.default_namespace,
        "namespaces": [_namespace(ns) for ns in inventory.namespaces],
        "workloads": [_workload(w) for w in inventory.workloads],
        "services": [_service(s) for s in inventory.services],
        "configMaps": [_config_map(c) for c in inventory.config_maps],
        "secrets": [_ref(s) for s in inventory.secrets],
        "routes": [_route(r) for r in inventory.routes],
        "gateways": [_policy(g) for g in inventory.gateways],
        "networkPolicies": [_policy(p) for p in inventory.network_policies],
        "apiServerCallees": [_api_callee(a) for a in inventory.api_server_callees],
        "istio": [_policy(o) for o in inventory.istio],
        "monitors": [_policy(m) for m in inventory.monitors],
        "nodes": list(inventory.nodes),
        "crds": list(inventory.crds),
        "other": to_wire(inventory.other),
        "folded": to_wire(inventory.folded),
        "diagnostics": [to_wire(d) for d in inventory.diagnostics],
    }, converted=True)
