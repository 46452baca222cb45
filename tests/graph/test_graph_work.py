"""The graph build does its per-string and per-workload work once. Counted, not timed, on a
generated cluster (sample_clusters/generate.py, 3.5 calls per service), whose workloads share
strings (every one carries ``LOG_LEVEL=info``) and none of which is an Istio gateway."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from planner import service
from planner.domain import graph_builder, roles
from planner.domain.addresses import Address
from planner.domain.inventory import Inventory, Workload

ROOT = Path(__file__).resolve().parents[2]


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
    asked: Counter[str] = Counter()
    is_istio_gateway = roles.is_istio_gateway

    def counting(workload: Workload) -> Any:
        asked[workload.ref.key] += 1
        return is_istio_gateway(workload)

    # The builder's own name for it and the one infrastructure_role calls.
    monkeypatch.setattr(graph_builder, "is_istio_gateway", counting)
    monkeypatch.setattr(roles, "is_istio_gateway", counting)
    graph_builder.build_graph(inventory)
    assert set(asked) == {w.ref.key for w in inventory.workloads}
    assert set(asked.values()) == {1}
