"""Verdicts on the sample clusters, a large generated cluster and the shared corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from planner.domain.fit import BASE_SCORE
from planner.domain.verdict import Verdict
from tests.fit.conftest import SAMPLES, assessment_of, write
from tests.shared_data import corpus

CANARIES = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: canary, namespace: ns-000}
spec:
  hosts: [SERVICE]
  http:
    - route:
        - {destination: {host: SERVICE, subset: stable}, weight: 95}
        - {destination: {host: SERVICE, subset: canary}, weight: 5}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: checkout, namespace: ns-001}
spec:
  replicas: 2
  strategy: {canary: {steps: [{setWeight: 10}]}}
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers: [{name: checkout, image: example/checkout:2}]
"""


def test_tiny_is_overkill_with_the_reasons_and_alternatives() -> None:
    a = assessment_of(SAMPLES / "tiny")
    assert a.verdict == Verdict.OVERKILL
    codes = {f.code for f in a.factors if f.weight}
    assert codes == {"MP101", "MP108"}
    assert a.score == BASE_SCORE - 20 - 20
    assert [alt.name for alt in a.alternatives] == [
        "NetworkPolicy plus application-level TLS", "CNI with WireGuard encryption (e.g. Cilium)"]


def test_unknown_answers_are_shown_with_their_effect() -> None:
    a = assessment_of(SAMPLES / "tiny")
    unknown = {u.field: u for u in a.unknowns}
    assert set(unknown) == {"platform_engineers", "compliance_mtls", "observability_needed"}
    assert {f.code: f.value for f in a.factors if not f.weight} == {
        "MP109": "unknown", "MP110": "unknown", "MP111": "unknown"}
    assert unknown["compliance_mtls"].effect == "yes: 45 (mesh-optional); no: 10 (mesh-overkill)"


def test_small_app_is_overkill_unless_compliance_requires_mtls() -> None:
    without = assessment_of(SAMPLES / "tiny", overrides={"compliance_mtls": False})
    assert without.verdict == Verdict.OVERKILL
    with_compliance = assessment_of(SAMPLES / "tiny", overrides={"compliance_mtls": True})
    assert with_compliance.verdict != Verdict.OVERKILL
    assert "compliance_mtls" not in {u.field for u in with_compliance.unknowns}
    caveat = with_compliance.alternatives[-1].why
    assert "no per-workload mTLS identity" in caveat


def test_shop_is_recommended_with_and_without_its_profile() -> None:
    bare = assessment_of(SAMPLES / "shop")
    assert bare.verdict == Verdict.RECOMMENDED
    assert {f.code for f in bare.factors if f.weight} == {"MP102", "MP103", "MP106", "MP107"}
    profiled = assessment_of(SAMPLES / "shop", profile=SAMPLES / "profiles" / "shop.yaml")
    assert profiled.verdict == Verdict.RECOMMENDED
    assert profiled.unknowns == ()
    assert profiled.score == 100 and profiled.raw_score > 100


def test_shop_without_a_platform_team_is_still_stated() -> None:
    a = assessment_of(SAMPLES / "shop", overrides={"platform_engineers": 0})
    team = next(f for f in a.factors if f.code == "MP111")
    assert team.weight < 0 and team.value == "0"


def _generate(out: Path, namespaces: int, services: int) -> Path:
    subprocess.run([sys.executable, str(SAMPLES / "generate.py"), "--namespaces", str(namespaces),
                    "--services", str(services), "--seed", "7", "--out", str(out)],
                   check=True, capture_output=True)
    return out


def test_large_generated_cluster_with_canaries_is_recommended(tmp_path: Path) -> None:
    out = _generate(tmp_path / "gen", 6, 10)
    manifests = out / "manifests"
    plain = assessment_of(manifests)
    assert {f.code for f in plain.factors if f.weight} == {"MP101", "MP108"}
    # Big, but encryption only: the article's middle ground.
    assert plain.verdict == Verdict.OPTIONAL
    truth = json.loads((out / "ground-truth.json").read_text(encoding="utf-8"))
    target = next(e["callee"] for e in truth if e["callee"].startswith("Service/ns-000/"))
    write(manifests / "zz-canaries.yaml", CANARIES.replace("SERVICE", target.split("/")[2]))
    a = assessment_of(manifests)
    assert a.verdict == Verdict.RECOMMENDED
    assert {"MP101", "MP103", "MP104"} <= {f.code for f in a.factors if f.weight}
    assert len(a.namespaces) == 6
    assert a.dataplane["ns-000"].mode == "ambient"
    waypoint = a.namespaces[0].waypoint
    assert waypoint is not None
    assert waypoint.features == ("MP103 Weighted or header-matched routing",)


#: Corpus case -> (extra arguments, expected verdict). docs/fit.md explains each.
CORPUS_VERDICTS = {
    "bookinfo": ({}, Verdict.RECOMMENDED),
    "robot-shop": ({}, Verdict.RECOMMENDED),
    "online-boutique": ({}, Verdict.OVERKILL),
    "sock-shop": ({}, Verdict.OVERKILL),
    "sock-shop-multi-namespace": ({}, Verdict.OVERKILL),
    "otel-demo": ({"namespace": "otel-demo"}, Verdict.OVERKILL),
    "kiali-travels": ({}, Verdict.OVERKILL),
}


@pytest.mark.parametrize("case", sorted(CORPUS_VERDICTS))
def test_corpus_verdicts(case: str) -> None:
    kwargs, expected = CORPUS_VERDICTS[case]
    a = assessment_of(corpus(case), **kwargs)
    assert a.verdict == expected, [(f.code, f.weight, f.message) for f in a.factors]


def test_dataplane_says_where_the_plan_keeps_infrastructure_outside() -> None:
    choices = {c.namespace: c for c in assessment_of(SAMPLES / "shop").namespaces}
    for namespace, holder in (("ingress-nginx", "ingress controller"),
                              ("monitoring", "Prometheus")):
        note = choices[namespace].reasons[-1]
        assert "keeps this namespace outside the mesh" in note and holder in note
    assert not any("outside the mesh" in r for r in choices["orders"].reasons)


def test_the_apiserver_service_is_not_an_application_service() -> None:
    from planner.domain.fit import app_services
    from planner.rules.registry import rule
    from planner.service import ManifestInput, analyse

    fixture = (Path(__file__).resolve().parents[1] / "rules" / "MP101"
               / "fail-nine-services-and-the-apiserver.yaml")
    analysis = analyse(ManifestInput((str(fixture),)))
    keys = [s.ref.key for s in app_services(analysis.scan.inventory)]
    assert len(keys) == 9 and "Service/default/kubernetes" not in keys
    assert [(f.code, f.value) for f in rule("MP101").check(analysis.context)] == [("MP101", "9")]
