"""build_graph on small hand-made inventories: resolution, platform callers, mesh state,
coverage and the derived views."""

from __future__ import annotations

from typing import Any

from planner.domain.diagnostics import Source
from planner.domain.graph import APISERVER, INTERNET, KUBELET, PROMETHEUS, CallGraph
from planner.domain.graph_builder import build_graph
from planner.domain.inventory_builder import build_inventory
from planner.sources.manifests import RawDocument


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name,
                                                                  "labels": labels}}


def deploy(namespace: str, name: str, env: dict[str, str] | None = None, *,
           pod_labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
           extra: dict[str, Any] | None = None, spec: dict[str, Any] | None = None,
           ) -> dict[str, Any]:
    container: dict[str, Any] = {"name": name, "image": "x",
                                 "ports": [{"name": "http", "containerPort": 8080}],
                                 "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                                 **(extra or {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"template": {"metadata": {"labels": {"app": name, **(pod_labels or {})},
                                               "annotations": annotations or {}},
                                  "spec": {"containers": [container], **(spec or {})}}}}


def svc(namespace: str, name: str, port: int = 80, target: int | str = 8080,
        type_: str = "ClusterIP", port_name: str = "http") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name,
                                                                "namespace": namespace},
            "spec": {"type": type_, "selector": {"app": name},
                     "ports": [{"name": port_name, "port": port, "targetPort": target}]}}


def graph(*bodies: dict[str, Any], domain: str = "cluster.local") -> CallGraph:
    docs = [RawDocument(Source("test.yaml", i), b) for i, b in enumerate(bodies)]
    return build_graph(build_inventory(docs), cluster_domain=domain)


def keys(g: CallGraph) -> set[str]:
    return {e.key for e in g.edges}


def test_every_dns_form_and_custom_domain() -> None:
    g = graph(svc("b", "api"), deploy("b", "api"),
              deploy("a", "web", {"A": "api.b:80", "B": "http://api.b.svc",
                                  "C": "api.b.svc.corp.internal:80"}), domain="corp.internal")
    (edge,) = g.edges
    assert edge.key == "Deployment/a/web -> Service/b/api:80"
    assert {ev.text for ev in edge.evidence} == {"api.b:80", "http://api.b.svc",
                                                 "api.b.svc.corp.internal:80"}
    assert edge.target_ports == (8080,)


def test_a_namespace_named_svc_is_a_namespace() -> None:
    # ``api.svc`` completes through the search domain svc.cluster.local to Service api of
    # namespace svc; it is not a short name of the caller's own namespace.
    g = graph(svc("svc", "api"), deploy("svc", "api"), svc("a", "api"), deploy("a", "api"),
              deploy("a", "web", {"API_URL": "http://api.svc:8080"}))
    assert keys(g) == {"Deployment/a/web -> Service/svc/api:80"}


def test_short_names_resolve_only_in_the_callers_namespace() -> None:
    g = graph(svc("b", "api"), deploy("b", "api"), deploy("a", "web", {"API_URL": "http://api"}))
    assert not g.edges


def test_bare_names_need_an_address_like_variable() -> None:
    g = graph(svc("a", "prometheus"), deploy("a", "prometheus"),
              deploy("a", "jaeger", {"METRICS_STORAGE_TYPE": "prometheus",
                                     "OTEL_SERVICE_NAME": "prometheus",
                                     "FEATURE_FLAGS": "prometheus-enabled=true"}),
              deploy("a", "proxy", {"PROM_HOST": "prometheus"}))
    assert keys(g) == {"Deployment/a/proxy -> Service/a/prometheus:80"}
    assert g.edges[0].evidence[0].confidence == 0.7


def test_self_reference_is_not_a_call() -> None:
    g = graph(svc("a", "cars"), deploy("a", "cars", {"CURRENT_SERVICE": "cars",
                                                     "SELF_URL": "http://cars:80"}))
    assert not g.edges


def test_var_expansion_configmaps_and_args() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "cfg", "namespace": "a"},
          "data": {"db.url": "postgres://u@pg:5432/x", "BACKEND_URL": "http://api:80",
                   "app.yaml": "upstream: http://files:80/\nname: api\n"}}
    caller = deploy("a", "web", {"HOST": "otel", "OTLP": "http://$(HOST):80"}, extra={
        "env": [{"name": "HOST", "value": "otel"},
                {"name": "OTLP", "value": "http://$(HOST):80"},
                {"name": "DB", "valueFrom": {"configMapKeyRef": {"name": "cfg",
                                                                 "key": "db.url"}}}],
        "envFrom": [{"configMapRef": {"name": "cfg"}}],
        "args": ["--wait", "cache", "6379"],
        "volumeMounts": [{"name": "conf", "mountPath": "/etc/app"}]},
        spec={"volumes": [{"name": "conf", "configMap": {"name": "cfg"}}]})
    g = graph(cm, caller, *(b for n in ("otel", "api", "files") for b in (svc("a", n),
                                                                           deploy("a", n))),
              svc("a", "pg", 5432, 5432, port_name="tcp-postgres"), deploy("a", "pg"),
              svc("a", "cache", 6379, 6379, port_name="redis"), deploy("a", "cache"))
    by_callee = {e.callee.rsplit("/", 1)[1]: e for e in g.edges if e.caller.startswith("Dep")}
    assert set(by_callee) == {"otel", "api", "files", "pg", "cache"}
    assert by_callee["pg"].protocol == "postgres" and by_callee["cache"].protocol == "redis"
    assert {ev.kind for ev in by_callee["pg"].evidence} == {"configmap", "volume"}
    assert by_callee["files"].evidence[0].source == "ConfigMap a/cfg key app.yaml"
    assert by_callee["cache"].evidence[0].kind == "args"


def test_platform_callers_and_entry_edges() -> None:
    probe = {"readinessProbe": {"httpGet": {"path": "/", "port": "http"}}}
    webhook = {"apiVersion": "admissionregistration.k8s.io/v1",
               "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "v"},
               "webhooks": [{"name": "v.x", "clientConfig": {"service": {
                   "namespace": "a", "name": "hook", "port": 443}}}]}
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "i", "namespace": "a"},
               "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {
                       "name": "web", "port": {"name": "http"}}}}]}}]}}
    g = graph(deploy("a", "web", extra=probe, annotations={"prometheus.io/scrape": "true",
                                                          "prometheus.io/port": "8080"}),
              svc("a", "web", type_="NodePort"), deploy("a", "hook"),
              svc("a", "hook", 443, 8443), webhook, ingress)
    assert keys(g) == {
        f"{KUBELET} -> Service/a/web:80", f"{PROMETHEUS} -> Service/a/web:80",
        f"{INTERNET} -> Service/a/web:80", f"{APISERVER} -> Service/a/hook:443",
        "ingress:nginx -> Service/a/web:80"}
    assert {e.caller for e in g.entry_points()} == {INTERNET, APISERVER, "ingress:nginx",
                                                    KUBELET, PROMETHEUS}
    external = {n.id: n for n in g.nodes if n.kind.value == "external"}
    assert not any(n.meshed for n in external.values())
    assert all(n.mesh_reason for n in external.values())


def test_in_cluster_prometheus_is_the_scraper() -> None:
    g = graph(deploy("mon", "prometheus"),
              deploy("a", "web", annotations={"prometheus.io/scrape": "true"}), svc("a", "web"))
    # No prometheus.io/port: every declared port may be scraped, so no single Service port.
    assert keys(g) == {"Deployment/mon/prometheus -> Service/a/web"}


def test_mesh_state_in_words() -> None:
    g = graph(ns("side", **{"istio-injection": "enabled"}),
              ns("amb", **{"istio.io/dataplane-mode": "ambient"}), ns("off"),
              deploy("side", "in"), deploy("side", "out", pod_labels={
                  "sidecar.istio.io/inject": "false"}),
              deploy("side", "host", spec={"hostNetwork": True}),
              deploy("amb", "a"), deploy("off", "o"), deploy("kube-system", "dns"))
    state = {n.id: (n.meshed, n.mesh_reason) for n in g.nodes}
    assert state["Deployment/side/in"][0] is True
    assert state["Deployment/side/out"] == (False,
                                            "opted out with sidecar.istio.io/inject=false")
    assert "hostNetwork" in state["Deployment/side/host"][1]
    assert state["Deployment/amb/a"][0] is True
    assert state["Deployment/off/o"][0] is False
    assert "kube-system" in state["Deployment/kube-system/dns"][1]


def test_secret_and_silent_workloads_are_coverage_gaps() -> None:
    g = graph(deploy("a", "ledger", extra={"envFrom": [{"secretRef": {"name": "db"}}]}),
              deploy("a", "lonely"))
    assert {(c.workload, c.reason) for c in g.coverage} == {
        ("Deployment/a/ledger", "no address found; addresses may be in Secret db"),
        ("Deployment/a/lonely", "no inferred inbound or outbound edge")}


def test_a_silent_workload_names_only_its_own_missing_services() -> None:
    g = graph(deploy("a", "lonely", {"CART": "http://cart", "DB": "http://db.a.svc:5432"}),
              deploy("b", "other", {"QUEUE": "http://queue:5672"}))
    silent = "no inferred inbound or outbound edge; it names"
    assert {(c.workload, c.reason) for c in g.coverage} == {
        ("Deployment/a/lonely", f"{silent} cart, db.a.svc, which no Service in the input is"),
        ("Deployment/b/other", f"{silent} queue, which no Service in the input is")}


def test_hints_from_policies_are_kept_apart() -> None:
    netpol = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "p", "namespace": "a"},
              "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "ingress": [
                  {"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                   "ports": [{"port": 8080}]}]}}
    authz = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
             "metadata": {"name": "z", "namespace": "a"},
             "spec": {"selector": {"matchLabels": {"app": "api"}}, "rules": [{"from": [
                 {"source": {"principals": ["cluster.local/ns/b/sa/default"]}}]}]}}
    g = graph(deploy("a", "api"), svc("a", "api"), deploy("a", "web"), deploy("b", "job"),
              netpol, authz)
    assert not g.edges
    assert {(e.key, e.evidence[0].kind) for e in g.hints} == {
        ("Deployment/a/web -> Service/a/api:80", "networkpolicy"),
        ("Deployment/b/job -> Service/a/api", "authorizationpolicy")}


def test_derived_views() -> None:
    g = graph(ns("a", **{"istio-injection": "enabled"}), ns("b"),
              deploy("a", "web", {"API": "api.b:80"}), svc("a", "web"),
              deploy("b", "api", {"WEB": "web.a:80"}), svc("b", "api"),
              deploy("b", "db"), svc("b", "db", 5432, 5432, port_name="tcp-postgres"),
              deploy("a", "cron", {"DB_URL": "postgres://db.b/x"}))
    assert g.namespace_graph.count("a", "b") == 2
    assert g.strongly_connected_namespaces() == [("a", "b")]
    assert g.inbound_callers("b") == {"meshed": ("Deployment/a/cron", "Deployment/a/web"),
                                      "not_meshed": ()}
    assert g.inbound_callers("a") == {"meshed": (), "not_meshed": ("Deployment/b/api",)}
    assert g.dependents("b") == {"Deployment/a/web", "Deployment/a/cron", "Deployment/b/api"}
    assert g.edge("Deployment/a/cron -> Service/b/db:5432") is not None
