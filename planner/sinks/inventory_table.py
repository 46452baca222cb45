"""The human summary of ``planner scan`` (Rich). Cluster strings go in as ``Text``, never markup."""

from __future__ import annotations

from collections import Counter

from rich.console import Console

from planner.domain.analysis import ScanResult
from planner.domain.inventory import WORKLOAD_KINDS
from planner.sinks.tables import Column, Id, KubeTable
from planner.untrusted import plain


def render_inventory(console: Console, result: ScanResult, wide: bool = False) -> None:
    """Print namespaces with their enrollment, workloads by kind, services, Istio objects.
    ``wide`` adds the Istio labels each namespace's enrollment was read from."""
    inv = result.inventory
    console.print(plain(f"Source: {result.source_label}", style="bold"))

    ns_table = KubeTable("Namespaces", [
        Column("namespace", whole=True), Column("enrollment"), Column("labels", wide=True),
        Column("workloads", justify="right"), Column("pods injected", justify="right")], wide)
    workloads_by_ns = Counter(w.namespace for w in inv.workloads)
    for ns in inv.namespaces:
        in_ns = [w for w in inv.workloads if w.namespace == ns.name]
        observed = [w.observed for w in in_ns if w.observed is not None]
        injected = (f"{sum(o.sidecar_injected for o in observed)}/{sum(o.pods for o in observed)}"
                    if observed else "-")
        labels = ", ".join(f"{k}={v}" for k, v in sorted(ns.labels.items())
                           if "istio" in k) or ("(implied)" if not ns.declared else "")
        ns_table.add_row(Id(ns.name), plain(ns.enrollment), Id(labels),
                         str(workloads_by_ns[ns.name]), injected)
    console.print(ns_table)

    kinds = Counter(w.ref.kind for w in inv.workloads)
    kind_table = KubeTable("Workloads", [Column("kind"), Column("count", justify="right")])
    for kind in WORKLOAD_KINDS:
        if kinds[kind]:
            kind_table.add_row(kind, str(kinds[kind]))
    daemons = ("" if not kinds["DaemonSet"] else
               f"; DaemonSets x {len(inv.nodes)} node(s)" if inv.nodes else
               "; DaemonSets x 1: no Node objects")
    kind_table.add_row(plain(f"pods (replicas{daemons})", style="dim"), str(inv.pods_total()))
    console.print(kind_table)

    svc_types = Counter(s.type for s in inv.services)
    headless = sum(1 for s in inv.services if s.headless)
    parts = [f"{n} {t}" for t, n in sorted(svc_types.items())]
    console.print(plain(f"Services: {len(inv.services)}" + (f" ({', '.join(parts)}"
                       + (f", {headless} headless" if headless else "") + ")" if parts else "")))

    istio = Counter(o.ref.kind for o in inv.istio)
    console.print(plain("Istio resources: " + (", ".join(f"{n} {k}" for k, n in
                                                       sorted(istio.items())) or "none")))
    extras = [
        ("ConfigMaps", len(inv.config_maps)), ("Secrets (names only)", len(inv.secrets)),
        ("Ingress/routes", len(inv.routes)), ("NetworkPolicies", len(inv.network_policies)),
        ("webhooks/APIServices", len(inv.api_server_callees)), ("Nodes", len(inv.nodes)),
    ]
    console.print(plain("Also: " + ", ".join(f"{n} {label}" for label, n in extras)))
    if inv.other:
        console.print(plain("Other kinds (counted, not used): " + ", ".join(
            f"{n} {k}" for k, n in inv.other.items())))
    if inv.folded:
        console.print(plain("Folded into owners or ignored: " + ", ".join(
            f"{n} {k}" for k, n in inv.folded.items())))
    warnings = len(result.diagnostics)
    if warnings or result.invalid:
        console.print(plain(f"{warnings} diagnostic(s) ({result.invalid} invalid document(s) "
                           "skipped); see stderr", style="yellow"))
    for note in result.notes:
        console.print(plain(note, style="dim"))
