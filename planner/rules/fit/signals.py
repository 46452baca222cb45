"""What the manifests show about L7 traffic-control needs, shared by the fit rules.

Each detector returns ``(object key, detail)`` pairs, sorted: the object that shows the need
(``VirtualService/shop/reviews``) and what in it does (``weighted route 90/10``). MP102-MP107
report one detector each; MP108 fires when all of them are empty; the data-plane recommendation
maps the same objects to the namespaces whose waypoints they need.

Specs are untrusted: every field is checked for its type before it is read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from planner.domain import raw
from planner.domain.inventory import Inventory, PolicyObject

Signal = tuple[str, str]
Detector = Callable[[Inventory], list[Signal]]

#: Pod labels that name an app's version.
VERSION_LABELS: Final = ("version", "app.kubernetes.io/version")
#: AuthorizationPolicy operation fields that only a proxy parsing HTTP can check.
_L7_OPERATION_FIELDS: Final = ("methods", "notMethods", "paths", "notPaths", "hosts", "notHosts")
_L7_SOURCE_FIELDS: Final = ("requestPrincipals", "notRequestPrincipals")


def _maps(value: Any) -> Iterator[Mapping[str, Any]]:
    """The mappings of a list, skipping anything else."""
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, Mapping))


def _done(found: dict[str, set[str]]) -> list[Signal]:
    return sorted((key, ", ".join(sorted(details))) for key, details in found.items())


def multi_version_services(inventory: Inventory) -> list[Signal]:
    """Services whose selected workloads run more than one version of the app.

    A version is a different value of a version label, or of a label a DestinationRule subset
    selects on (robot-shop tells its canary apart by ``stage``)."""
    keys = set(VERSION_LABELS)
    for dr in inventory.istio_of_kind("DestinationRule"):
        for subset in _maps(dr.spec.get("subsets")):
            keys.update(str(k) for k in raw.mapping(subset.get("labels")))
    found: dict[str, set[str]] = defaultdict(set)
    for svc in inventory.services:
        if len(svc.selects) < 2:
            continue  # one workload runs one version (most Services: skip them cheaply)
        workloads = [inventory.workload_index[r] for r in svc.selects
                     if r in inventory.workload_index]
        if len(workloads) < 2:
            continue
        for key in sorted(keys):
            values = {w.pod_labels[key] for w in workloads if key in w.pod_labels}
            if len(values) > 1:
                found[svc.ref.key].add(f"{key}: {', '.join(sorted(values))}")
    return _done(found)


def traffic_shifting(inventory: Inventory) -> list[Signal]:
    """VirtualServices and Gateway API routes that split by weight, match on headers, mirror,
    or route between several subsets of one host."""
    found: dict[str, set[str]] = defaultdict(set)
    for vs in inventory.istio_of_kind("VirtualService"):
        subsets: set[tuple[str, str]] = set()
        for http in _maps(vs.spec.get("http")):
            destinations = list(_maps(http.get("route")))
            weights = [d.get("weight") for d in destinations if isinstance(d.get("weight"), int)]
            if len(destinations) > 1 and weights:
                found[vs.ref.key].add("weighted route " + "/".join(str(w) for w in weights))
            if any("headers" in m for m in _maps(http.get("match"))):
                found[vs.ref.key].add("header match")
            if "mirror" in http or "mirrors" in http:
                found[vs.ref.key].add("mirroring")
            for d in destinations:
                dest = raw.mapping(d.get("destination"))
                if isinstance(dest.get("subset"), str):
                    subsets.add((str(dest.get("host")), dest["subset"]))
        hosts = {h for h, _ in subsets}
        if any(len({s for h2, s in subsets if h2 == h}) > 1 for h in hosts):
            found[vs.ref.key].add("routes to several subsets")
    for route in inventory.routes:
        if route.ref.kind not in ("HTTPRoute", "GRPCRoute"):
            continue
        for rule in _maps(route.spec.get("rules")):
            backends = list(_maps(rule.get("backendRefs")))
            if len(backends) > 1 and any(isinstance(b.get("weight"), int) for b in backends):
                found[route.ref.key].add("weighted backends")
            if any("headers" in m for m in _maps(rule.get("matches"))):
                found[route.ref.key].add("header match")
            if any(f.get("type") == "RequestMirror" for f in _maps(rule.get("filters"))):
                found[route.ref.key].add("mirroring")
    return _done(found)


def canaries(inventory: Inventory) -> list[Signal]:
    """Argo Rollouts (workloads) and Flagger Canaries (counted in ``inventory.other`` only, so
    they are named by kind and count)."""
    found = [(w.ref.key, "Argo Rollout") for w in inventory.workloads if w.ref.kind == "Rollout"]
    flagger = inventory.other.get("Canary", 0)
    if flagger:
        found.append((f"Canary (x{flagger})", "Flagger canary"))
    return sorted(found)


def fault_injection(inventory: Inventory) -> list[Signal]:
    """VirtualServices that inject delays or aborts."""
    found: dict[str, set[str]] = defaultdict(set)
    for vs in inventory.istio_of_kind("VirtualService"):
        for http in _maps(vs.spec.get("http")):
            fault = raw.mapping(http.get("fault"))
            found_kinds = [k for k in ("delay", "abort") if k in fault]
            if found_kinds:
                found[vs.ref.key].update(f"fault {k}" for k in found_kinds)
    return _done(found)


def resilience(inventory: Inventory) -> list[Signal]:
    """Retries and timeouts (VirtualService) and circuit breaking (DestinationRule
    ``outlierDetection``/``connectionPool``, at any level)."""
    found: dict[str, set[str]] = defaultdict(set)
    for vs in inventory.istio_of_kind("VirtualService"):
        for http in _maps(vs.spec.get("http")):
            found[vs.ref.key].update(k for k in ("retries", "timeout") if k in http)
    for dr in inventory.istio_of_kind("DestinationRule"):
        for policy in _traffic_policies(dr):
            found[dr.ref.key].update(k for k in ("outlierDetection", "connectionPool")
                                     if k in policy)
    return _done({k: v for k, v in found.items() if v})


def _traffic_policies(dr: PolicyObject) -> Iterator[Mapping[str, Any]]:
    """Every trafficPolicy of a DestinationRule: top level, per port, per subset."""
    tops = [raw.mapping(dr.spec.get("trafficPolicy"))]
    tops += [raw.mapping(s.get("trafficPolicy")) for s in _maps(dr.spec.get("subsets"))]
    for top in tops:
        yield top
        yield from _maps(top.get("portLevelSettings"))


def request_authorization(inventory: Inventory) -> list[Signal]:
    """AuthorizationPolicies that check methods, paths, hosts, request headers or JWT claims,
    CUSTOM (external) authorization, and RequestAuthentication: all need an L7 proxy."""
    found: dict[str, set[str]] = defaultdict(set)
    for ap in inventory.istio_of_kind("AuthorizationPolicy"):
        if ap.spec.get("action") == "CUSTOM":
            found[ap.ref.key].add("CUSTOM action")
        for rule in _maps(ap.spec.get("rules")):
            for to in _maps(rule.get("to")):
                operation = raw.mapping(to.get("operation"))
                found[ap.ref.key].update(f for f in _L7_OPERATION_FIELDS if f in operation)
            for source in _maps(rule.get("from")):
                found[ap.ref.key].update(f for f in _L7_SOURCE_FIELDS
                                         if f in raw.mapping(source.get("source")))
            for cond in _maps(rule.get("when")):
                key = cond.get("key")
                if isinstance(key, str) and key.startswith("request."):
                    found[ap.ref.key].add(f"when {key}")
    for ra in inventory.istio_of_kind("RequestAuthentication"):
        found[ra.ref.key].add("JWT RequestAuthentication")
    return _done({k: v for k, v in found.items() if v})
