"""Graph speed: building the call graph and its derived views against scanning, in one run.

Generates the 10,000-service cluster (sample_clusters/generate.py), times ``service.scan`` and
then ``build_graph`` plus every derived view (namespace graph, SCCs, entry points, inbound
callers of every namespace, blast radius of all) on the scanned inventory; prints both and
the ratio.
Target: graph <= 0.5x scan.
Usage: python bench/graph.py [--runs N]
"""

from __future__ import annotations

import argparse

from _cluster import best_of, generated_cluster

from planner.domain.graph import CallGraph
from planner.domain.graph_builder import build_graph
from planner.service import ManifestInput, ScanResult, scan


def _views(graph: CallGraph) -> None:
    namespaces = {n.namespace for n in graph.nodes if n.namespace}
    graph.strongly_connected_namespaces()
    graph.entry_points()
    for namespace in namespaces:
        graph.inbound_callers(namespace)
    graph.blast_radius()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with generated_cluster("yaml") as folder:
        spec = ManifestInput((str(folder),), recursive=True)
        results: list[ScanResult] = []
        scan_time = best_of(runs, lambda: results.append(scan(spec)))
        inventory = results[-1].inventory
        graphs: list[CallGraph] = []

        def build() -> None:
            graph = build_graph(inventory)
            _views(graph)
            graphs.append(graph)

        graph_time = best_of(runs, build)
    graph = graphs[-1]
    print(f"services: {len(inventory.services)}, workloads: {len(inventory.workloads)}, "
          f"call edges: {len(graph.edges)}")
    print(f"scan:  {scan_time:.2f} s")
    print(f"graph: {graph_time:.2f} s (build_graph + derived views)")
    print(f"ratio: {graph_time / scan_time:.2f}x (target <= 0.5x)")


if __name__ == "__main__":
    main()
