"""The API surface the test server serves: groups, versions and resource types.

The catalogue mirrors what a real cluster with Istio, Gateway API and Argo Rollouts installed
reports through discovery, so clients (kubectl, the ``kubernetes`` Python client, the planner)
take the same code paths as against a real API server.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Verbs of an ordinary read/write resource, as real discovery lists them.
ALL_VERBS: tuple[str, ...] = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)

#: Groups that belong to Istio; a server can be started without them ("CRDs absent").
ISTIO_GROUPS: frozenset[str] = frozenset({"security.istio.io", "networking.istio.io",
                                          "telemetry.istio.io", "extensions.istio.io"})


@dataclass(frozen=True)
class ResourceType:
    """One resource of one API group, served in one or more versions."""

    group: str  # "" for the core group
    versions: tuple[str, ...]  # served versions; the first one is the preferred version
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        """The lower-case singular name discovery reports."""
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """``plural.group`` (just ``plural`` for the core group), as in RBAC and kubectl."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str) -> str:
        """The ``apiVersion`` string of this resource in ``version``."""
        return f"{self.group}/{version}" if self.group else version


def _rt(
    group: str,
    versions: tuple[str, ...],
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(group, versions, plural, kind, namespaced, short)


_ISTIO_NET = ("v1", "v1beta1", "v1alpha3")
_ISTIO_SEC = ("v1", "v1beta1")

#: Every resource type the server knows, in discovery order.
CATALOGUE: tuple[ResourceType, ...] = (
    _rt("", ("v1",), "namespaces", "Namespace", namespaced=False, short=("ns",)),
    _rt("", ("v1",), "pods", "Pod", short=("po",)),
    _rt("", ("v1",), "services", "Service", short=("svc",)),
    _rt("", ("v1",), "configmaps", "ConfigMap", short=("cm",)),
    _rt("", ("v1",), "secrets", "Secret"),
    _rt("", ("v1",), "nodes", "Node", namespaced=False, short=("no",)),
    _rt("", ("v1",), "endpoints", "Endpoints", short=("ep",)),
    _rt("", ("v1",), "serviceaccounts", "ServiceAccount", short=("sa",)),
    _rt("apps", ("v1",), "deployments", "Deployment", short=("deploy",)),
    _rt("apps", ("v1",), "statefulsets", "StatefulSet", short=("sts",)),
    _rt("apps", ("v1",), "daemonsets", "DaemonSet", short=("ds",)),
    _rt("apps", ("v1",), "replicasets", "ReplicaSet", short=("rs",)),
    _rt("batch", ("v1",), "jobs", "Job"),
    _rt("batch", ("v1",), "cronjobs", "CronJob", short=("cj",)),
    _rt("networking.k8s.io", ("v1",), "ingresses", "Ingress", short=("ing",)),
    _rt("networking.k8s.io", ("v1",), "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _rt(
        "admissionregistration.k8s.io",
        ("v1",),
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        namespaced=False,
    ),
    _rt(
        "admissionregistration.k8s.io",
        ("v1",),
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        namespaced=False,
    ),
    _rt("apiregistration.k8s.io", ("v1",), "apiservices", "APIService", namespaced=False),
    _rt("gateway.networking.k8s.io", ("v1",), "gateways", "Gateway", short=("gtw",)),
    _rt("gateway.networking.k8s.io", ("v1",), "httproutes", "HTTPRoute"),
    _rt("argoproj.io", ("v1alpha1",), "rollouts", "Rollout", short=("ro",)),
    _rt("monitoring.coreos.com", ("v1",), "servicemonitors", "ServiceMonitor"),
    _rt("monitoring.coreos.com", ("v1",), "podmonitors", "PodMonitor"),
    _rt("security.istio.io", _ISTIO_SEC, "peerauthentications", "PeerAuthentication",
        short=("pa",)),
    _rt("security.istio.io", _ISTIO_SEC, "authorizationpolicies", "AuthorizationPolicy",
        short=("ap",)),
    _rt("networking.istio.io", _ISTIO_NET, "destinationrules", "DestinationRule", short=("dr",)),
    _rt("networking.istio.io", _ISTIO_NET, "virtualservices", "VirtualService", short=("vs",)),
    _rt("networking.istio.io", _ISTIO_NET, "sidecars", "Sidecar"),
    _rt("networking.istio.io", _ISTIO_NET, "gateways", "Gateway", short=("gw",)),
    _rt("networking.istio.io", _ISTIO_NET, "serviceentries", "ServiceEntry", short=("se",)),
    _rt("networking.istio.io", ("v1alpha3",), "envoyfilters", "EnvoyFilter"),
    _rt("networking.istio.io", _ISTIO_NET, "workloadentries", "WorkloadEntry", short=("we",)),
    _rt("networking.istio.io", _ISTIO_NET, "workloadgroups", "WorkloadGroup", short=("wg",)),
    _rt("security.istio.io", _ISTIO_SEC, "requestauthentications", "RequestAuthentication",
        short=("ra",)),
    _rt("telemetry.istio.io", ("v1", "v1alpha1"), "telemetries", "Telemetry", short=("telemetry",)),
    _rt("extensions.istio.io", ("v1alpha1",), "wasmplugins", "WasmPlugin"),
)


def catalogue(*, istio: bool = True) -> tuple[ResourceType, ...]:
    """The resource types of a server, with or without the Istio CRDs installed."""
    return tuple(rt for rt in CATALOGUE if istio or rt.group not in ISTIO_GROUPS)
