"""A what-if lays its PeerAuthentication changes over the existing policies laid out once per
inventory (``policy.peer_authentications``) and finds a workload's own policy by its labels:
both must give what laying every policy out again and trying each on each workload gives.
The plain way is written here as the specification, and random policies, changes and
workloads hold the planner to it."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from planner import service
from planner.domain import policy, whatif
from planner.domain.inventory import Inventory, ObjectRef, PolicyObject, Workload

ROOT = "istio-system"
REPO = Path(__file__).resolve().parents[2]
NAMESPACES = ("a", "b", ROOT)
NAMES = ("default", "p1", "p2", "p3")
LABELS = st.dictionaries(st.sampled_from(("app", "version", "tier")),
                         st.sampled_from(("x", "y")), max_size=2)
MODES = st.sampled_from(("STRICT", "PERMISSIVE", "DISABLE", "UNSET", None))


def _spec(selector: Mapping[str, str], mode: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"mtls": {"mode": mode}} if mode else {}
    if selector:
        spec["selector"] = {"matchLabels": dict(selector)}
    return spec


EXISTING = st.lists(st.builds(
    lambda ns, name, selector, mode, created: PolicyObject(
        ObjectRef("PeerAuthentication", ns, name), "security.istio.io/v1",
        spec=_spec(selector, mode), created=created),
    st.sampled_from(NAMESPACES), st.sampled_from(NAMES), LABELS, MODES,
    st.sampled_from(("", "2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"))),
    max_size=10, unique_by=lambda p: p.ref)
CHANGES = st.lists(st.builds(
    lambda ns, name, selector, mode: {
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": {"name": name, "namespace": ns}, "spec": _spec(selector, mode)},
    st.sampled_from(NAMESPACES), st.sampled_from((*NAMES, "new")), LABELS, MODES), max_size=4)


def _plain_policy_set(existing: list[PolicyObject],
                      changes: list[dict[str, Any]]) -> whatif.PolicySet:
    """Every policy sorted again with the changes (the newest last), then grouped."""
    by_ref = {p.ref: p for p in existing}
    rank = {ref: policy.age_key(p) for ref, p in by_ref.items()}
    simulated = set()
    for change in changes:
        meta = change["metadata"]
        ref = ObjectRef("PeerAuthentication", meta["namespace"], meta["name"])
        old = by_ref.get(ref)
        by_ref[ref] = PolicyObject(ref, change["apiVersion"], spec=dict(change["spec"]),
                                   created=old.created if old else "")
        rank.setdefault(ref, (2, "", ref.name))
        simulated.add(ref)
    scoped: dict[str, list[PolicyObject]] = {}
    workload: dict[str, list[PolicyObject]] = {}
    for ref in sorted(by_ref, key=lambda r: rank[r]):
        p = by_ref[ref]
        (workload if policy.has_selector(p) else scoped).setdefault(ref.namespace, []).append(p)
    winners = {ns: ps[0] for ns, ps in scoped.items()}
    return whatif.PolicySet(ROOT, winners.pop(ROOT, None), winners,
                            {ns: tuple(ps) for ns, ps in workload.items()}, frozenset(simulated))


@settings(max_examples=300, deadline=None)
@given(EXISTING, CHANGES)
def test_changes_laid_over_the_layout_give_every_policy_sorted_again(
        existing: list[PolicyObject], changes: list[dict[str, Any]]) -> None:
    inventory = Inventory(istio=tuple(sorted(existing, key=lambda p: p.ref)))
    layout = policy.peer_authentications(inventory)
    # The layout is shared by every simulation of a plan: no change may alter it.
    before = (dict(layout.scoped), dict(layout.workload))
    got = whatif.policy_set(inventory, ROOT, changes, layout)
    assert (dict(layout.scoped), dict(layout.workload)) == before
    want = _plain_policy_set(existing, changes)
    assert (got.mesh, dict(got.namespace), dict(got.workload), got.simulated) == (
        want.mesh, dict(want.namespace), dict(want.workload), want.simulated)


_OLDER_ON_VERSION = [
    PolicyObject(ObjectRef("PeerAuthentication", "a", "p1"), "security.istio.io/v1",
                 spec=_spec({"version": "x"}, "STRICT"), created="2025-01-01T00:00:00Z"),
    PolicyObject(ObjectRef("PeerAuthentication", "a", "p2"), "security.istio.io/v1",
                 spec=_spec({"app": "x"}, "DISABLE"), created="2025-06-01T00:00:00Z")]


@settings(max_examples=300, deadline=None)
@given(EXISTING, st.lists(LABELS, min_size=1, max_size=4))
@example(_OLDER_ON_VERSION, [{"app": "x", "version": "x"}])  # found through its 2nd label
def test_a_workloads_policy_is_the_first_that_selects_it(
        existing: list[PolicyObject], pod_labels: list[dict[str, str]]) -> None:
    inventory = Inventory(istio=tuple(sorted(existing, key=lambda p: p.ref)))
    policies = whatif.policy_set(inventory, ROOT)
    inherited = whatif.effective_mode(policies, Workload(ObjectRef("Deployment", "a", "none")),
                                      None)
    for index, labels in enumerate(pod_labels):
        workload = Workload(ObjectRef("Deployment", "a", f"w{index}"), pod_labels=labels)
        first = next((p for p in policies.workload.get("a", ())
                      if whatif.selects(p, workload)), None)
        known = first is not None and policy.mtls_mode(first) in ("STRICT", "PERMISSIVE",
                                                                   "DISABLE")
        want = (policy.mtls_mode(first), f"workload PeerAuthentication a/{first.ref.name}") \
            if first is not None and known else inherited
        assert whatif.effective_mode(policies, workload, None) == want


def test_each_destination_rules_host_is_resolved_once_per_plan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A namespace's DestinationRules are sorted by host once per plan: a plan judges every
    call, and a cluster may hold a rule per Service (each was resolved again for every call
    judged in its namespace: 5,000 rules on the 10,000-service cluster doubled the plan)."""
    sys.path.insert(0, str(REPO / "sample_clusters"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    generate.generate(4, 6, seed=7, out=tmp_path, density=3.5)
    manifests = tmp_path / "manifests"
    services = service.scan(service.ManifestInput((str(manifests),))).inventory.services
    rules = [{"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
              "metadata": {"name": s.name, "namespace": s.namespace},
              "spec": {"host": s.name, "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}
             for s in services]
    (manifests / "zz-rules.yaml").write_text(yaml.safe_dump_all(rules), encoding="utf-8")
    analysis = service.analyse(service.ManifestInput((str(manifests),)))
    resolved: list[str] = []
    fqdn = whatif._fqdn

    def counting(host: str, namespace: str, domain: str) -> str:
        resolved.append(host)
        return fqdn(host, namespace, domain)

    monkeypatch.setattr(whatif, "_fqdn", counting)
    service.build_plan(analysis, assessment=service.assess(analysis))
    assert 0 < len(resolved) <= len(rules)
