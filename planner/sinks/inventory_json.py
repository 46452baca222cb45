"""The inventory's wire format (``planner scan -o json|yaml``), versioned apart from the model."""

from __future__ import annotations

from typing import Any

from planner.domain.inventory import Inventory, ObjectRef
from planner.sinks.wire import document, to_wire

SCHEMA_VERSION = "meshplan.io/inventory/v1"


def _ref(ref: ObjectRef) -> str:
    return ref.key


def inventory_document(inventory: Inventory) -> dict[str, Any]:
    """The inventory as a plain, sorted document. Object sources are kept (file and document
    index) because they are how a user finds an object again; references print as
    ``Kind/namespace/name``."""
    def entity(obj: Any) -> dict[str, Any]:
        data: dict[str, Any] = to_wire(obj)
        if "ref" in data:
            ref = obj.ref
            data.pop("ref")
            data["kind"], data["namespace"], data["name"] = ref.kind, ref.namespace, ref.name
        if "selects" in data:
            data["selects"] = [_ref(r) for r in obj.selects]
        return data

    return document(SCHEMA_VERSION, {
        "defaultNamespace": inventory.default_namespace,
        "namespaces": [
            {**to_wire(ns), "enrollment": ns.enrollment} for ns in inventory.namespaces
        ],
        "workloads": [entity(w) for w in inventory.workloads],
        "services": [entity(s) for s in inventory.services],
        "configMaps": [entity(c) for c in inventory.config_maps],
        "secrets": [_ref(s) for s in inventory.secrets],
        "routes": [entity(r) for r in inventory.routes],
        "gateways": [entity(g) for g in inventory.gateways],
        "networkPolicies": [entity(p) for p in inventory.network_policies],
        "apiServerCallees": [entity(a) for a in inventory.api_server_callees],
        "istio": [entity(o) for o in inventory.istio],
        "monitors": [entity(m) for m in inventory.monitors],
        "nodes": list(inventory.nodes),
        "crds": list(inventory.crds),
        "other": dict(inventory.other),
        "folded": dict(inventory.folded),
        "diagnostics": [to_wire(d) for d in inventory.diagnostics],
    })
