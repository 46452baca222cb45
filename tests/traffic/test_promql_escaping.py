"""The plan's PromQL preconditions stay valid queries whatever the names hold: a real
Prometheus parses them (manifests are not validated by an API server, so a namespace or
workload name may carry quotes, backslashes or regex metacharacters)."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from planner.domain.promql import plaintext_queries

HOSTILE = ['ns"quote', "back\\slash", "dot.ted", "pipe|d", "brack[et]", "paren(s)", "star*"]


@pytest.mark.parametrize("name", HOSTILE)
def test_plan_promql_with_hostile_names_is_accepted_by_prometheus(prom_url: str,
                                                                   name: str) -> None:
    queries = plaintext_queries(name, exclude_namespaces=[name, "other"],
                                excepted_workloads=[name, "web"])
    for query in queries:
        url = f"{prom_url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        assert body["status"] == "success", (query, body)
        # Nothing in the fixture's data has these names: a parsed query, an empty answer.
        assert body["data"]["result"] == []
