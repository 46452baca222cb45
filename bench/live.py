"""Live-scan speed: ``planner scan`` of a cluster against ``curl`` fetching the same lists, as
whole processes taking turns, in one run.

The Kubernetes-API test server (tests/kubeapi, plain HTTP on 127.0.0.1, serving in a thread of
this process) is seeded with the generated 10,000-service cluster (sample_clusters/generate.py,
100 namespaces x 100 services, seed 7, 3.5 call edges per service unless --density says
otherwise). The planner side is a fresh ``planner scan --kubeconfig K -o json`` process:
interpreter start, the official ``kubernetes`` client's import, discovery, paginated lists (up
to 4 kinds at once), the inventory and its JSON. The curl side replays exactly the requests the
planner sent (same paths, queries and bearer token), parsing nothing and building nothing:
serial, one ``curl`` process fetching them one after another over one kept-alive connection;
parallel, as the planner lists: the discovery requests in turn, then one ``curl`` per kind
(its pages in turn, as their continue tokens require) with up to 4 running at once
(``xargs -P 4``). Prints the best of each side and the ratios; target: planner <= 1.2x curl.
Usage: python bench/live.py [--runs N] [--density D]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import yaml
from _cluster import (
    ROOT,
    Timed,
    alternate,
    best,
    compile_bytecode,
    density_of,
    density_option,
    generated_cluster,
    planner_argv,
    ratio_line,
    run_process,
)

sys.path.insert(0, str(ROOT))

from tests.kubeapi import KubeAPIServer


def _objects(folder: Path) -> list[dict[str, object]]:
    docs: list[dict[str, object]] = []
    for path in sorted(folder.rglob("*.yaml")):
        docs.extend(d for d in yaml.load_all(path.read_text(encoding="utf-8"),
                                             Loader=yaml.CSafeLoader) if isinstance(d, dict))
    return docs


def _curl_config(api: KubeAPIServer, requests: list[tuple[str, dict[str, str]]],
                 out: Path) -> Path:
    """A curl config fetching ``requests`` in turn into /dev/null with the scan's headers."""
    lines = [f'header = "Authorization: Bearer {api.token}"',
             'header = "Accept: application/json"', "silent", "fail"]
    for path, query in requests:
        url = f"{api.url}{path}" + (f"?{urlencode(query)}" if query else "")
        lines += [f'url = "{url}"', 'output = "/dev/null"']
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    density_option(parser)
    args = parser.parse_args()
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("bench/live.py needs curl on PATH")
    compile_bytecode()
    with generated_cluster("yaml", density=density_of(args)) as folder, \
            tempfile.TemporaryDirectory() as tmp, KubeAPIServer(tmp, tls=False) as api:
        objects = _objects(folder)
        api.load(objects)
        scan = planner_argv("scan", "--kubeconfig", api.kubeconfig, "-o", "json")
        api.clear_log()
        run_process(scan)
        requests = [(r.path, dict(r.query)) for r in api.requests]
        config = _curl_config(api, requests, Path(tmp) / "curl.conf")
        # Lists carry a limit; discovery does not. One config per listed collection.
        discovery = _curl_config(api, [r for r in requests if "limit" not in r[1]],
                                 Path(tmp) / "discovery.conf")
        collections = list(dict.fromkeys(path for path, query in requests if "limit" in query))
        kinds = [str(_curl_config(api, [r for r in requests if r[0] == path],
                                  Path(tmp) / f"kind-{i}.conf"))
                 for i, path in enumerate(collections)]
        as_planner = (f"{curl} --config {discovery} && printf '%s\\n' {' '.join(kinds)} "
                      f"| xargs -P 4 -n 1 {curl} --config")

        def planner() -> Timed:
            return run_process(scan)

        times = alternate(args.runs, {
            "planner scan": planner,
            "curl, one at a time": lambda: run_process([curl, "--config", str(config)]),
            "curl, kinds 4 at once": lambda: run_process(["sh", "-c", as_planner]),
        })
    print(f"{len(objects)} objects seeded; {len(requests)} requests (discovery and pages of "
          f"500); best of {args.runs}, sides taking turns:")
    for name, runs in times.items():
        print(f"  {name:<22} {best(runs):6.2f} s  (CPU {best(runs, 'cpu'):.2f} s)")
    for name in ("curl, one at a time", "curl, kinds 4 at once"):
        print(ratio_line(f"planner scan / {name}", best(times["planner scan"]),
                         best(times[name]), "target <= 1.2x"))


if __name__ == "__main__":
    main()
