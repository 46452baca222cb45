"""The JSON writer and the inventory's fast path (value objects written by orjson): both give
the bytes of one sorted dump of the plain document."""

from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.domain.inventory_builder import build_inventory
from planner.sinks import wire
from planner.sinks.inventory_json import NATIVE_VALUES, inventory_document
from planner.sinks.wire import json_bytes
from planner.sources.manifests import load_manifests
from tests.shared_data import CORPUS_CASES, corpus

ROOT = Path(__file__).resolve().parents[2]
SCALARS = {"str", "int", "bool", "str | None", "int | None", "int | str | None",
           "tuple[str, ...]"}


@pytest.mark.parametrize("cls", NATIVE_VALUES, ids=lambda c: c.__name__)
def test_native_value_classes_declare_sorted_fields_of_known_types(cls: type) -> None:
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    assert names == sorted(names), f"{cls.__name__}: orjson writes fields in this order"
    native = {c.__name__ for c in NATIVE_VALUES}
    for f in fields:
        element = str(f.type).removeprefix("tuple[").removesuffix(", ...]")
        assert f.type in SCALARS or element in native, f"{cls.__name__}.{f.name}: {f.type}"
    # orjson writes the instance dict: a cached property would add a key to the output.
    assert not any(isinstance(v, functools.cached_property) for v in vars(cls).values())
    assert not hasattr(cls, "__slots__"), "orjson writes slotted dataclasses 4x slower"


@pytest.mark.parametrize("case", ["shop", "tiny", *CORPUS_CASES])
def test_native_document_writes_the_plain_documents_bytes(case: str) -> None:
    path = ROOT / "sample_clusters" / case if case in ("shop", "tiny") else corpus(case)
    loaded = load_manifests([str(path)], recursive=True)
    inventory = build_inventory(loaded.documents)
    plain = json_bytes(inventory_document(inventory))
    assert json_bytes(inventory_document(inventory, native=True)) == plain
    assert b'"containers": [' in plain or not inventory.workloads


def test_native_document_with_every_value_class(tmp_path: Path) -> None:
    # The generated cluster has no init containers, probes, mounts or routes; this one does.
    manifest = tmp_path / "all.yaml"
    manifest.write_text("""
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a, annotations: {sidecar.istio.io/status: x}}
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
""")
    inventory = build_inventory(load_manifests([str(manifest)]).documents)
    assert inventory.workloads[0].observed is not None
    assert json_bytes(inventory_document(inventory, native=True)) == json_bytes(
        inventory_document(inventory))


def test_an_integer_past_64_bits_in_a_native_object_is_written_as_text(tmp_path: Path) -> None:
    manifest = tmp_path / "big.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
                        "  containers: [{name: c, ports: [{containerPort: "
                        f"{sys.maxsize * 4}}}]}}]\n")
    inventory = build_inventory(load_manifests([str(manifest)]).documents)
    text = json_bytes(inventory_document(inventory, native=True)).decode()
    assert f'"container_port": "{sys.maxsize * 4}"' in text


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
