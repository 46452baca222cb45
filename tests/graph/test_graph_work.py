"""The graph build does its per-string and per-workload work once. Counted, not timed, on a
generated cluster (sample_clusters/generate.py, 3.5 calls per service), whose workloads share
strings (every one carries ``LOG_LEVEL=info``) and none of which is an Istio gateway."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
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
    cluster opened workload by workload)."""
    sys.path.insert(0, str(ROOT / "sample_clusters"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    generate.generate(namespaces, 6, seed=7, out=tmp, density=3.5)
    manifests = tmp / "manifests"
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
    (manifests / "zz-policies.yaml").write_text(yaml.safe_dump_all(policies), encoding="utf-8")
    inventory = service.scan(service.ManifestInput((str(manifests),))).inventory
    lines = 0

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal lines
        lines += event == "line"
        return local

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        return local if frame.f_code.co_filename.startswith(PLANNER) else None

    sys.settrace(tracer)
    try:
        graph_builder.build_graph(inventory)
    finally:
        sys.settrace(None)
    return lines


def test_a_policy_per_workload_costs_the_graph_work_per_policy(tmp_path: Path) -> None:
    """A NetworkPolicy's targets and peers, and an AuthorizationPolicy's, are looked for among
    the workloads of their namespace, not of the cluster: with a policy per workload, four
    times the namespaces is four times the work. Before, each policy tested every workload of
    the cluster: 5 -> 20 namespaces grew the lines 7.6x, now 4.1x."""
    small = _graph_lines_with_policies(tmp_path / "small", 5)
    large = _graph_lines_with_policies(tmp_path / "large", 20)
    assert large / small < 4.6, large / small
