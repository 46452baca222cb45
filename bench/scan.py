"""Parse speed: `planner report --json` and `planner scan -o json` against a bare parse of the
same files, in one run.

Prints, for a generated 10,000-service cluster (about 23,000 objects, one multi-document YAML
file per namespace), each as a ratio to a bare ``yaml.load_all`` with ``CSafeLoader`` of the
same files in one process:
- ``report --json`` with the worker processes (parallel; target <= 0.5x) and with
  ``PLANNER_JOBS=1`` (serial; target <= 0.7x);
- ``scan -o json`` parallel and serial, and serial with ``PLANNER_YAML=pyyaml`` (the reader
  before the compiled path), which shows what the compiled parser saves;
- JSON (one ``kubectl get -A -o json``-style List): ``scan -o json`` against a bare
  ``json.load``; target <= 2x.
Every side runs as a fresh process (imports and interpreter start-up included), the sides take
turns within each round, and the best of each side is kept (the JSON pair runs 3x --runs
times: it is short). The planner's bytecode is compiled first, as pip does when it installs
the package: a checkout run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module
on every run.
Usage: python bench/scan.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
from collections.abc import Callable

from _cluster import ROOT, best_of_each, generated_cluster

BARE_YAML = (
    "import sys, yaml, pathlib\n"
    "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.yaml')):\n"
    "    list(yaml.load_all(p.read_text(encoding='utf-8'), Loader=yaml.CSafeLoader))\n"
)
BARE_JSON = "import sys, json\njson.load(open(sys.argv[1], encoding='utf-8'))\n"
PLANNER = "from planner.cli import main\nmain()\n"


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([sys.executable, "-c", code, *args], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, **(env or {})})


def _planner(*args: str, **env: str) -> Callable[[], None]:
    return lambda: _run(PLANNER, *args, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    for package in ("planner", "tui"):
        compileall.compile_dir(ROOT / package, quiet=1)
    with generated_cluster("yaml") as folder:
        files = str(folder)
        sides = {
            "bare CSafeLoader": lambda: _run(BARE_YAML, files),
            "report --json": _planner("report", "-f", files, "--json"),
            "report --json, PLANNER_JOBS=1": _planner("report", "-f", files, "--json",
                                                      PLANNER_JOBS="1"),
            "scan -o json": _planner("scan", "-f", files, "-o", "json"),
            "scan -o json, PLANNER_JOBS=1": _planner("scan", "-f", files, "-o", "json",
                                                     PLANNER_JOBS="1"),
            "scan -o json, PLANNER_JOBS=1 PLANNER_YAML=pyyaml": _planner(
                "scan", "-f", files, "-o", "json", PLANNER_JOBS="1", PLANNER_YAML="pyyaml"),
        }
        best = dict(zip(sides, best_of_each(runs, *sides.values()), strict=True))
        bare = best["bare CSafeLoader"]
        count = len(list(folder.glob("*.yaml")))
        print(f"yaml: {count} files; bare CSafeLoader (one process) {bare:.2f}s")
        targets = {"report --json": "target <= 0.5x",
                   "report --json, PLANNER_JOBS=1": "target <= 0.7x"}
        for name, seconds in best.items():
            if name != "bare CSafeLoader":
                target = f" ({targets[name]})" if name in targets else ""
                print(f"  {name}: {seconds:.2f}s, ratio {seconds / bare:.2f}x{target}")
    with generated_cluster("list-json") as folder:
        path = str(folder / "cluster.json")
        # Runs are short here, so take more of them: 0.1 s of noise is a quarter of the bare side.
        bare, planner = best_of_each(
            runs * 3, lambda: _run(BARE_JSON, path), _planner("scan", "-f", path, "-o", "json"))
        print(f"json: 1 List file; bare json.load {bare:.2f}s; planner scan -o json "
              f"{planner:.2f}s; ratio {planner / bare:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
