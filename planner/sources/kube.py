"""Read a live cluster through the Kubernetes API: the objects the planner needs, read-only.

Contract of :func:`scan_cluster`:

* Discovery first (``/apis`` plus one ``/apis/<group>/<version>`` per group of interest) to see
  which kinds the cluster serves; a kind that is not served (Istio, Gateway API or Argo CRDs not
  installed) goes to ``kinds_absent`` and is not an error.
* Then exactly one paginated list per kind (``limit``/``continue``) across all namespaces, or in
  the one namespace asked for (its Namespace object is then read with one ``get``). Never one
  call per namespace, never a watch. Up to :data:`LIST_WORKERS` kinds are listed at once (the
  pages of one kind in turn); the result is the same as listing them one after another.
* Secrets are never requested, not even their names (:data:`SCAN_KINDS` has no Secret and
  :func:`_collection_path` refuses it).
* 403 on a kind: the scan goes on without it, with a warning naming the missing permission and
  the kind in ``kinds_forbidden``; a list that times out (no answer in ``timeout_s``, or 504
  until the retries give up) likewise, in ``kinds_timed_out``. 410 on a continue token: the
  list restarts from scratch; if it keeps expiring, one unpaginated list (client-go's pager
  does the same). 429 and 5xx: retried with exponential backoff honouring ``Retry-After``, at
  most ``max_retry_s`` of waiting per scan. Anything else raises
  :class:`~planner.errors.ClusterError` with one line that names the API server URL and never
  a credential.

The connection (kubeconfig loading, retries, error lines) lives in
:mod:`planner.sources.kube_client`, shared with the apply engine. The ``kubernetes`` package is
imported inside functions only, so ``planner --help`` and the offline commands never load it.
Responses are parsed as raw JSON: the client's generated models are slow and reject objects
that lack fields the OpenAPI schema calls required.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any, Final

from planner.domain.diagnostics import Diagnostic, Severity, Source
from planner.domain.value import value_class
from planner.errors import ClusterError, ClusterTimeout
from planner.sources.kube_client import KubeApi, Response, connect
from planner.sources.kube_client import KubeTarget as KubeTarget  # re-exported: scan's API
from planner.sources.manifests import LoadResult, RawDocument

Progress = Callable[[str, int], None]
"""Called after each page with the kind (``plural.group``) and the objects of it read so far."""

#: Lists in flight at once: enough to keep the client parsing while the server answers,
#: few enough to stay a polite client (kubectl's default QPS is 5).
LIST_WORKERS: Final = 4
_PROGRESS_EVERY_S: Final = 0.1  # how often the caller's thread passes on page progress
_MAX_RESTARTS: Final = 2  # paginated restarts after 410 Expired before one unpaginated list
_NEVER_LISTED: Final = frozenset({"secrets"})


@value_class
class KindSpec:
    """One kind the scanner lists, with the versions it understands, best first."""

    group: str  # "" for the core group
    plural: str
    kind: str
    versions: tuple[str, ...]
    namespaced: bool = True

    @property
    def qualified(self) -> str:
        """``plural.group`` (``plural`` for the core group): the name RBAC and kubectl use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_ISTIO_NETWORKING: Final = ("v1", "v1beta1", "v1alpha3")
_ISTIO_SECURITY: Final = ("v1", "v1beta1")

SCAN_KINDS: Final[tuple[KindSpec, ...]] = (
    KindSpec("", "namespaces", "Namespace", ("v1",), namespaced=False),
    KindSpec("", "pods", "Pod", ("v1",)),
    KindSpec("", "services", "Service", ("v1",)),
    # ConfigMap values hold service addresses the call graph needs; Secrets are never read.
    KindSpec("", "configmaps", "ConfigMap", ("v1",)),
    KindSpec("", "serviceaccounts", "ServiceAccount", ("v1",)),
    # The node count sizes the ambient (ztunnel per node) and DaemonSet costs.
    KindSpec("", "nodes", "Node", ("v1",), namespaced=False),
    KindSpec("apps", "deployments", "Deployment", ("v1",)),
    KindSpec("apps", "statefulsets", "StatefulSet", ("v1",)),
    KindSpec("apps", "daemonsets", "DaemonSet", ("v1",)),
    # ReplicaSets link a Pod to its Deployment through ownerReferences.
    KindSpec("apps", "replicasets", "ReplicaSet", ("v1",)),
    KindSpec("batch", "jobs", "Job", ("v1",)),
    KindSpec("batch", "cronjobs", "CronJob", ("v1",)),
    KindSpec("networking.k8s.io", "ingresses", "Ingress", ("v1",)),
    KindSpec("networking.k8s.io", "networkpolicies", "NetworkPolicy", ("v1",)),
    # Webhooks and aggregated APIs are called by kube-apiserver, which has no sidecar: STRICT
    # on the Service behind them breaks the control plane.
    KindSpec("admissionregistration.k8s.io", "validatingwebhookconfigurations",
             "ValidatingWebhookConfiguration", ("v1",), namespaced=False),
    KindSpec("admissionregistration.k8s.io", "mutatingwebhookconfigurations",
             "MutatingWebhookConfiguration", ("v1",), namespaced=False),
    KindSpec("apiregistration.k8s.io", "apiservices", "APIService", ("v1",), namespaced=False),
    KindSpec("gateway.networking.k8s.io", "gateways", "Gateway", ("v1", "v1beta1")),
    KindSpec("gateway.networking.k8s.io", "httproutes", "HTTPRoute", ("v1", "v1beta1")),
    KindSpec("argoproj.io", "rollouts", "Rollout", ("v1alpha1",)),
    KindSpec("security.istio.io", "peerauthentications", "PeerAuthentication", _ISTIO_SECURITY),
    KindSpec("security.istio.io", "authorizationpolicies", "AuthorizationPolicy",
             _ISTIO_SECURITY),
    KindSpec("networking.istio.io", "destinationrules", "DestinationRule", _ISTIO_NETWORKING),
    KindSpec("networking.istio.io", "virtualservices", "VirtualService", _ISTIO_NETWORKING),
    KindSpec("networking.istio.io", "sidecars", "Sidecar", _ISTIO_NETWORKING),
    KindSpec("networking.istio.io", "gateways", "Gateway", _ISTIO_NETWORKING),
    KindSpec("networking.istio.io", "serviceentries", "ServiceEntry", _ISTIO_NETWORKING),
    # What the ambient readiness rules (MP216-MP218) judge: objects ambient ignores or lacks.
    KindSpec("networking.istio.io", "envoyfilters", "EnvoyFilter", ("v1alpha3",)),
    KindSpec("networking.istio.io", "workloadentries", "WorkloadEntry", _ISTIO_NETWORKING),
    KindSpec("networking.istio.io", "workloadgroups", "WorkloadGroup", _ISTIO_NETWORKING),
    KindSpec("security.istio.io", "requestauthentications", "RequestAuthentication",
             _ISTIO_SECURITY),
    KindSpec("telemetry.istio.io", "telemetries", "Telemetry", ("v1", "v1alpha1")),
    KindSpec("extensions.istio.io", "wasmplugins", "WasmPlugin", ("v1alpha1",)),
    # Prometheus Operator monitors say who scrapes which port.
    KindSpec("monitoring.coreos.com", "servicemonitors", "ServiceMonitor", ("v1",)),
    KindSpec("monitoring.coreos.com", "podmonitors", "PodMonitor", ("v1",)),
)
"""Every kind a scan lists, in scan order; ``docs/rbac.yaml`` grants exactly these."""


@dataclass
class ScanStats:
    """What the scan cost and which kinds it could not read. Kinds are ``plural.group``."""

    api_calls: int
    kinds_listed: list[str] = field(default_factory=list)
    kinds_absent: list[str] = field(default_factory=list)
    kinds_forbidden: list[str] = field(default_factory=list)
    kinds_timed_out: list[str] = field(default_factory=list)


def scan_cluster(
    target: KubeTarget,
    *,
    progress: Progress | None = None,
    page_size: int = 500,
    timeout_s: float = 30.0,
    max_retry_s: float = 60.0,
    on_documents: Callable[[list[RawDocument]], None] | None = None,
) -> tuple[LoadResult, ScanStats]:
    """Read every kind of :data:`SCAN_KINDS` the cluster serves (see the module contract).

    Each object becomes a :class:`RawDocument` with ``apiVersion`` and ``kind`` set and
    ``Source("cluster:<context>", doc=n)``, ``n`` counting objects from 1 in scan order. An item
    that is not an object or has no name is skipped with a WARNING diagnostic and counted in
    ``invalid`` (a live scan keeps going where a manifest load would stop in strict mode).
    ``on_documents(documents)`` is called on the caller's thread with each kind's documents,
    in the order of the result, while the next kinds are still being listed.

    Raises :class:`~planner.errors.ClusterError` when the configuration cannot be loaded, the
    API server cannot be reached or rejects the credentials, or keeps failing beyond
    ``max_retry_s``.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    api_client, context = connect(target)
    with api_client:
        api = KubeApi(api_client, timeout_s, max_retry_s)
        scanner = _Scanner(api, context, target.namespace, page_size, progress, on_documents)
        return scanner.run()



# --- the scan -----------------------------------------------------------------------------


class _Forbidden(Exception):
    """403 on a list or get."""


class _Gone(Exception):
    """404 on a list: the kind disappeared after discovery (a CRD was just deleted)."""


def _collection_path(spec: KindSpec, version: str, namespace: str | None) -> str:
    if spec.plural in _NEVER_LISTED and not spec.group:
        raise AssertionError("the planner never lists Secrets")
    prefix = f"/apis/{spec.group}/{version}" if spec.group else f"/api/{version}"
    if namespace is not None and spec.namespaced:
        return f"{prefix}/namespaces/{namespace}/{spec.plural}"
    return f"{prefix}/{spec.plural}"


def _api_version(spec: KindSpec, version: str) -> str:
    return f"{spec.group}/{version}" if spec.group else version


class _Scanner:
    """One scan: discovery, then one list per kind, turning items into RawDocuments."""

    def __init__(self, api: KubeApi, context: str, namespace: str | None, page_size: int,
                 progress: Progress | None,
                 on_documents: Callable[[list[RawDocument]], None] | None = None) -> None:
        self.api = api
        self.namespace = namespace
        self.page_size = page_size
        self.progress = progress
        self.on_documents = on_documents
        self.source_file = f"cluster:{context}"
        self.result = LoadResult()
        self.stats = ScanStats(api_calls=0)
        self.counter = 0
        self._pages: SimpleQueue[tuple[str, int]] = SimpleQueue()

    def run(self) -> tuple[LoadResult, ScanStats]:
        versions = self._discover()
        served = [(spec, versions[spec.qualified]) for spec in SCAN_KINDS
                  if spec.qualified in versions]
        # Kinds are listed in parallel by a few threads (pages of one kind in turn): the
        # client parses one answer while the server prepares the next. Results are taken in
        # SCAN_KINDS order, so documents, diagnostics and the first error are those of a scan
        # one kind after another.
        pool = ThreadPoolExecutor(max_workers=LIST_WORKERS, thread_name_prefix="kube-list")
        try:
            reads = {spec.qualified: pool.submit(self._read, spec, version)
                     for spec, version in served}
            for spec in SCAN_KINDS:
                if spec.qualified not in versions:
                    self.stats.kinds_absent.append(spec.qualified)
                    continue
                self._take(spec, versions[spec.qualified], reads[spec.qualified])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        self.stats.api_calls = self.api.calls
        return self.result, self.stats

    def _read(self, spec: KindSpec, version: str) -> list[Any]:
        """Every object of one kind (in a worker thread)."""
        if spec.plural == "namespaces" and self.namespace is not None:
            items = [self._get_namespace(version)]
            self._progress(spec.qualified, 1)
            return items
        return self._list(spec, version)

    def _progress(self, kind: str, objects: int) -> None:
        # Called in the list threads; the caller's callback runs on the caller's thread (a
        # TUI worker posts from it), see _wait.
        if self.progress is not None:
            self._pages.put((kind, objects))

    def _wait(self, read: Future[list[Any]]) -> None:
        """Wait for one kind's read, passing on the progress of every page read meanwhile."""
        while True:
            done = wait([read], timeout=_PROGRESS_EVERY_S).done
            while self.progress is not None and not self._pages.empty():
                self.progress(*self._pages.get())
            if done:
                return

    def _take(self, spec: KindSpec, version: str, read: Future[list[Any]]) -> None:
        """Add one kind's objects, or record why there are none."""
        self._wait(read)
        try:
            items = read.result()
        except _Forbidden:
            self._forbidden(spec)
            return
        except ClusterTimeout as err:
            self.stats.kinds_timed_out.append(spec.qualified)
            self.result.diagnostics.append(Diagnostic(
                Source(self.source_file, 0), Severity.WARNING,
                f"timed out: list {spec.qualified} ({err}); {spec.kind} objects were not "
                "scanned"))
            return
        except _Gone:
            self.stats.kinds_absent.append(spec.qualified)
            return
        self.stats.kinds_listed.append(spec.qualified)
        self._add(spec, version, items)

    # discovery

    def _discover(self) -> dict[str, str]:
        """Map each served kind of SCAN_KINDS (``plural.group``) to the version to list."""
        chosen = {spec.qualified: spec.versions[0] for spec in SCAN_KINDS if not spec.group}
        groups = {spec.group for spec in SCAN_KINDS if spec.group}
        response = self.api.get("/apis", {}, "discover API groups")
        served = self._served_versions(response)
        for group in sorted(groups):
            wanted = [s for s in SCAN_KINDS if s.group == group]
            for version in self._candidate_versions(group, served.get(group)):
                missing = [s for s in wanted if s.qualified not in chosen
                           and version in s.versions]
                if not missing:
                    continue
                for plural in self._resources(group, version):
                    for spec in missing:
                        if spec.plural == plural:
                            chosen[spec.qualified] = version
        return chosen

    def _served_versions(self, response: Response) -> dict[str, tuple[str, list[str]]]:
        """group -> (preferred version, served versions) from an APIGroupList."""
        if response.status == 403:
            raise ClusterError(f"API server {self.api.url} forbids API discovery (GET /apis); "
                               "the scan needs it")
        if response.status != 200 or not isinstance(response.body, dict):
            raise ClusterError(f"API server {self.api.url} answered {response.status} "
                               f"{response.reason} to API discovery (GET /apis)")
        served: dict[str, tuple[str, list[str]]] = {}
        for group in response.body.get("groups") or []:
            if not isinstance(group, dict) or not isinstance(group.get("name"), str):
                continue
            versions = [str(v.get("version")) for v in group.get("versions") or []
                        if isinstance(v, dict) and v.get("version")]
            preferred = (group.get("preferredVersion") or {}).get("version")
            served[group["name"]] = (str(preferred or (versions or [""])[0]), versions)
        return served

    def _candidate_versions(self, group: str,
                            served: tuple[str, list[str]] | None) -> Iterator[str]:
        """Versions of ``group`` worth asking about: the server's preferred one first (it is
        the storage-friendly one), then ours in order. None if the group is not served."""
        if served is None:
            return
        preferred, versions = served
        known = {v for s in SCAN_KINDS if s.group == group for v in s.versions}
        ordered = [preferred] + [v for s in SCAN_KINDS if s.group == group
                                 for v in s.versions if v != preferred]
        seen: set[str] = set()
        for version in ordered:
            if version in known and version in versions and version not in seen:
                seen.add(version)
                yield version

    def _resources(self, group: str, version: str) -> list[str]:
        response = self.api.get(f"/apis/{group}/{version}", {},
                                f"discover resources of {group}/{version}")
        if response.status in (403, 404) or not isinstance(response.body, dict):
            # A group version that cannot be read is treated as not serving our kinds.
            return []
        if response.status != 200:
            raise ClusterError(f"API server {self.api.url} answered {response.status} "
                               f"{response.reason} to discovery of {group}/{version}")
        return [str(r.get("name")) for r in response.body.get("resources") or []
                if isinstance(r, dict)]

    # reading

    def _get_namespace(self, version: str) -> Any:
        assert self.namespace is not None
        response = self.api.get(f"/api/{version}/namespaces/{self.namespace}", {},
                                f"get namespace {self.namespace}")
        if response.status == 403:
            raise _Forbidden
        if response.status == 404:
            raise ClusterError(f'namespace "{self.namespace}" not found on API server '
                               f"{self.api.url}")
        if response.status != 200:
            raise ClusterError(f"API server {self.api.url} answered {response.status} "
                               f"{response.reason} to get namespace {self.namespace}")
        return response.body

    def _list(self, spec: KindSpec, version: str) -> list[Any]:
        path = _collection_path(spec, version, self.namespace)
        what = f"list {spec.qualified}"
        items: list[Any] = []
        token: str | None = None
        restarts = 0
        paginate = True
        while True:
            query = {"limit": str(self.page_size)} if paginate else {}
            if token:
                query["continue"] = token
            response = self.api.get(path, query, what)
            if response.status == 410 and token:
                # The continue token expired (etcd compaction): start the list again.
                restarts += 1
                paginate = restarts <= _MAX_RESTARTS
                items, token = [], None
                continue
            if response.status == 403:
                raise _Forbidden
            if response.status == 404:
                raise _Gone
            body = response.body
            if response.status != 200 or not isinstance(body, dict) \
                    or not isinstance(body.get("items") or [], list):
                raise ClusterError(f"API server {self.api.url} answered {response.status} "
                                   f"{response.reason} to {what}")
            items.extend(body.get("items") or [])
            self._progress(spec.qualified, len(items))
            metadata = body.get("metadata")
            token = metadata.get("continue") if isinstance(metadata, dict) else None
            if not token or not paginate:
                return items

    def _forbidden(self, spec: KindSpec) -> None:
        self.stats.kinds_forbidden.append(spec.qualified)
        if spec.plural == "namespaces" and self.namespace is not None:
            permission = f"get namespaces ({self.namespace})"
        else:
            scope = f" in namespace {self.namespace}" if self.namespace and spec.namespaced \
                else ""
            permission = f"list {spec.qualified}{scope}"
        self.result.diagnostics.append(Diagnostic(
            Source(self.source_file, 0), Severity.WARNING,
            f"forbidden: missing permission {permission}; {spec.kind} objects were not "
            "scanned (see docs/rbac.yaml)"))

    def _add(self, spec: KindSpec, version: str, items: list[Any]) -> None:
        api_version = _api_version(spec, version)
        documents: list[RawDocument] = []
        for position, item in enumerate(items, start=1):
            self.counter += 1
            source = Source(self.source_file, self.counter)
            meta = item.get("metadata") if isinstance(item, dict) else None
            name = meta.get("name") if isinstance(meta, dict) else None
            if not isinstance(name, str) or not name:
                problem = "is not an object" if not isinstance(item, dict) else \
                    "has no metadata.name"
                # An ERROR like any skipped document, so `invalid` and diagnostics agree.
                self.result.diagnostics.append(Diagnostic(
                    source, Severity.ERROR,
                    f"{spec.kind} item {position} of the {spec.qualified} list {problem}; "
                    "skipped"))
                self.result.invalid += 1
                continue
            # List items carry no apiVersion/kind; the list says what they are.
            body = {"apiVersion": api_version, "kind": spec.kind, **item}
            body["apiVersion"], body["kind"] = api_version, spec.kind
            documents.append(RawDocument(source, body))
        self.result.documents.extend(documents)
        if self.on_documents is not None and documents:
            self.on_documents(documents)
