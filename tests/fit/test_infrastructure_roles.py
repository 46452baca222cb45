"""Which workloads stay outside the mesh by design, judged by their images (MESH-NOTES §7.2,
§7.5): the image's name is its last path segment without tag or digest, wherever it is pulled
from."""

from __future__ import annotations

import pytest

from planner.domain.diagnostics import Source
from planner.domain.inventory_builder import build_inventory
from planner.domain.roles import infrastructure_role
from planner.sources.manifests import RawDocument


def role_of(*images: str) -> str | None:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "server", "namespace": "monitoring"},
            "spec": {"selector": {"matchLabels": {"app": "server"}},
                     "template": {"metadata": {"labels": {"app": "server"}},
                                  "spec": {"containers": containers}}}}
    inventory = build_inventory([RawDocument(Source("roles.yaml", 0), body)])
    (workload,) = inventory.workloads
    return infrastructure_role(workload)


@pytest.mark.parametrize("image", [
    "prom/prometheus:v2.53.0",
    "quay.io/prometheus/prometheus:v2.53.0",
    # A registry with a port: the tag is cut after the path, not at the registry's colon.
    "registry.local:5000/prometheus:v2.53.0",
    "registry.local:5000/mirror/prometheus",
    "prom/prometheus@sha256:" + "a" * 64,
    "Prom/Prometheus",
])
def test_a_prometheus_image_is_prometheus_wherever_it_is_pulled_from(image: str) -> None:
    assert role_of(image) == "Prometheus"


@pytest.mark.parametrize("image", [
    "prom/prometheus-config-reloader:v0.75.0",
    "registry.local:5000/prometheus-adapter:v0.12.0",
    "prometheus.example.com/app/api:1.0",
])
def test_an_image_that_only_mentions_prometheus_is_not_prometheus(image: str) -> None:
    assert role_of(image) is None


def test_a_sidecar_of_prometheus_keeps_the_role() -> None:
    assert role_of("registry.local:5000/config-reloader:1", "registry.local:5000/prometheus:2") \
        == "Prometheus"


def test_ingress_controller_images_win_over_prometheus() -> None:
    assert role_of("registry.k8s.io/ingress-nginx/controller:v1.11.0") == "ingress controller"
