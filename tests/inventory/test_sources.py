"""Tracing objects back to their file: ``ObjectRef.from_key`` and ``Inventory.source_of``, which
the report uses to give each finding its ``location``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from planner.domain.diagnostics import Source
from planner.domain.inventory import ObjectRef
from planner.domain.inventory_builder import build_inventory

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec: {containers: [{name: cart, image: cart:1}]}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec: {selector: {app: cart}, ports: [{port: 80}]}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  service: {name: cart, namespace: shop, port: 80}
"""


@dataclass(frozen=True)
class Doc:
    source: Source
    body: dict[str, Any]


@pytest.mark.parametrize("ref", [ObjectRef("Deployment", "shop", "cart"),
                                 ObjectRef("APIService", "", "v1beta1.metrics.k8s.io"),
                                 ObjectRef("Namespace", "", "shop")])
def test_from_key_inverts_key(ref: ObjectRef) -> None:
    assert ObjectRef.from_key(ref.key) == ref


@pytest.mark.parametrize("text", ["shop", "", "Deployment//cart", "a/b/c/d", "MP212"])
def test_from_key_refuses_text_that_is_no_key(text: str) -> None:
    assert ObjectRef.from_key(text) is None


def test_source_of_finds_each_object_read_and_nothing_else() -> None:
    documents = [Doc(Source("shop.yaml", i, line=i * 10), body)
                 for i, body in enumerate(yaml.safe_load_all(MANIFESTS), 1)]
    inventory = build_inventory(documents)
    keys = ["Namespace/shop", "Deployment/shop/cart", "Service/shop/cart",
            "APIService/v1beta1.metrics.k8s.io", "Service/shop/gone", "Deployment/other/cart",
            "shop", "Deployment//cart"]
    found = {key: source.doc for key in keys if (source := inventory.source_of(key))}
    assert found == {"Namespace/shop": 1, "Deployment/shop/cart": 2, "Service/shop/cart": 3,
                     "APIService/v1beta1.metrics.k8s.io": 4}
    assert inventory.source_of("Service/shop/cart") == Source("shop.yaml", 3, line=30)
