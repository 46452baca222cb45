"""The graph build does its per-string and per-workload work once. Counted, not timed, on a
generated cluster (sample_clusters/generate.py, 3.5 calls per service), whose workloads share
strings (every one carries ``LOG_LEVEL=info``) and none of which is an Istio gateway."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml

import planner
from planner import service
from planner.domain import graph_builder, roles
from planner.domain.addresses import Address
from planner.domain.analysis import Analysis, ScanResult
from planner.domain.findings import RuleContext
from planner.domain.inventory import Inventory, Workload
from planner.domain.profile import Profile

ROOT = Path(__file__).resolve().parents[2]
PLANNER = str(Path(planner.__file__).resolve().parent)


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    sys.path.insert(0, str(ROOT / "sample_clusters"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    out = tmp_path_factory.mktemp("cluster")
    generate.generate(4, 12, seed=7, out=out, density=3.5)
    return service.scan(service.ManifestInput((str(out / "manifests"),))).inventory


def test_each_distinct_string_is_cut_into_addresses_once(
        inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    cut: Counter[str] = Counter()
    find_addresses = graph_builder.find_addresses

    def counting(value: str) -> list[Address]:
        cut[value] += 1
        return find_addresses(value)

    monkeypatch.setattr(graph_builder, "find_addresses", counting)
    assert graph_builder.build_graph(inventory).edges
    assert cut["info"] == 1  # in every workload's env
    assert [value for value, times in cut.items() if times > 1] == []


def test_each_workload_is_asked_once_whether_it_is_an_istio_gateway(
        inventory: Inventory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once for the whole run: the graph, the fit verdict, the plan's membership and its
    callers' fates all ask it of every workload (Inventory.roles keeps the answers)."""
    asked: Counter[str] = Counter()
    is_istio_gateway = roles.is_istio_gateway

    def counting(workload: Workload) -> Any:
        asked[workload.ref.key] += 1
        return is_istio_gateway(workload)

    monkeypatch.setattr(roles, "is_istio_gateway", counting)
    inventory = replace(inventory)  # without the answers kept by the tests before
    graph = graph_builder.build_graph(inventory)
    analysis = Analysis(
        ScanResult(inventory, "generated"), graph, Profile(),
        RuleContext(inventory, graph, Profile(), "istio-system"))
    assert service.build_plan(analysis).steps
    assert set(asked) == {w.ref.key for w in inventory.workloads}
    assert set(asked.values()) == {1}


def _graph_lines_with_policies(tmp: Path, namespaces: int) -> int:
    """Lines run in the planner package by ``build_graph`` on a generated cluster where every
    workload has a NetworkPolicy and an ALLOW AuthorizationPolicy of its own (a default-deny
    cluster opened workload by workload), and a ServiceMonitor and a PodMonitor."""
    manifests = _generated(tmp, namespaces)
    workloads = service.scan(service.ManifestInput((str(manifests),))).inventory.workloads
    policies: list[dict[str, Any]] = []
    for w in workloads:
        meta = {"name": w.name, "namespace": w.namespace}
        first = dict(list(w.pod_labels.items())[:1])
        policies.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "metadata": meta, "spec": {"podSelector": {"matchLabels": first},
                                                    "ingress": [{"from": [{"podSelector": {
                                                        "matchLabels": {"app": "none"}}}]}]}})
        policies.append({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                         "metadata": meta, "spec": {
                             "selector": {"matchLabels": first}, "rules": [{"from": [{
                                 "source": {"principals": [
                                     f"cluster.local/ns/{w.namespace}/sa/none"]}}]}]}})
        for kind, endpoints in (("ServiceMonitor", "endpoints"),
                                ("PodMonitor", "podMetricsEndpoints")):
            policies.append({"apiVersion": "monitoring.coreos.com/v1", "kind": kind,
                             "metadata": meta, "spec": {"selector": {"matchLabels": first},
                                                        endpoints: [{"port": "http"}]}})
    (manifests / "zz-policies.yaml").write_text(yaml.safe_dump_all(policies), encoding="utf-8")
    inventory = service.scan(service.ManifestInput((str(manifests),))).inventory
    return _lines(lambda: graph_builder.build_graph(inventory))


def _generated(tmp: Path, namespaces: int) -> Path:
    """The manifests folder of a generated cluster of ``namespaces`` x 6 services."""
    sys.path.insert(0, str(ROOT / "sample_clusters"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    generate.generate(namespaces, 6, seed=7, out=tmp, density=3.5)
    return tmp / "manifests"


def _lines(run: Callable[[], object]) -> int:
    """Lines run in the planner package by ``run()``."""
    lines = 0

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal lines
        lines += event == "line"
        return local

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        return local if frame.f_code.co_filename.startswith(PLANNER) else None

    sys.settrace(tracer)
    try:
        run()
    finally:
        sys.settrace(None)
    return lines


def test_a_policy_per_workload_costs_the_graph_work_per_policy(tmp_path: Path) -> None:
    """A NetworkPolicy's targets and peers, an AuthorizationPolicy's and a monitor's are looked
    for among the workloads and Services of their namespaces, not of the cluster: with a
    policy per workload, four times the namespaces is four times the work. Before, each
    policy tested every workload of the cluster: 5 -> 20 namespaces grew the lines 9.3x, now
    4.1x."""
    small = _graph_lines_with_policies(tmp_path / "small", 5)
    large = _graph_lines_with_policies(tmp_path / "large", 20)
    assert large / small < 4.6, large / small


def _with_a_route_and_virtual_service_per_service(tmp: Path, namespaces: int) -> Path:
    """A generated cluster where every Service has an Ingress (one controller class for all)
    and a VirtualService splitting its traffic between two subsets."""
    manifests = _generated(tmp, namespaces)
    services = service.scan(service.ManifestInput((str(manifests),))).inventory.services
    objects: list[dict[str, Any]] = []
    for s in services:
        meta = {"name": s.name, "namespace": s.namespace}
        objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
                        "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [{
                            "path": "/", "pathType": "Prefix", "backend": {"service": {
                                "name": s.name, "port": {"number": s.ports[0].port}}}}]}}]}})
        objects.append({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                        "metadata": meta, "spec": {"hosts": [s.name], "http": [{"route": [
                            {"destination": {"host": s.name, "subset": "v1"}, "weight": 90},
                            {"destination": {"host": s.name, "subset": "v2"}, "weight": 10}]}]}})
    (manifests / "zz-routes.yaml").write_text(yaml.safe_dump_all(objects), encoding="utf-8")
    return manifests


def test_a_route_and_a_virtual_service_per_service_cost_work_per_object(tmp_path: Path) -> None:
    """Whether an ingress controller is meshed is worked out once per controller, not once
    per Ingress over every workload; the data planes find a VirtualService's workloads and
    objects through the inventory's indexes, not by walking all of them for each one. Before,
    the graph and the assessment grew 8.1x from 5 to 20 namespaces (now 3.7x); 99 s and 57 s
    of CPU with 5,000 of each on the 10,000-service cluster."""
    counts = []
    for namespaces in (5, 20):
        manifests = _with_a_route_and_virtual_service_per_service(
            tmp_path / str(namespaces), namespaces)
        analysis = service.analyse(service.ManifestInput((str(manifests),)))
        inventory = analysis.scan.inventory
        counts.append(_lines(partial(graph_builder.build_graph, inventory))
                      + _lines(partial(service.assess, analysis)))
    assert counts[1] / counts[0] < 4.6, counts[1] / counts[0]
