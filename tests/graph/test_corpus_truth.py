"""Recall and precision of inferred call edges against the corpus's documented edges.

Each case's edges are transcribed from its ``EXPECTED_EDGES.md`` into three sets:

* ``expected``: edges the manifests show (the "env-var"/"config data" sections, and documented
  edges that are also visible) — recall is measured on these;
* ``documented_only``: documented edges no manifest shows (addresses baked into images, a
  diagram) — reported in docs/graph.md, never counted as misses of the inference;
* ``neutral``: edges that are right but not listed one by one (Prometheus discovers every pod:
  ``"*"`` as callee).

Only calls from workloads are scored (entry edges, kubelet and hints have their own tests).
Names are ``namespace/name``; a workload caller answers to its own name and to the names of the
Services that select it (the documents name callers by Service).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from planner.domain.graph import CallGraph, NodeKind
from tests.graph.conftest import graph_of
from tests.shared_data import corpus

Pair = tuple[str, str]


@dataclass(frozen=True)
class Case:
    name: str
    expected: frozenset[Pair]
    documented_only: frozenset[Pair] = frozenset()
    neutral: frozenset[Pair] = frozenset()
    false_positives: frozenset[Pair] = field(default_factory=frozenset)

    def graph(self) -> CallGraph:
        return _GRAPHS[self.name]()


def _in(ns: str, *pairs: str) -> frozenset[Pair]:
    """``"a -> b"`` strings in one namespace as ``(ns/a, ns/b)`` pairs."""
    result = set()
    for pair in pairs:
        caller, callee = (p.strip() for p in pair.split("->"))
        result.add((f"{ns}/{caller}", f"{ns}/{callee}" if callee != "*" else "*"))
    return frozenset(result)


def _multi(*pairs: str) -> frozenset[Pair]:
    return frozenset(tuple(p.strip() for p in pair.split("->")) for pair in pairs)  # type: ignore[misc]


OTEL_OTLP = ("accounting", "ad", "cart", "checkout", "currency", "email", "flagd",
             "fraud-detection", "frontend", "kafka", "load-generator", "payment",
             "product-catalog", "quote", "recommendation", "shipping", "frontend-proxy",
             "image-provider")
OTEL_FLAGD = ("ad", "cart", "checkout", "email", "fraud-detection", "frontend", "frontend-proxy",
              "load-generator", "payment", "product-catalog", "recommendation")

CASES = {
    "online-boutique": Case("online-boutique", _in(
        "default",
        "loadgenerator -> frontend", "frontend -> adservice", "frontend -> recommendationservice",
        "frontend -> productcatalogservice", "frontend -> cartservice",
        "frontend -> shippingservice", "frontend -> currencyservice",
        "frontend -> checkoutservice", "recommendationservice -> productcatalogservice",
        "checkoutservice -> productcatalogservice", "checkoutservice -> cartservice",
        "checkoutservice -> shippingservice", "checkoutservice -> currencyservice",
        "checkoutservice -> paymentservice", "checkoutservice -> emailservice",
        "cartservice -> redis-cart")),
    "bookinfo": Case("bookinfo", frozenset(), documented_only=_in(
        "default", "productpage -> details", "productpage -> reviews", "reviews -> ratings")),
    "sock-shop": Case("sock-shop", _in("sock-shop", "user -> user-db"), documented_only=_in(
        "sock-shop", "front-end -> orders", "front-end -> payment", "front-end -> user",
        "front-end -> catalogue", "front-end -> carts", "orders -> shipping",
        "shipping -> rabbitmq", "queue-master -> rabbitmq", "orders -> orders-db",
        "catalogue -> catalogue-db", "carts -> carts-db", "orders -> payment",
        "orders -> carts", "orders -> user")),
    "sock-shop-multi-namespace": Case(
        "sock-shop-multi-namespace",
        _multi("loadtest/load-test -> sock-shop/front-end",
               "sock-shop/shipping -> jaeger/zipkin", "sock-shop/catalogue -> jaeger/zipkin",
               "sock-shop/payment -> jaeger/zipkin", "sock-shop/user -> jaeger/zipkin",
               "sock-shop/user -> sock-shop/user-db",
               "monitoring/grafana-import-dashboards -> monitoring/grafana"),
        documented_only=_in(
            "sock-shop", "front-end -> orders", "front-end -> payment", "front-end -> user",
            "front-end -> catalogue", "front-end -> carts", "orders -> shipping",
            "shipping -> rabbitmq", "queue-master -> rabbitmq", "orders -> orders-db",
            "catalogue -> catalogue-db", "carts -> carts-db", "orders -> payment",
            "orders -> carts", "orders -> user") | _multi(
            "monitoring/grafana -> monitoring/prometheus"),
        neutral=_in("monitoring", "prometheus -> *"),
        # The Job posts a datasource whose URL names prometheus: an address, not its call.
        false_positives=_multi(
            "monitoring/grafana-import-dashboards -> monitoring/prometheus")),
    "otel-demo": Case(
        "otel-demo",
        _in("otel-demo",
            "checkout -> cart", "checkout -> currency", "checkout -> email",
            "checkout -> payment", "checkout -> product-catalog", "checkout -> shipping",
            "checkout -> kafka", "frontend -> ad", "frontend -> cart", "frontend -> checkout",
            "frontend -> currency", "frontend -> product-catalog", "frontend -> recommendation",
            "frontend -> shipping", "recommendation -> product-catalog", "shipping -> quote",
            "cart -> valkey-cart", "accounting -> kafka", "accounting -> postgresql",
            "fraud-detection -> kafka", "load-generator -> frontend-proxy",
            "frontend-proxy -> frontend", "frontend-proxy -> image-provider",
            "frontend-proxy -> grafana", "frontend-proxy -> jaeger-query",
            "frontend-proxy -> load-generator", "jaeger -> prometheus",
            "otel-collector -> jaeger-collector", "otel-collector -> prometheus",
            "otel-collector -> opensearch", "otel-collector -> frontend-proxy",
            "otel-collector -> image-provider", "otel-collector -> postgresql",
            "otel-collector -> valkey-cart",
            *(f"{s} -> otel-collector" for s in OTEL_OTLP),
            *(f"{s} -> flagd" for s in OTEL_FLAGD)),
        # Grafana reads its datasources through the k8s-sidecar (ConfigMaps found by label).
        documented_only=_in("otel-demo", "grafana -> prometheus", "grafana -> jaeger-query",
                            "grafana -> opensearch"),
        neutral=_in("otel-demo", "prometheus -> *")),
    "kiali-travels": Case("kiali-travels", _multi(
        "travel-portal/voyages -> travel-agency/travels",
        "travel-portal/viaggi -> travel-agency/travels",
        "travel-portal/travels -> travel-agency/travels",
        "travel-agency/travels -> travel-agency/flights",
        "travel-agency/travels -> travel-agency/hotels",
        "travel-agency/travels -> travel-agency/cars",
        "travel-agency/travels -> travel-agency/insurances",
        "travel-agency/flights -> travel-agency/discounts",
        "travel-agency/hotels -> travel-agency/discounts",
        "travel-agency/cars -> travel-agency/discounts",
        "travel-agency/insurances -> travel-agency/discounts",
        "travel-agency/flights -> travel-agency/mysqldb",
        "travel-agency/hotels -> travel-agency/mysqldb",
        "travel-agency/cars -> travel-agency/mysqldb",
        "travel-agency/insurances -> travel-agency/mysqldb",
        "travel-control/control -> travel-portal/voyages",
        "travel-control/control -> travel-portal/viaggi",
        "travel-control/control -> travel-portal/travels")),
    "robot-shop": Case("robot-shop", _in("robot-shop", "load -> web")),
}

_GRAPHS = {
    "online-boutique": lambda: graph_of(corpus("online-boutique")),
    "bookinfo": lambda: graph_of(corpus("bookinfo")),
    "sock-shop": lambda: graph_of(corpus("sock-shop")),
    "sock-shop-multi-namespace": lambda: graph_of(corpus("sock-shop-multi-namespace")),
    "otel-demo": lambda: graph_of(corpus("otel-demo"), namespace="otel-demo"),
    "kiali-travels": lambda: graph_of(folders={
        ns: corpus("kiali-travels") / ns
        for ns in ("travel-agency", "travel-portal", "travel-control")}),
    "robot-shop": lambda: graph_of(corpus("robot-shop"), namespace="robot-shop"),
}

#: (recall, precision) each case reaches; None where nothing is expected or predicted.
FIGURES: dict[str, tuple[float | None, float | None]] = {
    "online-boutique": (1.0, 1.0),
    "bookinfo": (None, None),
    "sock-shop": (1.0, 1.0),
    "sock-shop-multi-namespace": (1.0, 18 / 19),
    "otel-demo": (1.0, 1.0),
    "kiali-travels": (1.0, 1.0),
    "robot-shop": (1.0, 1.0),
}


def caller_names(graph: CallGraph, node_id: str) -> set[str]:
    node = graph.node_index[node_id]
    names = {f"{node.namespace}/{node.name}"}
    for svc, workloads in graph.backends.items():
        if node_id in workloads:
            svc_node = graph.node_index[svc]
            names.add(f"{svc_node.namespace}/{svc_node.name}")
    return names


def score(case: Case, graph: CallGraph) -> tuple[int, int, int, int]:
    """(expected found, expected total, correct predictions, scored predictions)."""
    predicted: list[tuple[set[str], str]] = []
    for edge in graph.edges:
        if graph.node_index[edge.caller].kind is not NodeKind.WORKLOAD:
            continue
        callee = graph.node_index[edge.callee]
        predicted.append((caller_names(graph, edge.caller), f"{callee.namespace}/{callee.name}"))
    found = sum(1 for a, b in case.expected
                if any(a in callers and b == callee for callers, callee in predicted))
    known = case.expected | case.documented_only
    correct = sum(
        1 for callers, callee in predicted
        if any((c, callee) in known or (c, "*") in case.neutral for c in callers))
    return found, len(case.expected), correct, len(predicted)


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case_reaches_its_figures(name: str) -> None:
    case = CASES[name]
    found, total, correct, predicted = score(case, case.graph())
    recall = found / total if total else None
    precision = correct / predicted if predicted else None
    assert (recall, precision) == pytest.approx(FIGURES[name])


#: Manifest coverage (docs/graph.md): application workloads, the blind ones among them (no
#: outbound call in the manifests), and the dangling names.
COVERAGE: dict[str, tuple[int, set[str], set[str]]] = {
    "online-boutique": (11, {"adservice", "currencyservice", "emailservice", "paymentservice",
                             "productcatalogservice", "shippingservice"},
                        {"shoppingassistantservice"}),
    "bookinfo": (6, {"details-v1", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2",
                     "reviews-v3"}, set()),
    "sock-shop": (8, {"carts", "catalogue", "front-end", "orders", "payment", "queue-master",
                      "shipping"}, {"zipkin.jaeger.svc.cluster.local"}),
    "sock-shop-multi-namespace": (12, {"node-directory-size-metrics", "grafana-core", "carts",
                                       "front-end", "orders", "queue-master"}, set()),
    "otel-demo": (19, {"grafana"}, set()),
    "kiali-travels": (10, {"discounts-v1"}, set()),
    "robot-shop": (10, {"cart", "catalogue", "dispatch", "payment", "payment-fix", "ratings",
                        "shipping", "user", "web"}, set()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case_coverage_names_its_blind_workloads(name: str) -> None:
    coverage = CASES[name].graph().manifest_coverage
    applications, blind, dangling = COVERAGE[name]
    assert coverage.applications == applications
    assert {key.rsplit("/", 1)[-1] for key in coverage.blind} == blind
    assert {d.host for d in coverage.dangling} == dangling


def test_overall_recall_and_precision() -> None:
    totals = [0, 0, 0, 0]
    for case in CASES.values():
        for i, value in enumerate(score(case, case.graph())):
            totals[i] += value
    found, total, correct, predicted = totals
    assert found / total >= 0.95
    assert correct / predicted >= 0.95


def test_documented_false_positives_are_the_known_ones() -> None:
    """Every wrong prediction is one the docs explain."""
    for case in CASES.values():
        graph = case.graph()
        known = case.expected | case.documented_only
        for edge in graph.edges:
            if graph.node_index[edge.caller].kind is not NodeKind.WORKLOAD:
                continue
            callee = graph.node_index[edge.callee]
            callers = caller_names(graph, edge.caller)
            target = f"{callee.namespace}/{callee.name}"
            if any((c, target) in known or (c, "*") in case.neutral for c in callers):
                continue
            assert any((c, target) in case.false_positives for c in callers), edge.key


def test_kiali_same_name_across_namespaces_is_not_a_self_loop() -> None:
    graph = CASES["kiali-travels"].graph()
    edge = graph.edge("Deployment/travel-portal/travels -> Service/travel-agency/travels:8000")
    assert edge is not None
    assert not any(e.callee == "Service/travel-portal/travels"
                   and e.caller == "Deployment/travel-portal/travels" for e in graph.edges)


def test_dangling_names_are_not_edges() -> None:
    boutique = CASES["online-boutique"].graph()
    assert not any("shoppingassistant" in e.callee for e in boutique.edges)
    otel = CASES["otel-demo"].graph()
    assert not any(e.callee.endswith(("/flagd-ui", "/jaeger")) for e in otel.edges)
    # METRICS_STORAGE_TYPE=prometheus is a setting, not a call.
    assert all(ev.source != "Deployment otel-demo/jaeger env METRICS_STORAGE_TYPE"
               for e in otel.edges for ev in e.evidence)


def test_robot_shop_ingress_through_a_gateway_virtual_service() -> None:
    graph = CASES["robot-shop"].graph()
    edge = graph.edge("ingress:istio -> Service/robot-shop/web:8080")
    assert edge is not None and edge.evidence[0].kind == "virtualservice"


def test_sock_shop_network_policies_become_hints_not_calls() -> None:
    graph = CASES["sock-shop"].graph()
    hinted = {(e.caller, e.callee) for e in graph.hints}
    assert ("Deployment/sock-shop/orders", "Service/sock-shop/payment") in hinted
    # netpol-cart-access selects `name: cart`, which no pod carries: no hint.
    assert not any(e.callee == "Service/sock-shop/carts" and e.caller != "external:any"
                   for e in graph.hints)
    assert all(e.hint for e in graph.hints)
    assert not any(e.hint for e in graph.edges)


def test_namespace_per_folder_reads_kiali_travels_as_its_folders_say() -> None:
    from planner.service import ManifestInput, analyse

    by_flag = analyse(ManifestInput((str(corpus("kiali-travels")),),
                                    namespace_per_folder=True)).graph
    assert [e.key for e in by_flag.edges] == [e.key for e in CASES["kiali-travels"].graph().edges]
