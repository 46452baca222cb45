"""The inventory builder: namespaces, workloads, services, folding of controller children,
type errors and duplicates; where each object came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from planner.domain.diagnostics import Severity, Source
from planner.domain.inventory import ObjectRef
from planner.domain.inventory_builder import build_inventory, invalid_count


@dataclass(frozen=True)
class Doc:
    source: Source
    body: dict[str, Any]


def docs(text: str, file: str = "test.yaml") -> list[Doc]:
    return [Doc(Source(file, i), b) for i, b in enumerate(yaml.safe_load_all(text), 1) if b]


DEPLOYMENT = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop, uid: d1}
spec:
  replicas: 3
  selector: {matchLabels: {app: cart}}
  template:
    metadata:
      labels: {app: cart, version: v1}
      annotations: {sidecar.istio.io/rewriteAppHTTPProbers: "false"}
    spec:
      serviceAccountName: cart
      securityContext: {runAsUser: 1000}
      volumes:
      - name: cfg
        configMap: {name: cart-config}
      initContainers:
      - name: wait
        image: busybox
        args: [nc, -z, postgres, 5432]
      containers:
      - name: cart
        image: cart:1
        ports: [{containerPort: 8080, name: http}]
        env:
        - {name: PRODUCT_ADDR, value: "catalog.catalog:8080"}
        - {name: DB_URL, valueFrom: {configMapKeyRef: {name: cart-config, key: db.url}}}
        - {name: PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}
        envFrom:
        - configMapRef: {name: cart-env}
        - secretRef: {name: cart-secrets}
        readinessProbe: {httpGet: {path: /healthz, port: http}}
        volumeMounts: [{name: cfg, mountPath: /etc/cart}]
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec:
  selector: {app: cart}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: cart-headless}
spec:
  clusterIP: None
  selector: {app: cart}
  ports: [{port: 8080}]
"""


def test_workload_fields_are_read() -> None:
    inv = build_inventory(docs(DEPLOYMENT))
    assert invalid_count(inv) == 0
    cart = inv.workload_index[ObjectRef("Deployment", "shop", "cart")]
    assert cart.replicas == 3
    assert cart.service_account == "cart"
    assert cart.run_as_user == 1000
    assert cart.pod_annotations["sidecar.istio.io/rewriteAppHTTPProbers"] == "false"
    container = cart.containers[0]
    assert container.ports[0].container_port == 8080
    env = {e.name: e for e in container.env}
    assert env["PRODUCT_ADDR"].value == "catalog.catalog:8080"
    assert (env["DB_URL"].config_map, env["DB_URL"].config_map_key) == ("cart-config", "db.url")
    assert env["PASSWORD"].secret == "db" and env["PASSWORD"].value is None
    assert [(f.kind, f.name) for f in container.env_from] == [
        ("ConfigMap", "cart-env"), ("Secret", "cart-secrets")]
    assert container.probes[0].handler == "http" and container.probes[0].port == "http"
    assert container.mounts[0].config_map == "cart-config"
    assert cart.init_containers[0].args == ("nc", "-z", "postgres", "5432")


def test_services_select_workloads_and_default_namespace() -> None:
    inv = build_inventory(docs(DEPLOYMENT), default_namespace="shop")
    svc = inv.service_index[("shop", "cart")]
    assert svc.selects == (ObjectRef("Deployment", "shop", "cart"),)
    assert svc.ports[0].target_port == "http"
    headless = inv.service_index[("shop", "cart-headless")]
    assert headless.headless and headless.selects == svc.selects


def test_objects_without_namespace_land_in_the_default_namespace() -> None:
    inv = build_inventory(docs(DEPLOYMENT), default_namespace="other")
    assert ("other", "cart-headless") in inv.service_index
    assert {n.name: n.declared for n in inv.namespaces} == {"shop": True, "other": False}
    assert inv.namespace_index["shop"].enrollment == "sidecar"


def test_cluster_scoped_kinds_have_no_namespace() -> None:
    inv = build_inventory(docs("""
apiVersion: v1
kind: Node
metadata: {name: node-1, namespace: ignored}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: hooks}
webhooks:
- name: a.example.com
  clientConfig: {service: {namespace: pay, name: webhook, port: 8443, path: /validate}}
"""))
    assert inv.nodes == ("node-1",)
    hook = inv.api_server_callees[0]
    assert hook.ref == ObjectRef("ValidatingWebhookConfiguration", "", "hooks")
    assert (hook.backends[0].namespace, hook.backends[0].service, hook.backends[0].port) == (
        "pay", "webhook", 8443)
    assert "default" not in inv.namespace_index


@pytest.mark.parametrize("label,expected", [
    ({"istio-injection": "enabled"}, "sidecar"),
    ({"istio.io/rev": "1-24"}, "sidecar"),
    ({"istio.io/dataplane-mode": "ambient"}, "ambient"),
    ({"istio-injection": "disabled", "istio.io/rev": "1-24"}, "none"),
    ({}, "none"),
])
def test_namespace_enrollment(label: dict[str, str], expected: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": label}}
    inv = build_inventory([Doc(Source("f"), body)])
    assert inv.namespaces[0].enrollment == expected


LIVE_EXPORT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, managedFields: [{manager: kubectl}]}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
status: {readyReplicas: 2}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d4f
  namespace: shop
  ownerReferences: [{kind: Deployment, name: web, controller: true}]
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d4f-a
  namespace: shop
  annotations: {sidecar.istio.io/status: "{}"}
  ownerReferences: [{kind: ReplicaSet, name: web-5d4f, controller: true}]
spec:
  containers: [{name: web, image: web}, {name: istio-proxy, image: proxyv2}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d4f-b
  namespace: shop
  ownerReferences: [{kind: ReplicaSet, name: web-5d4f, controller: true}]
spec:
  containers: [{name: web, image: web}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: shop, annotations: {ambient.istio.io/redirection: enabled}}
spec:
  containers: [{name: sh, image: busybox}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: shop}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: shop}
"""


def test_live_export_folds_children_into_owners() -> None:
    inv = build_inventory(docs(LIVE_EXPORT))
    refs = [w.ref for w in inv.workloads]
    assert refs == [ObjectRef("Deployment", "shop", "web"), ObjectRef("Pod", "shop", "debug")]
    web = inv.workloads[0]
    assert web.observed is not None
    assert (web.observed.pods, web.observed.sidecar_injected) == (2, 1)
    debug = inv.workloads[1]
    assert debug.observed is not None and debug.observed.ambient_redirected == 1
    assert inv.folded == {"EndpointSlice": 1, "Endpoints": 1, "Pod": 2, "ReplicaSet": 1}


def test_live_export_keeps_each_pod_with_its_workload() -> None:
    """The folded Pods stay known by name: Pod -> ReplicaSet -> Deployment, a bare Pod is its
    own workload (flow logs name pods; see resolve_pods)."""
    inv = build_inventory(docs(LIVE_EXPORT))
    assert [(p.ref.name, p.workload) for p in inv.pods] == [
        ("debug", ObjectRef("Pod", "shop", "debug")),
        ("web-5d4f-a", ObjectRef("Deployment", "shop", "web")),
        ("web-5d4f-b", ObjectRef("Deployment", "shop", "web"))]


PODS_DUMP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "0 3 * * 0"
  jobTemplate:
    spec:
      template:
        spec: {containers: [{name: r, image: r}], restartPolicy: Never}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-7c9f8b6d5-x2x9z
  namespace: shop
  labels: {app: web, pod-template-hash: 7c9f8b6d5}
  ownerReferences: [{kind: ReplicaSet, name: web-7c9f8b6d5, controller: true}]
spec: {containers: [{name: web, image: web}]}
status:
  phase: Running
  podIP: 10.1.0.7
  podIPs: [{ip: 10.1.0.7}, {ip: "fd00::7"}]
---
apiVersion: v1
kind: Pod
metadata:
  name: other-7c9f8b6d5-q4q4q
  namespace: shop
  labels: {app: other, pod-template-hash: 6b5d}
  ownerReferences: [{kind: ReplicaSet, name: other-7c9f8b6d5, controller: true}]
spec: {containers: [{name: web, image: web}]}
status: {phase: Running, podIP: 10.1.0.8}
---
apiVersion: v1
kind: Pod
metadata:
  name: report-29123456-7hq2k
  namespace: shop
  ownerReferences: [{kind: Job, name: report-29123456, controller: true}]
spec: {containers: [{name: r, image: r}]}
status: {phase: Succeeded, podIP: 10.1.0.9}
---
apiVersion: v1
kind: Pod
metadata: {name: node-agent, namespace: shop}
spec: {hostNetwork: true, containers: [{name: a, image: a}]}
status: {phase: Running, podIP: 172.18.0.2, hostIP: 172.18.0.2}
"""


def test_pods_dump_next_to_manifests_folds_into_the_owners_it_names() -> None:
    """A pods dump holds no ReplicaSets or Jobs: a Pod goes to the Deployment its
    pod-template-hash names (the ReplicaSet is <deployment>-<hash>), and to the CronJob its
    Job's name names (<cronjob>-<minute>); a hash that does not end the ReplicaSet's name
    proves nothing. IPs are kept for running, non-hostNetwork Pods only."""
    inv = build_inventory(docs(PODS_DUMP))
    by_name = {p.ref.name: (p.workload.key, p.ips) for p in inv.pods}
    assert by_name == {
        "web-7c9f8b6d5-x2x9z": ("Deployment/shop/web", ("10.1.0.7", "fd00::7")),
        "other-7c9f8b6d5-q4q4q": ("Pod/shop/other-7c9f8b6d5-q4q4q", ("10.1.0.8",)),
        "report-29123456-7hq2k": ("CronJob/shop/report", ()),  # finished: its IP is free
        "node-agent": ("Pod/shop/node-agent", ()),  # hostNetwork: the node's address
    }
    assert inv.folded == {"Pod": 2}


def test_orphan_replicaset_stands_alone() -> None:
    text = LIVE_EXPORT.split("---")[1]
    inv = build_inventory(docs(text))
    assert [w.ref.kind for w in inv.workloads] == ["ReplicaSet"]


@pytest.mark.parametrize("bad,message", [
    ("ports: [{containerPort: '8080'}]", "containerPort must be an integer, got string '8080'"),
    ("env: {A: b}", "env must be a list, got mapping"),
    ("env: [{name: A, value: {x: 1}}]", "value must be a string, got mapping"),
])
def test_wrong_types_skip_the_document_with_one_error(bad: str, message: str) -> None:
    text = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: broken, namespace: shop}}
spec:
  template:
    spec:
      containers:
      - name: c
        {bad}
---
apiVersion: v1
kind: Service
metadata: {{name: fine, namespace: shop}}
spec: {{ports: [{{port: 80}}]}}
"""
    inv = build_inventory(docs(text, "bad.yaml"))
    errors = [d for d in inv.diagnostics if d.severity is Severity.ERROR]
    assert len(errors) == 1
    assert message in errors[0].message
    assert "Deployment shop/broken" in errors[0].message
    assert errors[0].source == Source("bad.yaml", 1)
    assert not inv.workloads and len(inv.services) == 1
    assert invalid_count(inv) == 1


@pytest.mark.parametrize(("kind", "spec", "message"), [
    # Read as given, -3 replicas made -3 pods, -0.3 vCPU and -384 MiB in the cost estimate.
    ("Deployment", "replicas: -3", "spec.replicas must be between 0 and 2147483647, got -3"),
    ("Deployment", "replicas: 4294967296",
     "spec.replicas must be between 0 and 2147483647, got 4294967296"),
    ("Job", "parallelism: -1", "spec.parallelism must be between 0 and 2147483647, got -1"),
    ("Deployment", "template: {spec: {containers: [{name: c, ports: [{containerPort: 99999}]}]}}",
     "containers[0].ports[0].containerPort must be between 1 and 65535, got 99999"),
    ("Service", "ports: [{port: 70000}]", "spec.ports[0].port must be between 1 and 65535, "
     "got 70000"),
    ("Service", "ports: [{port: 80, targetPort: -1}]",
     "spec.ports[0].targetPort must be between 0 and 65535, got -1"),
])
def test_counts_and_ports_the_api_server_refuses(kind: str, spec: str, message: str) -> None:
    api = "v1" if kind == "Service" else "batch/v1" if kind == "Job" else "apps/v1"
    inv = build_inventory(docs(f"apiVersion: {api}\nkind: {kind}\n"
                               f"metadata: {{name: x, namespace: shop}}\nspec: {{{spec}}}\n"))
    [error] = [d for d in inv.diagnostics if d.severity is Severity.ERROR]
    assert message in error.message
    assert not inv.workloads and not inv.services


def test_a_target_port_of_zero_defaults_to_the_port() -> None:
    """The API server admits targetPort 0 (real charts write it: otel-demo, robot-shop)."""
    inv = build_inventory(docs("apiVersion: v1\nkind: Service\nmetadata: {name: x, "
                               "namespace: shop}\nspec: {ports: [{port: 80, targetPort: 0}]}\n"))
    assert len(inv.services) == 1 and not inv.diagnostics


@pytest.mark.parametrize("spec,message", [
    # bool("false") is True: read loosely, a quoted false made the pod hostNetwork.
    ('hostNetwork: "false"', "spec.template.spec.hostNetwork: invalid value 'false': must be "
                             "a boolean (true or false, without quotes), got string"),
    ("hostNetwork: 'true'", "spec.template.spec.hostNetwork: invalid value 'true'"),
    ("hostNetwork: 1", "spec.template.spec.hostNetwork: invalid value 1: must be a boolean"),
    ("containers: [{name: c, readinessProbe: {tcpSocket: {port: '8080'}}}]",
     "containers[0].readinessProbe.tcpSocket.port: invalid value '8080': a port number in quotes"),
])
def test_mistyped_pod_spec_fields_are_invalid_values(spec: str, message: str) -> None:
    inv = build_inventory(docs(f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: agent, namespace: ops}}
spec:
  template:
    spec:
      {spec}
"""))
    assert not inv.workloads and invalid_count(inv) == 1
    assert "Deployment ops/agent" in inv.diagnostics[0].message
    assert message in inv.diagnostics[0].message


def test_booleans_and_named_ports_are_read() -> None:
    inv = build_inventory(docs("""
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: ops}
spec:
  template:
    spec:
      hostNetwork: true
      containers: [{name: c, readinessProbe: {tcpSocket: {port: metrics}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: ops}
spec:
  template:
    spec:
      hostNetwork: false
"""))
    assert not inv.diagnostics
    assert {w.name: w.host_network for w in inv.workloads} == {"agent": True, "api": False}
    assert inv.workloads[0].containers[0].probes[0].port == "metrics"


def test_service_target_port_in_quotes_is_invalid() -> None:
    inv = build_inventory(docs("""
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {ports: [{port: 80, targetPort: "8080"}]}
"""))
    assert invalid_count(inv) == 1
    assert ("spec.ports[0].targetPort: invalid value '8080': a port number in quotes"
            in inv.diagnostics[0].message)


def test_service_port_as_string_is_invalid() -> None:
    inv = build_inventory(docs("""
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {ports: [{port: "80"}]}
"""))
    assert invalid_count(inv) == 1
    assert "spec.ports[0].port must be an integer" in inv.diagnostics[0].message


def test_duplicates_last_wins_with_a_warning() -> None:
    first = docs("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n", "a.yaml")
    second = docs("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '2'}\n",
                  "b.yaml")
    inv = build_inventory(first + second)
    assert inv.config_maps[0].data == {"a": "2"}
    (warning,) = inv.diagnostics
    assert warning.severity is Severity.WARNING
    assert "duplicate ConfigMap default/c" in warning.message and "a.yaml" in warning.message


BAD_WORKLOAD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec: {template: {spec: {containers: [{name: c, ports: [{containerPort: "80"}]}]}}}
"""
GOOD_WORKLOAD = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec: {template: {metadata: {labels: {app: w}}, spec: {containers: [{name: c}]}}}
"""
BAD_SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: x}]}\n"
GOOD_SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {app: w}}\n"
BAD_CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: [1]}\n"
GOOD_CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n"


@pytest.mark.parametrize("kind", ["workload", "service", "config map"])
def test_an_invalid_object_replaced_by_its_duplicate_reports_nothing(kind: str) -> None:
    # Workloads, Services and ConfigMaps are built as soon as they are read (while the scan
    # reads the next files): the error of a replaced definition must not survive it, and the
    # error of the one that wins must.
    bad, good = {"workload": (BAD_WORKLOAD, GOOD_WORKLOAD),
                 "service": (BAD_SERVICE, GOOD_SERVICE),
                 "config map": (BAD_CONFIG_MAP, GOOD_CONFIG_MAP)}[kind]
    replaced = build_inventory(docs(bad, "a.yaml") + docs(good, "b.yaml"))
    assert invalid_count(replaced) == 0
    assert [d.severity for d in replaced.diagnostics] == [Severity.WARNING]
    winning = build_inventory(docs(good, "a.yaml") + docs(bad, "b.yaml"))
    assert invalid_count(winning) == 1
    errors = [d for d in winning.diagnostics if d.severity is Severity.ERROR]
    assert errors[0].source.file == "b.yaml"


def test_documents_added_in_batches_build_the_same_inventory() -> None:
    from planner.domain.inventory_builder import InventoryBuilder

    text = "\n---\n".join([DEPLOYMENT, BAD_WORKLOAD, BAD_SERVICE, GOOD_SERVICE, GOOD_CONFIG_MAP,
                            BAD_CONFIG_MAP, GOOD_WORKLOAD])
    everything = docs(text)
    whole = build_inventory(everything, default_namespace="shop")
    for size in (1, 2, 3, len(everything)):
        builder = InventoryBuilder(default_namespace="shop")
        for start in range(0, len(everything), size):
            builder.add(everything[start:start + size])
        assert builder.build() == whole
    assert invalid_count(whole) == 1  # the ConfigMap: its invalid definition comes last
    # The Service selecting the Deployment read after it still selects it.
    assert ObjectRef("Deployment", "shop", "w") in {
        ref for service in whole.services for ref in service.selects}


def test_secret_data_is_never_kept() -> None:
    inv = build_inventory(docs("""
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
data: {password: c2VjcmV0}
stringData: {url: "postgres://u:p@db:5432"}
"""))
    assert inv.secrets == (ObjectRef("Secret", "shop", "db"),)
    assert "c2VjcmV0" not in repr(inv) and "postgres" not in repr(inv)


def test_unknown_kinds_are_counted_not_dropped() -> None:
    inv = build_inventory(docs("""
apiVersion: v1
kind: ServiceAccount
metadata: {name: a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: b}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
"""))
    assert inv.other == {"ServiceAccount": 2, "Widget": 1}


def test_istio_objects_any_version_and_ingress_backends() -> None:
    inv = build_inventory(docs("""
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: r}
spec: {host: r, trafficPolicy: {tls: {mode: DISABLE}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  ingressClassName: nginx
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
      - path: /api
        pathType: Prefix
        backend: {service: {name: api, port: {name: http}}}
"""))
    assert [o.ref.kind for o in inv.istio] == ["DestinationRule", "PeerAuthentication"]
    pa = inv.istio_of_kind("PeerAuthentication")[0]
    assert pa.created == "2024-01-01T00:00:00Z" and pa.spec["mtls"] == {"mode": "PERMISSIVE"}
    route = inv.routes[0]
    assert route.class_name == "nginx"
    assert [(b.service, b.port) for b in route.backends] == [("web", 80), ("api", "http")]


def test_cronjob_and_daemonset_templates() -> None:
    inv = build_inventory(docs("""
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: ops}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        metadata: {annotations: {sidecar.istio.io/inject: "false"}}
        spec: {containers: [{name: r, image: r, args: ["--url=http://orders.orders:8080"]}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: exporter, namespace: ops}
spec:
  template:
    spec: {hostNetwork: true, containers: [{name: e, image: e}]}
"""))
    cron = inv.workload_index[ObjectRef("CronJob", "ops", "report")]
    assert cron.inject_opt == "false" and cron.is_batch
    assert cron.containers[0].args == ("--url=http://orders.orders:8080",)
    assert inv.workload_index[ObjectRef("DaemonSet", "ops", "exporter")].host_network


def test_numeric_label_keys_and_values_become_strings() -> None:
    # YAML reads `8080: x` as an integer key; the API server would refuse it, a hand-written
    # manifest may still have it, and the inventory promises string labels.
    inventory = build_inventory(docs("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: a, labels: {8080: x, a: 1}}
spec: {template: {metadata: {labels: {1: x, a: b}}, spec: {containers: [{name: c}]}}}
"""))
    workload = inventory.workloads[0]
    assert workload.labels == {"8080": "x", "a": "1"}
    assert workload.pod_labels == {"1": "x", "a": "b"}


# Tracing objects back to their file: ObjectRef.from_key and Inventory.source_of, which the
# report uses to give each finding its ``location``.

API_SERVICE = """
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec: {service: {name: cart, namespace: shop, port: 80}}
"""


@pytest.mark.parametrize("ref", [ObjectRef("Deployment", "shop", "cart"),
                                 ObjectRef("APIService", "", "v1beta1.metrics.k8s.io"),
                                 ObjectRef("Namespace", "", "shop")])
def test_from_key_inverts_key(ref: ObjectRef) -> None:
    assert ObjectRef.from_key(ref.key) == ref


@pytest.mark.parametrize("text", ["shop", "", "Deployment//cart", "a/b/c/d", "MP212"])
def test_from_key_refuses_text_that_is_no_key(text: str) -> None:
    assert ObjectRef.from_key(text) is None


CART_CONFIG_MAP = """
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cart, namespace: shop}
data: {MODE: fast}
"""


def test_source_of_finds_each_object_read_and_nothing_else() -> None:
    # The ConfigMap shares its namespace and name with the Service and the Deployment: each
    # key finds its own object.
    inventory = build_inventory(docs(DEPLOYMENT + API_SERVICE + CART_CONFIG_MAP))
    keys = ["Namespace/shop", "Deployment/shop/cart", "Service/shop/cart",
            "APIService/v1beta1.metrics.k8s.io", "ConfigMap/shop/cart", "Service/shop/gone",
            "Deployment/other/cart", "ConfigMap/other/cart", "Namespace/cart", "shop",
            "Deployment//cart"]
    found = {key: source.doc for key in keys if (source := inventory.source_of(key))}
    assert found == {"Namespace/shop": 1, "Deployment/shop/cart": 2, "Service/shop/cart": 3,
                     "APIService/v1beta1.metrics.k8s.io": 5, "ConfigMap/shop/cart": 6}
    assert inventory.source_of("Service/shop/cart") == Source("test.yaml", 3)
