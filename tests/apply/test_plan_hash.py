"""The plan hash stamped on applied objects and kept in the journal depends on the plan, not on
how `planner plan -o json` happens to lay its document out."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from planner import service
from planner.apply.engine import plan_hash
from planner.sinks import wire

SHOP = Path(__file__).resolve().parents[2] / "sample_clusters" / "shop"


def test_plan_hash_follows_the_plan_not_the_output_layout() -> None:
    analysis = service.analyse(service.ManifestInput((str(SHOP),), True, False, "default"))
    plan = service.build_plan(analysis)
    before = plan_hash(plan)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wire, "_JSON_OPTIONS", orjson.OPT_SORT_KEYS)  # compact, no indentation
        assert plan_hash(plan) == before
    other = service.build_plan(analysis, granularity="workload")
    assert plan_hash(other) != before


def test_plan_hash_ignores_the_steps_what_ifs_and_the_cost() -> None:
    """What would break if a step were applied now, and what the mesh costs at today's
    replicas, change as the cluster does; the plan (and the journal entries stamped with its
    hash) does not."""
    from dataclasses import replace

    analysis = service.analyse(service.ManifestInput((str(SHOP),), True, False, "default"))
    plan = service.build_plan(analysis)
    assert plan.what_if["40-strict-storefront"].breaking
    assert plan_hash(plan) == plan_hash(replace(plan, what_if={}))
    assert plan.cost is not None and plan.cost.proxies
    assert plan_hash(plan) == plan_hash(replace(plan, cost=None))
