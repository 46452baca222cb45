"""Live-scan speed: `service.scan(ClusterInput(...))` against bare HTTP fetches of the same
lists, in one run, both over HTTP against the Kubernetes-API test server (tests/kubeapi).

The server is seeded with the generated 10,000-service cluster (sample_clusters/generate.py,
100 namespaces x 100 services, seed 7). The planner side is the whole live scan: discovery,
paginated lists through the official `kubernetes` client, inventory build. The bare side
replays exactly the requests the scan sent (same paths, queries and bearer token) with urllib
and `json.loads` each answer, and builds nothing. Prints the API calls and the ratio
(target <= 1.5x).
Usage: python bench/live.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import yaml
from _cluster import ROOT, best_of, generated_cluster

sys.path.insert(0, str(ROOT))

from planner.service import ClusterInput, scan
from tests.kubeapi import KubeAPIServer


def _objects(folder: Path) -> list[dict[str, object]]:
    docs: list[dict[str, object]] = []
    for path in sorted(folder.rglob("*.yaml")):
        docs.extend(d for d in yaml.load_all(path.read_text(encoding="utf-8"),
                                             Loader=yaml.CSafeLoader) if isinstance(d, dict))
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with generated_cluster("yaml") as folder, tempfile.TemporaryDirectory() as tmp, \
            KubeAPIServer(tmp, tls=False) as api:
        objects = _objects(folder)
        api.load(objects)
        spec = ClusterInput(api.kubeconfig)
        api.clear_log()
        result = scan(spec)
        requests = [(r.path, r.query) for r in api.requests]
        planner = best_of(runs, lambda: scan(spec))
        headers = {"Authorization": f"Bearer {api.token}", "Accept": "application/json"}

        def bare() -> None:
            for path, query in requests:
                url = f"{api.url}{path}" + (f"?{urlencode(query)}" if query else "")
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as r:
                    json.loads(r.read())

        bare_s = best_of(runs, bare)
        print(f"live: {len(objects)} objects seeded; planner scan {result.api_calls} API calls "
              f"({len(requests)} requests logged) {planner:.2f}s; bare urllib same requests "
              f"{bare_s:.2f}s; ratio {planner / bare_s:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
