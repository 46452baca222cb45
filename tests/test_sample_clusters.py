"""Checks on the sample clusters and the synthetic cluster generator.

The samples are ground truth for the graph builder and the rules, so they must
stay valid, self-consistent and deterministic; these tests guard that.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

SAMPLES = Path(__file__).resolve().parent.parent / "sample_clusters"
SHOP = SAMPLES / "shop"
TINY = SAMPLES / "tiny"
TRUTH = SAMPLES / "truth"
GITOPS = SAMPLES / "gitops-gateway"
DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
CLUSTER_SCOPED = {"Namespace", "Node", "IngressClass", "ValidatingWebhookConfiguration"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job"}


def _load_generator() -> ModuleType:
    """Import sample_clusters/generate.py, which is a script rather than a package module."""
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve annotations through sys.modules, so register before executing.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _docs(paths: list[Path]) -> list[dict[str, Any]]:
    """All non-empty YAML documents of ``paths``, with the pure-Python (strict) loader."""
    docs: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            docs.extend(d for d in yaml.safe_load_all(fh) if d is not None)
    return docs


def _yaml_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.yaml"))


def _ref(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}"


def _service_ports(docs: list[dict[str, Any]]) -> dict[str, set[int]]:
    return {
        _ref(d): {p["port"] for p in d["spec"]["ports"]} for d in docs if d["kind"] == "Service"
    }


def _all_files_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --- hand-written samples ------------------------------------------------------


MANIFEST_FILES = [p for p in _yaml_files(SAMPLES) if p.parent.name != "profiles"]


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=lambda p: str(p.relative_to(SAMPLES)))
def test_every_sample_yaml_parses_as_kubernetes_objects(path: Path) -> None:
    for doc in _docs([path]):
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), path
        assert DNS_1123_LABEL.match(doc["metadata"]["name"]) or "." in doc["metadata"]["name"]
        if doc["kind"] in CLUSTER_SCOPED:
            continue
        if GITOPS in path.parents:
            # A folder per namespace: the folder names it (--namespace-per-folder).
            assert "namespace" not in doc["metadata"], f"{path}: the folder names it"
        else:
            assert doc["metadata"].get("namespace"), f"{path}: {doc['kind']} without namespace"


def test_tiny_is_one_unlabelled_namespace_with_three_to_five_services() -> None:
    docs = _docs(_yaml_files(TINY))
    namespaces = [d for d in docs if d["kind"] == "Namespace"]
    assert [n["metadata"]["name"] for n in namespaces] == ["tiny"]
    assert not namespaces[0]["metadata"].get("labels")
    assert 3 <= sum(d["kind"] == "Service" for d in docs) <= 5
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] != "Namespace"} == {"tiny"}


def test_shop_size_and_namespaces() -> None:
    docs = _docs(_yaml_files(SHOP))
    namespaces = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    assert len(namespaces) >= 5
    assert 20 <= sum(d["kind"] == "Service" for d in docs) <= 30
    used = {d["metadata"]["namespace"] for d in docs if "namespace" in d["metadata"]}
    assert used <= namespaces, "every namespace used must have a Namespace object"
    assert sum(d["kind"] == "Node" for d in docs) == 2


@pytest.mark.parametrize("case", [SHOP, TINY], ids=["shop", "tiny"])
def test_expected_edges_reference_existing_objects(case: Path) -> None:
    docs = _docs(_yaml_files(case))
    by_ref = {_ref(d): d for d in docs}
    ports = _service_ports(docs)
    raw = (TRUTH / f"{case.name}-edges.json").read_text(encoding="utf-8")
    edges = json.loads(raw)
    keys = [(e["caller"], e["callee"], e["port"]) for e in edges]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), "sorted and unique"
    for e in edges:
        assert set(e) == {"caller", "callee", "port", "via"}
        assert e["port"] in ports[e["callee"]], e
        if e["caller"].startswith(("external:", "ingress:")):
            continue
        assert e["caller"] in by_ref and by_ref[e["caller"]]["kind"] in WORKLOAD_KINDS, e
        # The caller's own file must name the callee and port somewhere (env,
        # ConfigMap, args); catches edges that drift from the manifests.
        caller_files = [
            p for p in _yaml_files(case) if any(_ref(d) == e["caller"] for d in _docs([p]))
        ]
        text = caller_files[0].read_text(encoding="utf-8")
        callee_name = e["callee"].split("/")[2]
        assert callee_name in text, e
        if e["port"] not in (80, 443):  # default scheme ports may be implicit
            assert str(e["port"]) in text, e


def test_shop_has_the_features_rules_rely_on() -> None:
    docs = _docs(_yaml_files(SHOP))
    kinds = {d["kind"] for d in docs}
    assert {
        "PeerAuthentication",
        "DestinationRule",
        "VirtualService",
        "AuthorizationPolicy",
        "ValidatingWebhookConfiguration",
        "CronJob",
        "StatefulSet",
        "DaemonSet",
        "Ingress",
        "Secret",
    } <= kinds
    ns_labels = {
        d["metadata"]["name"]: d["metadata"].get("labels", {})
        for d in docs
        if d["kind"] == "Namespace"
    }
    assert any(v.get("istio-injection") == "enabled" for v in ns_labels.values())
    assert any("istio.io/rev" in v for v in ns_labels.values())
    assert any(not ({"istio-injection", "istio.io/rev"} & v.keys()) for v in ns_labels.values())
    headless = [d for d in docs if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"]
    assert headless and any("name" not in p for p in headless[0]["spec"]["ports"])
    host_network = [
        d
        for d in docs
        if d["kind"] == "DaemonSet" and d["spec"]["template"]["spec"].get("hostNetwork")
    ]
    assert len(host_network) >= 2
    assert {d["spec"].get("type") for d in docs if d["kind"] == "Service"} >= {
        "NodePort",
        "LoadBalancer",
    }


# --- generator -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", gen.FORMATS)
@pytest.mark.parametrize("hostile", [False, True], ids=["plain", "hostile"])
def test_generator_is_byte_deterministic(tmp_path: Path, fmt: str, hostile: bool) -> None:
    gen.generate(4, 9, 42, tmp_path / "a", fmt, hostile)
    gen.generate(4, 9, 42, tmp_path / "b", fmt, hostile)
    a, b = _all_files_bytes(tmp_path / "a"), _all_files_bytes(tmp_path / "b")
    assert a == b and "ground-truth.json" in a
    gen.generate(4, 9, 43, tmp_path / "c", fmt, hostile)
    assert _all_files_bytes(tmp_path / "c") != a, "the seed must matter"


def test_density_sets_the_calls_per_service(tmp_path: Path) -> None:
    sparse = gen.generate(10, 20, 7, tmp_path / "sparse", "yaml")
    dense = gen.generate(10, 20, 7, tmp_path / "dense", "yaml", density=3.5)
    assert len(sparse.edges) / 200 < 1.5
    assert 3.0 <= len(dense.edges) / 200 <= 4.0
    assert len(set(dense.edges)) == len(dense.edges)
    gen.generate(10, 20, 7, tmp_path / "again", "yaml", density=3.5)
    assert _all_files_bytes(tmp_path / "again") == _all_files_bytes(tmp_path / "dense")
    for bad in (0.0, -1.0, 25.0):
        with pytest.raises(ValueError, match="density"):
            gen.generate(2, 2, 7, tmp_path / "bad", "yaml", density=bad)


def _generated_docs(root: Path) -> list[dict[str, Any]]:
    out = root / "manifests"
    if (out / "cluster.json").exists():
        return json.loads((out / "cluster.json").read_text(encoding="utf-8"))["items"]
    if (out / "cluster.yaml").exists():
        return _docs([out / "cluster.yaml"])[0]["items"]
    return _docs(sorted(out.glob("ns-*.yaml")))


@pytest.mark.parametrize("fmt", gen.FORMATS)
def test_formats_hold_the_same_objects(tmp_path: Path, fmt: str) -> None:
    gen.generate(3, 6, 5, tmp_path / "ref", "list-json")
    gen.generate(3, 6, 5, tmp_path / fmt, fmt)
    assert _generated_docs(tmp_path / fmt) == _generated_docs(tmp_path / "ref")


def test_ground_truth_matches_objects_and_file(tmp_path: Path) -> None:
    truth = gen.generate(5, 12, 11, tmp_path, "yaml")
    docs = _generated_docs(tmp_path)
    refs = {_ref(d) for d in docs}
    ports = _service_ports(docs)
    assert set(truth.services) == {r for r in refs if r.startswith("Service/")}
    assert set(truth.workloads) == {r for r in refs if r.startswith("Deployment/")}
    assert truth.edges, "a 60-service cluster should have calls"
    for e in truth.edges:
        assert e.caller in refs and e.callee in refs and e.port in ports[e.callee]
        assert e.caller.split("/", 1)[1] != e.callee.split("/", 1)[1], "no self-calls"
    on_disk = json.loads((tmp_path / "ground-truth.json").read_text(encoding="utf-8"))
    assert on_disk == [e.to_json() for e in truth.edges]
    keys = [(e["caller"], e["callee"], e["port"]) for e in on_disk]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert {e.form for e in truth.edges} >= {
        gen.FORM_ENV_SHORT,
        gen.FORM_ENV_URL_NS,
        gen.FORM_ENV_FQDN,
        gen.FORM_CONFIGMAP_KEY_REF,
        gen.FORM_ENVFROM_CONFIGMAP,
    }
    assert any(e.callee.split("/")[1] != e.caller.split("/")[1] for e in truth.edges)


def _values_reaching(deploy: dict[str, Any], configmaps: dict[str, dict[str, str]]) -> list[str]:
    """Every string a Deployment's container can see: env values and referenced ConfigMap data."""
    seen: list[str] = []
    for c in deploy["spec"]["template"]["spec"]["containers"]:
        for env in c.get("env", []):
            if "value" in env:
                seen.append(env["value"])
            ref = env.get("valueFrom", {}).get("configMapKeyRef")
            if ref:
                seen.append(configmaps[ref["name"]][ref["key"]])
        for src in c.get("envFrom", []):
            seen.extend(configmaps[src["configMapRef"]["name"]].values())
    return seen


def test_every_edge_is_encoded_in_its_callers_manifests(tmp_path: Path) -> None:
    truth = gen.generate(6, 15, 3, tmp_path, "list-json")
    docs = _generated_docs(tmp_path)
    configmaps = {
        (d["metadata"]["namespace"], d["metadata"]["name"]): d["data"]
        for d in docs
        if d["kind"] == "ConfigMap"
    }
    deployments = {_ref(d): d for d in docs if d["kind"] == "Deployment"}
    for e in truth.edges:
        ns = e.caller.split("/")[1]
        local = {name: data for (cm_ns, name), data in configmaps.items() if cm_ns == ns}
        values = _values_reaching(deployments[e.caller], local)
        if e.form == gen.FORM_BROKER_LIST:
            assert any(e.address in v.split(",") for v in values), e
        else:
            assert e.address in values, e
        callee_ns, callee_name = e.callee.split("/")[1:]
        assert e.address.count(callee_name) >= 1 and str(e.port) in e.address
        if callee_ns != ns:
            assert f"{callee_name}.{callee_ns}" in e.address, "cross-namespace needs the namespace"


def test_namespace_labels_mix(tmp_path: Path) -> None:
    gen.generate(6, 1, 0, tmp_path, "list-json")
    labels = [
        d["metadata"].get("labels", {})
        for d in _generated_docs(tmp_path)
        if d["kind"] == "Namespace"
    ]
    assert any(lb.get("istio-injection") == "enabled" for lb in labels)
    assert any(lb.get("istio.io/dataplane-mode") == "ambient" for lb in labels)
    assert any(not lb for lb in labels)


def test_hostile_values_stay_out_of_names(tmp_path: Path) -> None:
    gen.generate(3, 6, 9, tmp_path, "yaml", hostile=True)
    docs = _generated_docs(tmp_path)  # pure-Python loader: rejects non-printable characters
    text = "".join(p.read_text(encoding="utf-8") for p in tmp_path.glob("manifests/ns-*.yaml"))
    assert "[bold red]" in text and "\\u001b[31m" in text
    for d in docs:
        assert DNS_1123_LABEL.match(d["metadata"]["name"])
    annotations = [v for d in docs for v in d["metadata"].get("annotations", {}).values()]
    assert any("\x1b" in v for v in annotations) and any(len(v) > 4000 for v in annotations)


def test_cli_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--namespaces", "2", "--services", "3", "--seed", "1", "--out", str(tmp_path)]
    assert gen.main(argv) == 0
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.*")) == [
        "ground-truth.json",
        "manifests/ns-000.yaml",
        "manifests/ns-001.yaml",
    ]
    assert capsys.readouterr().out == "", "diagnostics belong on stderr"


def test_generator_rejects_bad_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        gen.generate(0, 5, 1, tmp_path, "yaml")


def test_gitops_gateway_reads_one_folder_per_namespace_behind_an_istio_gateway() -> None:
    """The README's walk-through: no MP201 for the Istio gateway that is not in the tree (one
    note instead), the shared ConfigMap's edge counts less, reviews is blind (its namespace's
    STRICT step unproven), ratings is dangling."""
    from planner.domain.graph_builder import CONF_SHARED
    from planner.service import ManifestInput, PlanOptions, run_pipeline

    rollout = run_pipeline(ManifestInput((str(GITOPS),), namespace_per_folder=True),
                           PlanOptions())
    graph, plan = rollout.analysis.graph, rollout.plan
    assert sorted(e.key for e in graph.edges) == [
        "Deployment/catalog/catalog -> Service/catalog/reviews:8080",
        "Deployment/frontend/web -> Service/catalog/catalog:8080",
        "Deployment/frontend/web -> Service/orders/orders:8080",
        "Deployment/orders/orders -> Service/orders/postgres:5432",
        "ingress:istio -> Service/frontend/web:8080"]
    shared = graph.edge("Deployment/catalog/catalog -> Service/catalog/reviews:8080")
    assert shared is not None and [ev.confidence for ev in shared.evidence] == [CONF_SHARED]
    assert not plan.blockers
    gateway, nodes = plan.notes  # the tree holds no Node objects: the cost says so too
    assert "(VirtualService frontend/web)" in gateway
    assert nodes.startswith("The cost counts 1 node")
    coverage = graph.manifest_coverage
    assert coverage.blind == ("Deployment/catalog/reviews",)
    assert {d.host for d in coverage.dangling} == {"ratings"}
    assert {s.id: s.proof for s in plan.steps if s.proof} == {
        "40-strict-frontend": "manifests", "40-strict-catalog": "observed traffic",
        "40-strict-orders": "manifests"}
