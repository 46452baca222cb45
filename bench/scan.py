"""Parse speed: `planner report --json` and `planner scan -o json` against a bare parse of the
same files, in one run.

On the generated cluster (100 namespaces x 100 services, seed 7, 3.5 call edges per service
unless --density says otherwise; one multi-document YAML file per namespace), fresh processes
(interpreter start and imports included) take turns, the order reversed every other round, and
the best of each side is kept. Prints each side's wall and CPU time and, as ratios to a bare
``yaml.load_all`` with ``CSafeLoader`` of the same files in one process:
- ``report --json`` parallel (the default: a YAML reader per core; target <= 0.5x) and serial
  (PLANNER_JOBS=1; target <= 0.7x);
- ``scan -o json`` parallel and serial, and serial with PLANNER_YAML=pyyaml (the PyYAML reader
  alone, as before the compiled path): what the compiled parser saves.
Then JSON (one ``kubectl get -A -o json``-style List): ``scan -o json`` against a bare
``json.load``, target <= 2x (3x --runs rounds: the pair is short).
Usage: python bench/scan.py [--runs N] [--density D]
"""

from __future__ import annotations

import argparse
import sys

from _cluster import (
    SERIAL,
    Timed,
    alternate,
    best,
    compile_bytecode,
    density_of,
    density_option,
    generated_cluster,
    parallel_throughput,
    planner_argv,
    ratio_line,
    run_process,
)

BARE_YAML = (
    "import sys, yaml, pathlib\n"
    "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.yaml')):\n"
    "    list(yaml.load_all(p.read_text(encoding='utf-8'), Loader=yaml.CSafeLoader))\n"
)
BARE_JSON = "import sys, json\njson.load(open(sys.argv[1], encoding='utf-8'))\n"
PYYAML_ONLY = {**SERIAL, "PLANNER_YAML": "pyyaml"}
TARGETS = {"report --json, parallel": "target <= 0.5x", "report --json, serial": "target <= 0.7x"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    density_option(parser)
    args = parser.parse_args()
    compile_bytecode()
    throughput = [parallel_throughput()]
    with generated_cluster("yaml", density=density_of(args)) as folder:
        def planner(env: dict[str, str] | None, *argv: str) -> Timed:
            return run_process(planner_argv(*argv, "-f", str(folder)), env)

        times = alternate(args.runs, {
            "bare CSafeLoader": lambda: run_process([sys.executable, "-c", BARE_YAML,
                                                     str(folder)]),
            "report --json, parallel": lambda: planner(None, "report", "--json"),
            "report --json, serial": lambda: planner(SERIAL, "report", "--json"),
            "scan -o json, parallel": lambda: planner(None, "scan", "-o", "json"),
            "scan -o json, serial": lambda: planner(SERIAL, "scan", "-o", "json"),
            "scan -o json, serial, PyYAML only": lambda: planner(PYYAML_ONLY, "scan", "-o",
                                                                 "json"),
        })
        files = len(list(folder.glob("*.yaml")))
    throughput.append(parallel_throughput())
    print(f"yaml: {files} files; best of {args.runs}, sides taking turns (wall clock; CPU time "
          "of the process and its helpers)")
    print("two processes at once did x{:.2f} and x{:.2f} the work of one, before and after "
          "(2.00: two free cores; the parallel figures depend on it)".format(*throughput))
    for name, runs in times.items():
        print(f"  {name:<34} {best(runs):6.2f} s  (CPU {best(runs, 'cpu'):.2f} s)")
    bare = best(times["bare CSafeLoader"])
    for name in times:
        if name != "bare CSafeLoader":
            print(ratio_line(f"{name} / bare CSafeLoader", best(times[name]), bare,
                             TARGETS.get(name, "no target")))
    with generated_cluster("list-json", density=density_of(args)) as folder:
        path = str(folder / "cluster.json")
        pair = alternate(args.runs * 3, {
            "bare": lambda: run_process([sys.executable, "-c", BARE_JSON, path]),
            "planner": lambda: run_process(planner_argv("scan", "-f", path, "-o", "json")),
        })
    print(ratio_line("json: planner scan -o json / bare json.load", best(pair["planner"]),
                     best(pair["bare"]), "target <= 2x"))


if __name__ == "__main__":
    main()
