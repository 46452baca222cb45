"""Scan speed: `planner scan -o json` against a bare parse of the same files, in one run.

Prints, for a generated 10,000-service cluster (about 20,000 objects):
- YAML (one multi-document file per namespace): planner time / bare ``yaml.load_all`` with
  ``CSafeLoader``; target <= 1.25x.
- JSON (one ``kubectl get -A -o json``-style List): planner time / bare ``json.load``;
  target <= 2x.
Both sides run as fresh processes, so interpreter start-up is on both sides of the ratio, and
take turns, best of each side (the JSON pair runs 3x --runs times: it is short). The
planner's bytecode is compiled first, as pip does when it installs the package: a checkout run
with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run.
Usage: python bench/scan.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import subprocess
import sys

from _cluster import ROOT, best_of_each, generated_cluster

BARE_YAML = (
    "import sys, yaml, pathlib\n"
    "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.yaml')):\n"
    "    list(yaml.load_all(p.read_text(encoding='utf-8'), Loader=yaml.CSafeLoader))\n"
)
BARE_JSON = "import sys, json\njson.load(open(sys.argv[1], encoding='utf-8'))\n"
PLANNER = "from planner.cli import main\nmain()\n"


def _run(code: str, *args: str) -> None:
    subprocess.run([sys.executable, "-c", code, *args], check=True,
                   stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    for package in ("planner", "tui"):
        compileall.compile_dir(ROOT / package, quiet=1)
    with generated_cluster("yaml") as folder:
        bare, planner = best_of_each(
            runs, lambda: _run(BARE_YAML, str(folder)),
            lambda: _run(PLANNER, "scan", "-f", str(folder), "-o", "json"))
        files = len(list(folder.glob("*.yaml")))
        print(f"yaml: {files} files; bare CSafeLoader {bare:.2f}s; planner scan -o json "
              f"{planner:.2f}s; ratio {planner / bare:.2f}x (target <= 1.25x)")
    with generated_cluster("list-json") as folder:
        path = str(folder / "cluster.json")
        # Runs are short here, so take more of them: 0.1 s of noise is a quarter of the bare side.
        bare, planner = best_of_each(
            runs * 3, lambda: _run(BARE_JSON, path),
            lambda: _run(PLANNER, "scan", "-f", path, "-o", "json"))
        print(f"json: 1 List file; bare json.load {bare:.2f}s; planner scan -o json "
              f"{planner:.2f}s; ratio {planner / bare:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
