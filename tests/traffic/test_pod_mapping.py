"""Pods named by a flow source (Hubble) mapped to the scanned workloads: by the input's Pods
(ownerReferences), by pod IP, by the controller's pod naming, by labels, in that order; what
stays unmapped says why and how much traffic it carried."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from planner.domain.diagnostics import Source
from planner.domain.inventory import Inventory
from planner.domain.inventory_builder import build_inventory
from planner.domain.observed import resolve_pods
from planner.domain.traffic import (
    PRESENCE,
    TCP,
    UNKNOWN,
    ObservedEdge,
    SeenPod,
    TrafficSnapshot,
)


@dataclass(frozen=True)
class Doc:
    source: Source
    body: dict[str, Any]


MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template: {metadata: {labels: {app: api, version: v1}}, spec: {containers: [{name: a, image: a}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api-v2, namespace: shop}
spec:
  selector: {matchLabels: {app: api, version: v2}}
  template: {metadata: {labels: {app: api, version: v2}}, spec: {containers: [{name: a, image: a}]}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: d, image: d}]}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: a}]}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "0 3 * * 0"
  jobTemplate:
    spec:
      template: {metadata: {labels: {job: report}},
                 spec: {containers: [{name: r, image: r}], restartPolicy: Never}}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {selector: {app: db}, ports: [{port: 5432}]}
"""

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {namespace}
  labels: {labels}
  ownerReferences: [{{kind: {owner_kind}, name: {owner}, controller: true}}]
spec: {{containers: [{{name: c, image: c}}]}}
status: {{phase: Running, podIP: {ip}}}
"""


def _inventory(*pods: dict[str, str]) -> Inventory:
    text = MANIFESTS + "".join("---\n" + POD.format(**p) for p in pods)
    return build_inventory([Doc(Source("in.yaml", i), b)
                            for i, b in enumerate(yaml.safe_load_all(text), 1) if b])


def _edge(src: str, dst: str, total: float = 1.0, dst_ns: str = "shop") -> ObservedEdge:
    return ObservedEdge("shop", src, dst_ns, UNKNOWN, dst, TCP, total, 0.0, total,
                        evidence=PRESENCE)


def _resolve(inventory: Inventory, pods: list[SeenPod],
             edges: list[ObservedEdge]) -> TrafficSnapshot:
    snap = TrafficSnapshot.build(edges, window="5m", source="hubble export f",
                                 evidence=PRESENCE, pods=tuple(pods))
    return resolve_pods(snap, inventory)


def _ways(snap: TrafficSnapshot) -> dict[str, tuple[str, str]]:
    return {m.pod: (m.workload, m.via or m.reason) for m in snap.pod_mappings}


API_POD = {"name": "api-v2-5f7c9d8b4-k2x7q", "namespace": "shop",
           "labels": "{app: api, version: v2, pod-template-hash: 5f7c9d8b4}",
           "owner_kind": "ReplicaSet", "owner": "api-v2-5f7c9d8b4", "ip": "10.1.0.5"}


def test_a_pod_the_input_holds_maps_by_its_owner_references() -> None:
    # Its name would say nothing (a custom controller's naming): its owner chain decides.
    pod = {**API_POD, "name": "custom-name-1"}
    snap = _resolve(_inventory(pod), [SeenPod("shop", "custom-name-1", ("app=api",))],
                    [_edge("custom-name-1", "db-0")])
    assert _ways(snap)["custom-name-1"] == ("Deployment/shop/api-v2", "owner-references")
    assert snap.edges[0].source_workload == "api-v2"


def test_a_peer_shown_by_ip_maps_by_the_pod_holding_that_ip() -> None:
    seen = SeenPod("shop", "pod@10.1.0.5", (), "10.1.0.5")
    snap = _resolve(_inventory(API_POD), [seen], [_edge("pod@10.1.0.5", "db-0")])
    assert _ways(snap)["pod@10.1.0.5"] == ("Deployment/shop/api-v2", "pod-ip")
    assert snap.edges[0].source_workload == "api-v2"


def test_an_ip_no_pod_holds_is_not_mapped_by_its_labels() -> None:
    """With Pods of that namespace in the input, an IP none of them holds is a node's
    address or a pod gone: labels seen on it prove nothing."""
    seen = SeenPod("shop", "pod@10.9.9.9", ("app=db",), "10.9.9.9")
    snap = _resolve(_inventory(API_POD), [seen], [_edge("pod@10.9.9.9", "db-0")])
    assert _ways(snap)["pod@10.9.9.9"] == (
        "", "no Pod of the input holds this IP (a node's address, or a pod gone)")
    # Without Pods in the input, the labels are all there is.
    snap = _resolve(_inventory(), [seen], [_edge("pod@10.9.9.9", "db-0")])
    assert _ways(snap)["pod@10.9.9.9"] == ("StatefulSet/shop/db", "labels")


def test_an_ip_held_in_another_namespace_or_by_two_workloads_names_no_one() -> None:
    other = {**API_POD, "namespace": "other"}
    seen = SeenPod("shop", "pod@10.1.0.5", (), "10.1.0.5")
    snap = _resolve(_inventory(other), [seen], [_edge("pod@10.1.0.5", "db-0")])
    assert _ways(snap)["pod@10.1.0.5"] == (
        "", "the input's Pod with this IP is in namespace other")
    twin = {**API_POD, "name": "db-0", "labels": "{app: db}", "owner_kind": "StatefulSet",
            "owner": "db"}
    snap = _resolve(_inventory(API_POD, twin), [seen], [_edge("pod@10.1.0.5", "db-0")])
    assert _ways(snap)["pod@10.1.0.5"] == ("", "2 workloads' Pods of the input hold this IP")


@pytest.mark.parametrize("pod,workload", [
    ("api-v2-5f7c9d8b4-k2x7q", "Deployment/shop/api-v2"),
    ("api-84c6f9d7b-zq9xw", "Deployment/shop/api"),
    ("api-3897285541-zq9xw", "Deployment/shop/api"),  # an old numeric template hash
    ("db-0", "StatefulSet/shop/db"),
    ("db-12", "StatefulSet/shop/db"),
    ("agent-7xk2p", "DaemonSet/shop/agent"),
    ("report-29123456-7hq2k", "CronJob/shop/report"),
])
def test_without_the_pod_its_name_follows_its_controller(pod: str, workload: str) -> None:
    snap = _resolve(_inventory(), [SeenPod("shop", pod)], [_edge(pod, "db-0")])
    assert _ways(snap)[pod] == (workload, "pod-name")


def test_a_name_whose_labels_miss_the_selector_is_not_that_controller_s_pod() -> None:
    """``api-v2-...`` with version v1 labels is not api-v2's pod (its selector needs v2): the
    pod-template labels then decide (api's)."""
    seen = SeenPod("shop", "api-v2-5f7c9d8b4-k2x7q", ("app=api", "version=v1"))
    snap = _resolve(_inventory(), [seen], [_edge(seen.name, "db-0")])
    assert _ways(snap)[seen.name] == ("Deployment/shop/api", "labels")


def test_unmapped_pods_keep_their_names_and_the_note_counts_them() -> None:
    pods = [SeenPod("shop", "db-0"), SeenPod("shop", "ghost-1a2b3"),
            SeenPod("gone", "x-7xk2p")]
    edges = [_edge("ghost-1a2b3", "db-0", 3), _edge("ghost-1a2b3", "x-7xk2p", 2, "gone")]
    snap = _resolve(_inventory(), pods, edges)
    assert _ways(snap) == {
        "db-0": ("StatefulSet/shop/db", "pod-name"),
        "ghost-1a2b3": ("", "no workload of the input matches its name or labels"),
        "x-7xk2p": ("", "the input has nothing in this namespace")}
    assert {(m.pod, m.count) for m in snap.pod_mappings} == {
        ("db-0", 3), ("ghost-1a2b3", 5), ("x-7xk2p", 2)}
    assert snap.notes[-1] == (
        "3 pod(s) named by the source: 1 mapped to their workloads through the scanned "
        "inventory (1 by pod name); 2 unmapped keep their names: shop/ghost-1a2b3 (5), "
        "gone/x-7xk2p (2)")
    # The destination now names its workload and the one Service that selects it.
    assert {(e.source_workload, e.destination_workload, e.destination_service)
            for e in snap.edges} == {("ghost-1a2b3", "db", "db"),
                                     ("ghost-1a2b3", "x-7xk2p", UNKNOWN)}
