"""The inventory's wire format (every record, every key written by hand, camelCase) and the JSON
writer (one sorted dump of the document, written in pieces)."""

from __future__ import annotations

import dataclasses
import functools
import sys
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.domain.inventory import (
    ApiServerCallee,
    BackendRef,
    Container,
    ContainerPort,
    EnvFrom,
    EnvVar,
    Inventory,
    Namespace,
    ObjectRef,
    PodState,
    Probe,
    Route,
    RunningPod,
    Service,
    ServicePort,
    VolumeMount,
    Workload,
)
from planner.domain.inventory_builder import build_inventory
from planner.domain.plan import Scope
from planner.sinks import wire
from planner.sinks.inventory_json import inventory_document
from planner.sinks.wire import json_bytes
from planner.sources.manifests import load_manifests

#: A manifest with every inventory record and every optional field set.
EVERY_RECORD = """
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a, annotations: {sidecar.istio.io/status: x}}
status: {podIP: 10.1.2.3}
spec:
  volumes: [{name: cfg, configMap: {name: settings}}, {name: key, secret: {secretName: k}}]
  initContainers: [{name: init, image: busybox, args: [8080, --x]}]
  containers:
  - name: app
    ports: [{containerPort: 8080, name: http}]
    env:
    - {name: A, value: "1"}
    - {name: B, valueFrom: {configMapKeyRef: {name: settings, key: b}}}
    - {name: C, valueFrom: {secretKeyRef: {name: k, key: c}}}
    - {name: D, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    envFrom: [{configMapRef: {name: settings}, prefix: P_}, {secretRef: {name: k}}]
    livenessProbe: {httpGet: {port: http, path: /healthz}}
    readinessProbe: {tcpSocket: {port: 8080}}
    startupProbe: {exec: {command: [true]}}
    volumeMounts: [{name: cfg, mountPath: /etc/cfg}, {name: key, mountPath: /k}]
    securityContext: {runAsUser: 1337}
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: a}
spec: {ports: [{port: 80, targetPort: http, appProtocol: http, nodePort: 30080}], type: NodePort}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: a}
spec: {rules: [{http: {paths: [{path: /, backend: {service: {name: s, port: {number: 80}}}}]}}]}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: w}
webhooks: [{name: w.example.com, clientConfig: {service: {namespace: a, name: s, path: /v}}}]
"""


def _every_record_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "all.yaml"
        manifest.write_text(EVERY_RECORD)
        inventory = build_inventory(load_manifests([str(manifest)]).documents)
    doc: dict[str, Any] = orjson.loads(json_bytes(inventory_document(inventory)))
    return doc


@functools.cache
def _keys_by_record() -> dict[str, set[str]]:
    doc = _every_record_document()
    pod = doc["workloads"][0]
    container = pod["containers"][0]
    service = doc["services"][0]
    return {
        "Namespace": set(doc["namespaces"][0]), "Workload": set(pod),
        "Container": set(container), "ContainerPort": set(container["ports"][0]),
        "EnvVar": set(container["env"][0]), "EnvFrom": set(container["envFrom"][0]),
        "Probe": set(container["probes"][0]), "VolumeMount": set(container["mounts"][0]),
        "PodState": set(pod["observed"]), "Service": set(service),
        "ServicePort": set(service["ports"][0]), "Route": set(doc["routes"][0]),
        "BackendRef": set(doc["routes"][0]["backends"][0]),
        "ApiServerCallee": set(doc["apiServerCallees"][0]),
        "RunningPod": set(doc["pods"][0]),
        "Inventory": set(doc) - {"schemaVersion"},
    }


RECORDS = (Namespace, Workload, Container, ContainerPort, EnvVar, EnvFrom, Probe, VolumeMount,
           PodState, Service, ServicePort, Route, BackendRef, ApiServerCallee, RunningPod,
           Inventory)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_every_field_of_an_inventory_record_has_its_wire_key(cls: type) -> None:
    # The sink writes each key by hand; a field added to a record and forgotten there fails
    # here (ref is printed as kind, namespace and name).
    written = _keys_by_record()[cls.__name__]
    for f in dataclasses.fields(cls):
        if f.name == "ref":
            assert {"kind", "namespace", "name"} <= written
        else:
            assert _camel(f.name) in written, f"{cls.__name__}.{f.name} is not on the wire"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)




def test_every_record_is_written_with_camel_case_keys_and_its_values() -> None:
    doc = _every_record_document()
    pod = doc["workloads"][0]
    app = next(c for c in pod["containers"] if c["name"] == "app")
    assert pod["initContainers"][0]["args"] == ["8080", "--x"]
    assert pod["podAnnotations"] == {"sidecar.istio.io/status": "x"}
    assert pod["serviceAccount"] == "default" and pod["hostNetwork"] is False
    assert pod["observed"] == {"ambientRedirected": 0, "pods": 1, "sidecarInjected": 1}
    assert app["runAsUser"] == 1337 and app["ports"] == [
        {"containerPort": 8080, "name": "http", "protocol": "TCP"}]
    assert {"name": "B", "value": None, "configMap": "settings", "configMapKey": "b",
            "secret": None, "fieldRef": None} in app["env"]
    assert any(e["fieldRef"] == "status.podIP" for e in app["env"])
    assert app["envFrom"][0] == {"kind": "ConfigMap", "name": "settings", "prefix": "P_"}
    assert app["mounts"][0] == {"configMap": "settings", "mountPath": "/etc/cfg",
                                "secret": None, "volume": "cfg"}
    port = doc["services"][0]["ports"][0]
    assert (port["appProtocol"], port["nodePort"], port["targetPort"]) == ("http", 30080, "http")
    assert doc["routes"][0]["apiVersion"] == "networking.k8s.io/v1"
    assert doc["routes"][0]["className"] is None
    assert doc["pods"] == [{"kind": "Pod", "namespace": "a", "name": "p",
                            "workload": "Pod/a/p", "ips": ["10.1.2.3"]}]


def test_to_wire_refuses_a_domain_record_and_converts_plain_data() -> None:
    # A record reaches JSON only through its sink's mapping: converting its fields by their
    # attribute names is what the v2 wire format stopped.
    with pytest.raises(TypeError, match="no wire mapping for ContainerPort"):
        wire.to_wire({"ports": [ContainerPort(8080)]})
    with pytest.raises(TypeError, match="no wire mapping for ObjectRef"):
        wire.to_wire(ObjectRef("Service", "a", "b"))
    assert wire.to_wire({"b": (1, {"d": 2, "c": None}), "a": Scope.MESH}) == {
        "a": "mesh", "b": [1, {"c": None, "d": 2}]}
    assert list(wire.to_wire({"b": 1, "a": 2})) == ["a", "b"]


def test_an_integer_past_64_bits_is_written_as_text(tmp_path: Path) -> None:
    manifest = tmp_path / "big.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                        "  containers: [{name: c, securityContext: {runAsUser: "
                        f"{sys.maxsize * 4}}}}}]\n")
    inventory = build_inventory(load_manifests([str(manifest)]).documents)
    text = json_bytes(inventory_document(inventory)).decode()
    assert f'"runAsUser": "{sys.maxsize * 4}"' in text


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=9)
    | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "items", "z"]), _json_values),
       st.none() | st.text(max_size=5) | st.integers(0, 9), st.integers(1, 4))
def test_json_in_pieces_is_one_sorted_dump_with_the_version_first(
        document: dict[str, object], version: str | int | None, batch: int) -> None:
    if version is not None:
        document = {"schemaVersion": version, **document}
    options = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE | orjson.OPT_SORT_KEYS
    expected = orjson.dumps(document, option=options)
    if "schemaVersion" in document and len(document) > 1:
        rest = orjson.dumps({k: v for k, v in document.items() if k != "schemaVersion"},
                            option=options)
        version = orjson.dumps(document["schemaVersion"], option=orjson.OPT_SORT_KEYS)
        expected = b'{\n  "schemaVersion": ' + version + b",\n" + rest[2:]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wire, "_BATCH", batch)  # long lists are written a batch at a time
        assert b"".join(wire.json_chunks(document)) == expected


_sink_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=5) | st.dates()
    | st.sampled_from(Scope),
    lambda inner: st.lists(inner, max_size=6) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=3) | st.integers(-3, 300), inner, max_size=4)
    | st.dictionaries(st.text(max_size=3), inner, max_size=4).map(MappingProxyType),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "schemaVersion"]), _sink_values))
def test_json_of_data_as_sinks_build_it_is_the_json_of_its_wire_form(
        document: dict[str, Any]) -> None:
    # Sinks may leave maps unsorted, tuples, enums and non-string keys in a document (the
    # report does): the JSON writer gives the bytes of the document converted by to_wire.
    assert json_bytes(document) == json_bytes(wire.to_wire(document))


def test_the_json_writer_refuses_a_record_to_wire_refuses() -> None:
    with pytest.raises(TypeError, match="no wire mapping for ObjectRef"):
        json_bytes({"steps": [{"ref": ObjectRef("Service", "a", "b")}]})
    with pytest.raises(TypeError, match="no wire mapping for ContainerPort"):
        wire.canonical_json({"ports": (ContainerPort(8080),)})
