"""The plan's authorization phases (``--authz``): after mesh-wide STRICT, per namespace, the
least-privilege policies in dry run, then enforced behind a gate on the would-be denials. On
the generated cluster of the authz tests, whose callers are known (tests/authz/cluster.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from planner.cli import cli
from planner.domain.authz_rollout import (
    ShadowDenial,
    ShadowDenials,
    authz_gate,
    promql_shadow_denials,
)
from planner.domain.plan import Action, Phase, Plan, Step
from planner.domain.profile import ProfileError, parse_profile
from planner.domain.traffic import UNKNOWN, ObservedEdge, TrafficSnapshot
from planner.service import (
    ManifestInput,
    PlanOptions,
    analyse,
    build_plan,
    gate_for_step,
    run_pipeline,
)
from tests.authz.cluster import MESHED_CALLERS, write_cluster
from tests.plan.conftest import crd_schemas

DRY_RUN = "70-authz-dry-run-shop"
ENFORCE = "80-authz-enforce-shop"


def _plan(tmp_path: Path, *extra: dict[str, Any], authz: bool | None = True,
          profile: str | None = None) -> Plan:
    path = write_cluster(tmp_path)
    if extra:
        with path.open("a", encoding="utf-8") as fh:
            fh.write("---\n" + yaml.safe_dump_all(extra, sort_keys=True))
    analysis = analyse(ManifestInput((str(path),)), profile_path=profile)
    return build_plan(analysis, dataplane="sidecar", authz=authz)


def _objects(step: Step) -> dict[str, Mapping[str, Any]]:
    return {c.object["metadata"]["name"]: c.object for c in step.apply}


def test_phases_follow_mesh_strict_dry_run_first_then_enforce(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    ids = [s.id for s in plan.steps]
    strict = ids.index("60-mesh-strict")
    assert ids[strict + 1:] == [DRY_RUN, ENFORCE]
    dry, enforce = plan.step(DRY_RUN), plan.step(ENFORCE)
    assert (dry.phase, enforce.phase) == (Phase.AUTHZ_DRY_RUN, Phase.AUTHZ_ENFORCE)
    assert dry.requires == ("60-mesh-strict",) and enforce.requires == (DRY_RUN,)
    # The namespace's fate lists them, so the TUI's namespace view finds them.
    [shop] = [f for f in plan.namespaces if f.name == "shop"]
    assert shop.steps[-2:] == (DRY_RUN, ENFORCE)


def test_without_the_option_the_plan_is_unchanged(tmp_path: Path) -> None:
    plain = _plan(tmp_path, authz=None)
    assert not [s for s in plain.steps if s.phase in (Phase.AUTHZ_DRY_RUN, Phase.AUTHZ_ENFORCE)]
    assert plain == _plan(tmp_path, authz=False)


def test_profile_plan_authz_turns_them_on_and_the_flag_wins(tmp_path: Path) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text("plan: {authz: true}\n", encoding="utf-8")
    assert ENFORCE in {s.id for s in _plan(tmp_path, authz=None, profile=str(profile)).steps}
    assert ENFORCE not in {s.id for s in _plan(tmp_path, authz=False,
                                              profile=str(profile)).steps}
    with pytest.raises(ProfileError, match=r"plan\.authz"):
        parse_profile({"plan": {"authz": "yes"}})
    with pytest.raises(ProfileError, match=r"plan\.strict"):
        parse_profile({"plan": {"strict": True}})


def test_dry_run_and_enforce_apply_the_same_policies_with_and_without_the_annotation(
        tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    dry, enforce = _objects(plan.step(DRY_RUN)), _objects(plan.step(ENFORCE))
    assert set(dry) == set(enforce) == {"api-allow"}
    api = dry["api-allow"]
    assert api["metadata"]["annotations"] == {"istio.io/dry-run": "true"}
    assert "annotations" not in enforce["api-allow"]["metadata"]
    assert api["spec"] == enforce["api-allow"]["spec"]
    principals = {p for rule in api["spec"]["rules"] for f in rule["from"]
                  for p in f["source"]["principals"]}
    assert principals == set(MESHED_CALLERS.values())


def test_rollbacks_delete_what_the_dry_run_created_and_restore_it_after_enforcing(
        tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    [undo_dry] = plan.step(DRY_RUN).rollback
    assert undo_dry.action is Action.DELETE
    assert undo_dry.object["metadata"] == {"name": "api-allow", "namespace": "shop"}
    [undo_enforce] = plan.step(ENFORCE).rollback
    assert undo_enforce.action is Action.APPLY
    assert undo_enforce.object == _objects(plan.step(DRY_RUN))["api-allow"]


def test_an_existing_policy_of_the_same_name_is_restored_not_deleted(tmp_path: Path) -> None:
    mine = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "api-allow", "namespace": "shop",
                         "labels": {"owner": "team-a"}},
            "spec": {"selector": {"matchLabels": {"app": "api"}}, "action": "ALLOW",
                     "rules": [{"from": [{"source": {"namespaces": ["web"]}}]}]}}
    plan = _plan(tmp_path, mine)
    [undo] = plan.step(DRY_RUN).rollback
    assert undo.action is Action.APPLY and undo.object == mine


def test_selector_is_the_workloads_own_and_no_rule_is_l7(tmp_path: Path) -> None:
    canary = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "search", "namespace": "shop"},
              "spec": {"selector": {"matchLabels": {"app": "search"}},
                       "template": {"metadata": {"labels": {"app": "search", "version": "v2"}},
                                    "spec": {"containers": [{
                                        "name": "search", "image": "example/search:2",
                                        "ports": [{"containerPort": 8080}],
                                        "env": [{"name": "API", "value":
                                                 "http://api.shop.svc.cluster.local:80"}]}]}}}}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "search", "namespace": "shop"},
               "spec": {"selector": {"app": "search"},
                        "ports": [{"port": 80, "targetPort": 8080}]}}
    caller = {**canary, "metadata": {"name": "ui", "namespace": "shop"},
              "spec": {"selector": {"matchLabels": {"app": "ui"}},
                       "template": {"metadata": {"labels": {"app": "ui"}},
                                    "spec": {"containers": [{
                                        "name": "ui", "image": "example/ui:1",
                                        "env": [{"name": "SEARCH", "value":
                                                 "http://search:80"}]}]}}}}
    plan = _plan(tmp_path, canary, service, caller)
    for step in (plan.step(DRY_RUN), plan.step(ENFORCE)):
        search = _objects(step)["search-allow"]
        # Not version=v2 of the pod template: a v3 rollout keeps its policy.
        assert search["spec"]["selector"] == {"matchLabels": {"app": "search"}}
        for obj in _objects(step).values():
            for rule in obj["spec"]["rules"]:
                for to in rule.get("to", ()):
                    assert set(to["operation"]) == {"ports"}, obj
                assert set(rule) <= {"from", "to"}, obj


def test_a_workload_no_selector_isolates_gets_no_policy(tmp_path: Path) -> None:
    # Two Deployments whose pods both carry app=api: a policy for one would deny the other's
    # callers, so neither gets one and the proposal says why.
    twin = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api-shadow", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "api"}},
                     "template": {"metadata": {"labels": {"app": "api"}},
                                  "spec": {"containers": [{"name": "x", "image": "x:1"}]}}}}
    plan = _plan(tmp_path, twin)
    assert DRY_RUN not in {s.id for s in plan.steps}
    code, out = _cli(write_cluster(tmp_path), "authz", extra=twin)
    assert code == 0
    assert "no policy for Deployment/shop/api: no selector picks its pods alone" in out


def _cli(path: Path, *args: str, extra: dict[str, Any] | None = None) -> tuple[int, str]:
    if extra:
        with path.open("a", encoding="utf-8") as fh:
            fh.write("---\n" + yaml.safe_dump(extra, sort_keys=True))
    result = CliRunner().invoke(cli, [*args, "-f", str(path)])
    return result.exit_code, result.stdout


def test_every_phase_object_validates_against_the_crd_schema(tmp_path: Path) -> None:
    schemas = crd_schemas()
    plan = _plan(tmp_path)
    objects = [c.object for s in plan.steps if s.phase in (Phase.AUTHZ_DRY_RUN,
                                                          Phase.AUTHZ_ENFORCE)
               for c in (*s.apply, *s.rollback) if c.action is Action.APPLY]
    assert len(objects) == 3  # dry run, enforce, and the enforce step's rollback
    for obj in objects:
        jsonschema.validate({"spec": obj["spec"]}, schemas[(obj["apiVersion"], obj["kind"])])


def test_callers_without_principals_and_shared_accounts_block_enforcement_only(
        tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    enforce = plan.step(ENFORCE)
    codes = sorted({f.code for f in enforce.blockers})
    assert codes == ["MP302", "MP303"]
    named = {f.message.split(" ", 1)[0] for f in enforce.blockers if f.code == "MP302"}
    assert named == {"Deployment/legacy/old-client", "DaemonSet/web/node-agent"}
    assert set(enforce.forced_by) == named
    [shared] = [f for f in enforce.blockers if f.code == "MP303"]
    assert shared.subject == "ServiceAccount/web/default"
    assert not plan.step(DRY_RUN).blockers
    assert {f.code for f in plan.blockers} >= {"MP302", "MP303"}


def test_cli_plan_shows_the_phases_and_writes_them_as_gitops_steps(tmp_path: Path) -> None:
    path = write_cluster(tmp_path)
    out = tmp_path / "rollout"
    result = CliRunner().invoke(cli, ["plan", "-f", str(path), "--authz", "--dataplane",
                                      "sidecar", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert DRY_RUN in result.stdout and ENFORCE in result.stdout
    steps = yaml.safe_load((out / "steps.yaml").read_text())
    assert steps["steps"][-2:] == [DRY_RUN, ENFORCE]
    dry = yaml.safe_load((out / DRY_RUN / "authorizationpolicy-shop-api-allow.yaml").read_text())
    assert dry["metadata"]["annotations"] == {"istio.io/dry-run": "true"}
    assert (out / ENFORCE / "rollback" / "authorizationpolicy-shop-api-allow.yaml").exists()
    plain = CliRunner().invoke(cli, ["plan", "-f", str(path), "--dataplane", "sidecar"])
    assert "authz" not in plain.stdout


# --- the gate -------------------------------------------------------------------------------


def _edge(src: str, dst: str, total: float = 100) -> ObservedEdge:
    src_ns, src_wl = src.split("/")
    dst_ns, dst_wl = dst.split("/")
    return ObservedEdge(src_ns, src_wl, dst_ns, dst_wl, dst_wl, "http", total, total)


def _snapshot(*edges: ObservedEdge) -> TrafficSnapshot:
    return TrafficSnapshot.build(edges, window="7d", source="prometheus test")


def test_gate_passes_when_every_observed_caller_is_named(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    step = plan.step(ENFORCE)
    gate = authz_gate(_snapshot(_edge("web/frontend", "shop/api"),
                                _edge("shop/cart", "shop/api")), step, plan)
    assert gate.status == "pass", gate.reason
    assert "every caller of api" in gate.reason


def test_gate_maps_a_source_that_names_only_the_service_to_its_workloads(
        tmp_path: Path) -> None:
    # CSV and Kiali exports name the Service called, not the workload behind it.
    plan = _plan(tmp_path)
    step = plan.step(ENFORCE)
    named = replace(_edge("web/frontend", "shop/api"), destination_workload=UNKNOWN)
    stranger = replace(_edge("legacy/old-client", "shop/api"), destination_workload=UNKNOWN)
    assert authz_gate(_snapshot(named), step, plan).status == "pass"
    gate = authz_gate(_snapshot(named, stranger), step, plan)
    assert gate.status == "fail" and gate.offenders == [stranger]


def test_gate_fails_on_a_caller_the_policy_does_not_name_or_without_a_sidecar(
        tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    step = plan.step(ENFORCE)
    stranger = _edge("legacy/old-client", "shop/api")
    nobody = _edge(f"{UNKNOWN}/{UNKNOWN}", "shop/api")
    gate = authz_gate(_snapshot(_edge("web/frontend", "shop/api"), stranger, nobody), step,
                      plan)
    assert gate.status == "fail"
    assert set(gate.offenders) == {stranger, nobody}
    assert "legacy/old-client -> shop/api" in gate.reason
    assert "no sidecar, no principal" in gate.reason


def test_gate_fails_on_shadow_denials_and_is_unknown_without_data(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    step = plan.step(ENFORCE)
    denied = ShadowDenials("prometheus test", "7d", True, ("shop",),
                           (ShadowDenial("shop", "api-7f9c-x2", 12.0),))
    gate = authz_gate(_snapshot(_edge("web/frontend", "shop/api")), step, plan,
                      denied)
    assert gate.status == "fail" and "would have denied 12" in gate.reason
    assert "shop/api-7f9c-x2" in gate.reason
    quiet = ShadowDenials("prometheus test", "7d", True, ("shop",))
    assert authz_gate(None, step, plan, quiet).status == "pass"
    empty = TrafficSnapshot.build((), window="7d", source="prometheus test")
    for gate in (authz_gate(empty, step, plan),
                 authz_gate(_snapshot(_edge("web/frontend", "web/other")), step,
                            plan),
                 authz_gate(None, step, plan,
                            ShadowDenials("prometheus test", "7d", False, ("shop",)))):
        assert gate.status == "unknown", gate.reason
        assert "cannot be ruled out" in gate.reason


def test_shadow_query_reads_envoy_rbac_counters_of_both_scrape_conventions() -> None:
    query = promql_shadow_denials(["shop", "web"], "7d")
    assert 'authz_dry_run_action="allow"' in query and 'authz_dry_run_result="denied"' in query
    assert 'namespace=~"shop|web"' in query and 'kubernetes_namespace=~"shop|web"' in query
    with pytest.raises(ValueError):
        promql_shadow_denials(['shop"} or vector(1) #'], "7d")


def test_an_ambient_namespace_is_warned_about_ztunnels_without_dry_run(tmp_path: Path) -> None:
    path = write_cluster(tmp_path, ambient_shop=True)
    plan = build_plan(analyse(ManifestInput((str(path),))), dataplane="sidecar", authz=True)
    [warning] = [p for p in plan.step(DRY_RUN).preconditions if "ztunnel" in p]
    assert "enforces these policies at once" in warning
    assert not [p for p in _plan(tmp_path).step(DRY_RUN).preconditions if "ztunnel" in p]


def test_without_traffic_the_enforce_gate_is_unknown_and_says_what_it_could_not_rule_out(
        tmp_path: Path) -> None:
    path = write_cluster(tmp_path)
    analysis = analyse(ManifestInput((str(path),)))
    rollout = run_pipeline(ManifestInput((str(path),)),
                           PlanOptions(dataplane="sidecar", authz=True))
    gates = rollout.step_gates()
    assert gates[ENFORCE].status == "unknown"
    assert gates[ENFORCE].reason.endswith("would-be denials cannot be ruled out")
    assert gates["40-strict-shop"].reason.endswith("plaintext cannot be ruled out")
    assert gate_for_step(analysis, rollout.plan, ENFORCE) == gates[ENFORCE]
