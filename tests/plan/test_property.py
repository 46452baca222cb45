"""Properties on generated clusters (sample_clusters/generate.py): shuffled input gives a
byte-identical plan, STRICT never precedes a caller, every change has a rollback, every
namespace appears."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.service import ManifestInput, analyse, build_plan
from planner.sinks.plan_json import plan_document
from planner.sinks.wire import dump_json
from tests.plan.conftest import ROOT, assert_strict_is_safe

_spec = importlib.util.spec_from_file_location("generate",
                                               ROOT / "sample_clusters" / "generate.py")
assert _spec is not None and _spec.loader is not None
generate = importlib.util.module_from_spec(_spec)
# dataclasses look their module up in sys.modules while the script is executed.
sys.modules["generate"] = generate
_spec.loader.exec_module(generate)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(namespaces=st.integers(1, 6), services=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_generated_cluster_properties(tmp_path_factory: object, namespaces: int, services: int,
                                      seed: int) -> None:
    out: Path = tmp_path_factory.mktemp("gen")  # type: ignore[attr-defined]
    generate.generate(namespaces, services, seed, out / "cluster")
    docs = [d for f in sorted((out / "cluster").rglob("*.yaml"))
            for d in yaml.safe_load_all(f.read_text(encoding="utf-8")) if d]
    random.Random(seed).shuffle(docs)
    (out / "shuffled.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")

    analysis = analyse(ManifestInput((str(out / "cluster" / "manifests"),), recursive=True))
    plan = build_plan(analysis)
    shuffled = build_plan(analyse(ManifestInput((str(out / "shuffled.yaml"),))))
    assert dump_json(plan_document(plan)) == dump_json(plan_document(shuffled))

    assert_strict_is_safe(analysis, plan)
    for step in plan.steps:
        assert not step.apply or step.rollback, step.id
    assert {f.name for f in plan.namespaces} == {
        ns.name for ns in analysis.scan.inventory.namespaces}
    for fate in plan.namespaces:
        assert fate.final == "outside" or f"30-enroll-{fate.name}" in fate.steps
