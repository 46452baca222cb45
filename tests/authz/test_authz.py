"""``planner authz`` on a generated cluster with known callers: the policies allow exactly the
meshed callers, name the others, and say which shared account hides whom."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from planner.cli import cli
from planner.domain.authz import AuthzProposal, WorkloadPolicy
from planner.service import ManifestInput, TrafficSource, analyse, authorization, observe
from planner.sinks.authz import authz_json, authz_yaml
from tests.authz.cluster import MESHED_CALLERS, SHARED, UNMESHED_CALLERS, write_cluster
from tests.plan.conftest import crd_schemas


def _proposal(tmp_path: Path, **options: Any) -> AuthzProposal:
    ambient = options.pop("ambient_shop", False)
    path = write_cluster(tmp_path, ambient_shop=ambient)
    return authorization(analyse(ManifestInput((str(path),))), **options)


def _policy_of(proposal: AuthzProposal, workload: str) -> WorkloadPolicy:
    [found] = [p for p in proposal.policies if p.workload == workload]
    return found


def _principals(policy: Mapping[str, Any]) -> set[str]:
    return {p for rule in policy["spec"]["rules"] for f in rule["from"]
            for p in f["source"]["principals"]}


def test_policy_allows_exactly_the_meshed_callers(tmp_path: Path) -> None:
    proposal = _proposal(tmp_path)
    api = _policy_of(proposal, "Deployment/shop/api")
    assert _principals(api.policy) == set(MESHED_CALLERS.values())
    assert {c.id for c in api.callers} == set(MESHED_CALLERS)
    assert api.policy["spec"]["action"] == "ALLOW"
    assert api.policy["spec"]["selector"] == {"matchLabels": {"app": "api"}}
    assert [r["to"] for r in api.policy["spec"]["rules"]] == [
        [{"operation": {"ports": ["8080"]}}]]
    unnamed = {u.caller for u in proposal.unexpressible if u.workload == "Deployment/shop/api"}
    assert unnamed == UNMESHED_CALLERS
    host = next(u for u in proposal.unexpressible if u.caller == "DaemonSet/web/node-agent")
    assert "hostNetwork" in host.reason and "ipBlocks" in host.action
    old = next(u for u in proposal.unexpressible if u.caller == "Deployment/legacy/old-client")
    assert "enroll Deployment/legacy/old-client" in old.action
    # The workloads nobody calls get no policy (an empty ALLOW would deny everything).
    assert "Deployment/web/idle" in proposal.uncalled
    assert all(p.workload != "Deployment/web/idle" for p in proposal.policies)


def test_shared_account_is_named_with_the_split_that_tells_callers_apart(
        tmp_path: Path) -> None:
    proposal = _proposal(tmp_path)
    ns, account, workloads = SHARED
    [shared] = proposal.shared_accounts
    assert (shared.namespace, shared.account, shared.workloads) == (ns, account, workloads)
    assert shared.callers == ("Deployment/web/worker-a", "Deployment/web/worker-b")
    split = proposal.split
    assert sorted(a["metadata"]["name"] for a in split.service_accounts) == [
        "idle", "worker-a", "worker-b"]
    patch = next(p for p in split.workload_patches if p["metadata"]["name"] == "worker-a")
    assert patch["kind"] == "Deployment" and patch["metadata"]["namespace"] == "web"
    assert patch["spec"]["template"]["spec"]["serviceAccountName"] == "worker-a"
    # 4 meshed callers behind 3 principals now; 4 once each worker runs as its own account.
    assert (split.callers, split.principals_now, split.principals_after) == (4, 3, 4)


def test_dry_run_by_default_enforcing_on_request(tmp_path: Path) -> None:
    dry = _proposal(tmp_path)
    assert all(p.policy["metadata"]["annotations"] == {"istio.io/dry-run": "true"}
               for p in dry.policies)
    enforced = _proposal(tmp_path, enforce=True)
    assert all("annotations" not in p.policy["metadata"] for p in enforced.policies)
    assert [p.policy["spec"] for p in enforced.policies] == [p.policy["spec"]
                                                             for p in dry.policies]


def test_ambient_namespace_gets_the_l4_form(tmp_path: Path) -> None:
    api = _policy_of(_proposal(tmp_path, ambient_shop=True), "Deployment/shop/api")
    assert api.mode == "ambient"
    spec = api.policy["spec"]
    assert "targetRefs" not in spec and spec["selector"] == {"matchLabels": {"app": "api"}}
    assert all(set(r["to"][0]["operation"]) == {"ports"} for r in spec["rules"])


def _cel_checks(spec: Mapping[str, Any]) -> None:
    """The CRD's x-kubernetes-validations jsonschema does not evaluate, written out."""
    assert sum(k in spec for k in ("selector", "targetRef", "targetRefs")) <= 1
    for key, value in spec.get("selector", {}).get("matchLabels", {}).items():
        assert key and "*" not in key and "*" not in value
    for rule in spec.get("rules", []):
        for f in rule.get("from", []):
            source = f["source"]
            if "serviceAccounts" in source or "notServiceAccounts" in source:
                assert not {"principals", "notPrincipals", "namespaces"} & set(source)


@pytest.mark.parametrize("enforce", [False, True])
@pytest.mark.parametrize("ambient", [False, True])
def test_every_policy_validates_against_the_crd_schema(tmp_path: Path, enforce: bool,
                                                      ambient: bool) -> None:
    schemas = crd_schemas()
    proposal = _proposal(tmp_path, enforce=enforce, ambient_shop=ambient)
    assert proposal.policies
    for obj in proposal.objects:
        schema = schemas[(obj["apiVersion"], obj["kind"])]
        jsonschema.validate({"spec": obj["spec"]}, schema)
        _cel_checks(obj["spec"])
        assert len(obj["metadata"]["name"]) <= 253


def test_observed_callers_join_the_policy(tmp_path: Path) -> None:
    path = write_cluster(tmp_path)
    flows = tmp_path / "flows.csv"
    # cart -> api is in the manifests too; idle -> api only in the traffic.
    flows.write_text("source_namespace,source_workload,destination_namespace,"
                     "destination_service,requests,mtls_share\n"
                     "web,idle,shop,api,40,1\nshop,cart,shop,api,10,1\n", encoding="utf-8")
    analysis = observe(analyse(ManifestInput((str(path),))),
                       TrafficSource(traffic_file=str(flows)))
    api = _policy_of(authorization(analysis), "Deployment/shop/api")
    seen = {c.id: c.seen for c in api.callers}
    assert seen["Deployment/web/idle"] == "observed"
    assert seen["Deployment/shop/cart"] == "both"
    assert seen["Deployment/web/frontend"] == "manifests"
    assert "cluster.local/ns/web/sa/default" in _principals(api.policy)


def test_output_is_deterministic_and_kubectl_ready(tmp_path: Path) -> None:
    first, second = _proposal(tmp_path), _proposal(tmp_path)
    assert authz_yaml(first) == authz_yaml(second)
    assert authz_json(first) == authz_json(second)
    docs = [d for d in yaml.safe_load_all(authz_yaml(first)) if d]
    assert [d["kind"] for d in docs] == ["AuthorizationPolicy"] * len(first.policies)
    text = authz_yaml(first)
    assert "# shared service account web/default: 3 workloads" in text
    assert "not in the policy of Deployment/shop/api: DaemonSet/web/node-agent" in text


def test_cli_writes_yaml_json_and_a_gitops_folder(tmp_path: Path) -> None:
    path = write_cluster(tmp_path)
    out = tmp_path / "authz"
    runner = CliRunner()
    done = runner.invoke(cli, ["authz", "-f", str(path), "-o", "json", "--out", str(out)])
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["schemaVersion"] == "meshplan.io/authz/v1" and doc["mode"] == "dry-run"
    assert (out / "authz.json").read_text(encoding="utf-8") == done.stdout
    policy = yaml.safe_load((out / "policies" / "shop" /
                             "authorizationpolicy-shop-api-allow.yaml").read_text())
    assert _principals(policy) == set(MESHED_CALLERS.values())
    kustomization = yaml.safe_load((out / "prerequisites" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["serviceaccount-web-idle.yaml",
                                          "serviceaccount-web-worker-a.yaml",
                                          "serviceaccount-web-worker-b.yaml"]
    script = (out / "prerequisites" / "patch.sh").read_text()
    assert ("kubectl patch deployment worker-a -n web --patch-file "
            "patches/deployment-web-worker-a.yaml") in script
    enforced = runner.invoke(cli, ["authz", "-f", str(path), "--enforce"])
    assert enforced.exit_code == 0 and "istio.io/dry-run" not in enforced.stdout


INGRESS = """---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: api, namespace: shop}
spec:
  ingressClassName: istio
  rules:
    - http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: api, port: {number: 80}}}
"""
GATEWAY = """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata: {labels: {istio: ingressgateway, app: istio-ingressgateway}}
    spec:
      serviceAccountName: istio-ingressgateway-service-account
      containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]
"""


@pytest.mark.parametrize("with_gateway", [True, False])
def test_istio_ingress_gateway_is_allowed_by_its_principal(tmp_path: Path,
                                                           with_gateway: bool) -> None:
    path = write_cluster(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + INGRESS
                    + (GATEWAY if with_gateway else ""), encoding="utf-8")
    proposal = authorization(analyse(ManifestInput((str(path),))))
    api = _policy_of(proposal, "Deployment/shop/api")
    gateway = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
    assert (gateway in _principals(api.policy)) is with_gateway
    missing = [u for u in proposal.unexpressible if u.caller == "ingress:istio"]
    if with_gateway:
        assert not missing
    else:
        [entry] = missing
        assert "not in the input" in entry.action and gateway in entry.action


def test_where_no_policy_can_act_is_said_with_why(tmp_path: Path) -> None:
    """The namespaces the plan keeps outside the mesh and the workloads left out of an enrolled
    one get no policy (no proxy would enforce it): each is listed with why, in JSON and as a
    comment, so an input kept wholly outside does not print '0 AuthorizationPolicies' alone."""
    proposal = _proposal(tmp_path)
    outside = dict(proposal.outside)
    assert list(outside) == ["legacy", "DaemonSet/web/node-agent"]
    assert outside["legacy"] == "opted out by its namespace labels"
    assert "hostNetwork" in outside["DaemonSet/web/node-agent"]
    assert not {p.workload for p in proposal.policies} & {
        "Deployment/legacy/old-client", "DaemonSet/web/node-agent"}
    assert json.loads(authz_json(proposal))["outside"] == [
        {"scope": scope, "reason": why} for scope, why in proposal.outside]
    assert ("# no policy for the workloads of namespace legacy: outside the mesh once the plan "
            "is done (opted out by its namespace labels), so no proxy there would enforce "
            "one\n") in authz_yaml(proposal)
    only_legacy = tmp_path / "legacy.yaml"
    only_legacy.write_text(yaml.safe_dump_all(
        d for d in yaml.safe_load_all((tmp_path / "cluster.yaml").read_text())
        if d["metadata"].get("namespace", d["metadata"]["name"]) == "legacy"))
    done = CliRunner().invoke(cli, ["authz", "-f", str(only_legacy)])
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[1].startswith(
        "# no policy for the workloads of namespace legacy: outside the mesh")
