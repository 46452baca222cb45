"""What part a workload plays beside the application: Istio's gateways, ingress controllers,
Prometheus, and servers that call nothing (datastores, brokers, exporters).

Istio's own gateways (ingress, egress and east-west gateways and ambient waypoints)

are Envoys of the mesh (Istio's ``proxyv2`` image, certificates from istiod): they call
meshed backends over mutual TLS whether or not their namespace is labelled for injection, so a
call from one needs no PERMISSIVE exception. Their listeners are configured by ``Gateway``
objects, not by PeerAuthentication, so STRICT never refuses what reaches them either
(MESH-NOTES §7.2).

A gateway is recognised by its workload (labels, injection template, image and ``router``
argument) or, when its workload is not in the input, by what routes to it: an Istio
``VirtualService`` bound to a gateway, an ``Ingress`` of class ``istio``, or a Gateway API
route whose ``Gateway`` has an Istio class.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from planner.domain.graph import INGRESS_PREFIX

if TYPE_CHECKING:  # the inventory keeps a WorkloadRoles (Inventory.roles): no import cycle
    from planner.domain.inventory import ObjectRef, Workload

#: Gateway API classes (and the Ingress class) served by Istio's own gateways.
ISTIO_GATEWAY_CLASSES: Final = frozenset({"istio", "istio-waypoint", "istio-east-west",
                                          "istio-remote"})
#: Why an Istio gateway counts as a mesh client (docs/plan.md).
GATEWAY_MESHED: Final = "Istio gateway: an Envoy of the mesh, mTLS to meshed backends"
#: Values of Istio's ``app``/``istio`` labels on the gateways its charts and istioctl install.
_GATEWAY_APPS: Final = frozenset({"istio-ingressgateway", "istio-egressgateway",
                                  "istio-eastwestgateway", "ingressgateway", "egressgateway",
                                  "eastwestgateway"})
#: Labels Istio's gateway controller puts on the Deployments it manages (Gateway API
#: gateways and waypoints).
_MANAGED_LABELS: Final = ("istio.io/gateway-name", "gateway.istio.io/managed",
                          "istio.io/waypoint-for")


def is_istio_gateway(workload: Workload) -> bool:
    """True when ``workload`` is an Istio ingress, egress or east-west gateway or a waypoint:
    by its labels, its gateway injection template, or a ``proxyv2`` container run as a router
    (an injected sidecar runs the same image with ``proxy sidecar``)."""
    labels = workload.pod_labels
    if any(map(labels.get, _MANAGED_LABELS)):
        return True
    if labels.get("istio") in _GATEWAY_APPS or labels.get("app") in _GATEWAY_APPS:
        return True
    if "gateway" in workload.pod_annotations.get("inject.istio.io/templates", ""):
        return True
    # The argument first: every stage asks this of every workload, and few run a router.
    return any("router" in c.args and _image_name(c.image) == "proxyv2"
               for c in workload.containers)


def is_istio_gateway_caller(node_id: str) -> bool:
    """True for the graph's ``ingress:<class>`` callers that are Istio gateways."""
    return (node_id.startswith(INGRESS_PREFIX)
            and node_id.removeprefix(INGRESS_PREFIX) in ISTIO_GATEWAY_CLASSES)


#: :func:`infrastructure_role` of an ingress controller.
_INGRESS_CONTROLLER: Final = "ingress controller"
#: Image name parts of ingress controllers, found anywhere in a workload's images.
_INGRESS_IMAGE = re.compile("ingress-nginx|nginx-ingress|traefik|haproxy-ingress|contour|kong|"
                            "ingress-controller")
#: Image and workload names of servers that call nothing by design: datastores, brokers,
#: exporters and trace stores.
_SERVER_NAMES = re.compile(
    r"postgres|mysql|mariadb|mongo|redis|valkey|keydb|rabbitmq|kafka|zookeeper|elasticsearch|"
    r"opensearch|cassandra|scylla|memcached|etcd|nats|minio|clickhouse|couchdb|influxdb|"
    r"cockroach|neo4j|exporter|kube-state-metrics|jaeger|zipkin|(?:^|[-_])db(?:$|[-_:])")


def infrastructure_role(workload: Workload) -> str | None:
    """``ingress controller`` or ``Prometheus`` for workloads that stay outside the mesh by
    design (MESH-NOTES §7.2, §7.5), else None. Istio's own gateways are neither: they are
    proxies of the mesh."""
    by_images = _role_of_images(tuple(c.image for c in workload.containers))
    if by_images == _INGRESS_CONTROLLER or _named_ingress_controller(workload):
        role = _INGRESS_CONTROLLER
    elif by_images is not None:
        role = by_images
    else:
        return None
    # Asked last: most workloads have no role, and the gateway test is the dearer one.
    return None if is_istio_gateway(workload) else role


@lru_cache(maxsize=1024)
def _role_of_images(images: tuple[str, ...]) -> str | None:
    """``ingress controller`` or ``Prometheus`` as a workload's container images say, else
    None: asked once per distinct set of images, as a cluster runs a few in many workloads."""
    joined = " ".join(images).lower()
    if _INGRESS_IMAGE.search(joined):
        return _INGRESS_CONTROLLER
    if "prometheus" in joined and any(_image_name(image) == "prometheus" for image in images):
        return "Prometheus"
    return None


class WorkloadRoles:
    """:func:`is_istio_gateway` and :func:`infrastructure_role` of one inventory's workloads,
    each worked out once per workload (:attr:`planner.domain.inventory.Inventory.roles`): the
    graph, the fit verdict, the plan's membership and its callers' fates all ask them of every
    workload. Ask only about workloads of that inventory: answers are kept by reference."""

    __slots__ = ("_gateway", "_infrastructure")

    def __init__(self) -> None:
        self._gateway: dict[ObjectRef, bool] = {}
        self._infrastructure: dict[ObjectRef, str | None] = {}

    def is_gateway(self, workload: Workload) -> bool:
        """:func:`is_istio_gateway` of ``workload``."""
        found = self._gateway.get(workload.ref)
        if found is None:
            found = self._gateway[workload.ref] = is_istio_gateway(workload)
        return found

    def infrastructure(self, workload: Workload) -> str | None:
        """:func:`infrastructure_role` of ``workload``."""
        ref = workload.ref
        if ref in self._infrastructure:
            return self._infrastructure[ref]
        role = self._infrastructure[ref] = infrastructure_role(workload)
        return role


def _named_ingress_controller(workload: Workload) -> bool:
    """Whether the workload's name or ``app`` label says ingress controller."""
    labels = workload.pod_labels
    for name in (workload.name, labels.get("app", ""), labels.get("app.kubernetes.io/name", "")):
        if "ingress" in name and "controller" in name:
            return True
    return False


def is_server_only(workload: Workload) -> bool:
    """True for a datastore, broker, exporter or trace store (by image or workload name): it
    serves and calls nothing, so the graph showing no outbound call from it is no blind
    spot."""
    return bool(_SERVER_NAMES.search(workload.name)) or any(
        _server_image(c.image) for c in workload.containers)


@lru_cache(maxsize=1024)
def _server_image(image: str) -> bool:
    """Whether the image's name (after its last ``/``) is a datastore's, broker's, exporter's
    or trace store's: asked once per distinct image, as a cluster runs a few images in many
    workloads (105 in the 10,000 of the bench cluster)."""
    return bool(_SERVER_NAMES.search(image.lower().rsplit("/", 1)[-1]))


def _image_name(image: str) -> str:
    """``docker.io/istio/proxyv2:1.24.0`` -> ``proxyv2``."""
    return image.lower().split("@")[0].rsplit("/", 1)[-1].split(":")[0]
