"""A live scan keeps what names Hubble's pods: the Pods' ownerReferences through their
ReplicaSets, and their IPs (read from the test API server, through the `kubernetes` client)."""

from __future__ import annotations

from pathlib import Path

import yaml

from planner.service import ClusterInput, TrafficSource, analyse, observe
from tests.kubeapi import KubeAPIServer
from tests.shared_data import require_shared

PODS = Path(__file__).parents[1] / "traffic" / "fixtures" / "hubble-400-tcp-pods.yaml"


def test_live_pods_name_the_real_hubble_capture(kube_api: KubeAPIServer) -> None:
    flows = require_shared("traffic-samples", "hubble", "basic-sample-400-tcp-flows.json")
    pods = yaml.safe_load(PODS.read_text(encoding="utf-8"))["items"]
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "reviews-v2", "namespace": "bookinfo"},
        "spec": {"selector": {"matchLabels": {"app": "reviews", "version": "v2"}},
                 "template": {"metadata": {"labels": {"app": "reviews", "version": "v2"}},
                              "spec": {"containers": [{"name": "r", "image": "r"}]}}}}
    replica_set = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "reviews-v2-7bf8c9648f", "namespace": "bookinfo",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": "reviews-v2", "controller": True}]},
        "spec": deployment["spec"]}
    kube_api.load([deployment, replica_set, *pods])
    analysis = observe(analyse(ClusterInput(kube_api.kubeconfig)),
                       TrafficSource(traffic_file=str(flows)))
    inventory = analysis.scan.inventory
    assert {p.ref.name: p.ips for p in inventory.pods}["reviews-v2-7bf8c9648f-r7bs2"] == (
        "10.244.0.110",)
    assert analysis.traffic is not None
    ways = {m.pod: (m.workload, m.via) for m in analysis.traffic.pod_mappings}
    # Pod -> ReplicaSet -> Deployment, as the cluster wrote it.
    assert ways["reviews-v2-7bf8c9648f-r7bs2"] == ("Deployment/bookinfo/reviews-v2",
                                                   "owner-references")
    # Pods whose owners the cluster does not serve here are their own workloads.
    assert ways["details-v1-79f774bdb9-m4j4k"] == ("Pod/bookinfo/details-v1-79f774bdb9-m4j4k",
                                                   "owner-references")
    assert ways["pod@10.244.1.29"] == ("", "")
