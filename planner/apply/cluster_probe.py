"""Reads what an operator would look at to tell whether a step reached its outcome: API
discovery, the istiod Deployments, the sidecar injector webhooks, the ztunnel and istio-cni
DaemonSets, a namespace's workloads and pods. Judging what was read is
:mod:`planner.domain.outcomes`; this module only reads, through the same ``kubernetes``
client connection as the writer (:class:`~planner.sources.kube_client.KubeApi`).

Every read is a GET the ``meshplan-scan`` role of docs/rbac.yaml already grants. A read the
server refuses raises :class:`~planner.errors.ApplyError` naming it: an outcome that cannot be
read is not reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from planner.domain import outcomes as oc
from planner.errors import ApplyError
from planner.sources.kube_client import KubeApi

#: The workload kinds an enrollment restarts and checks, with their collection paths.
_WORKLOADS: Final = (("Deployment", "/apis/apps/v1", "deployments"),
                     ("StatefulSet", "/apis/apps/v1", "statefulsets"),
                     ("DaemonSet", "/apis/apps/v1", "daemonsets"))


class ClusterProbe:
    """Live reads for outcome checks over ``api``."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    # --- plumbing ----------------------------------------------------------------------------

    def _get(self, path: str, what: str, query: dict[str, str] | None = None,
             missing_ok: bool = False) -> Any:
        response = self.api.get(path, query or {}, what)
        if response.status == 404 and missing_ok:
            return None
        if response.status != 200 or not isinstance(response.body, dict):
            reason = (response.body or {}).get("message") if isinstance(
                response.body, dict) else None
            raise ApplyError(f"cannot {what} on {self.api.url}: {response.status} "
                             f"{response.reason}" + (f": {reason}" if reason else "")
                             + (" (bind the meshplan-scan role of docs/rbac.yaml)"
                                if response.status == 403 else ""))
        return response.body

    def _list(self, path: str, what: str, selector: str = "") -> list[dict[str, Any]]:
        body = self._get(path, what, {"labelSelector": selector} if selector else None,
                         missing_ok=True)
        kind = path.rsplit("/", 1)[-1]
        items = [] if body is None else [i for i in body.get("items") or []
                                         if isinstance(i, dict)]
        # List items carry no kind; messages and rollout checks need it.
        singular = {"deployments": "Deployment", "statefulsets": "StatefulSet",
                    "daemonsets": "DaemonSet", "pods": "Pod",
                    "mutatingwebhookconfigurations": "MutatingWebhookConfiguration"}
        return [{**i, "kind": i.get("kind") or singular.get(kind, kind)} for i in items]

    # --- the control plane -------------------------------------------------------------------

    def served(self) -> tuple[frozenset[str], frozenset[str]]:
        """The API groups the server serves, and the Istio kinds (``plural.group``) of them."""
        body = self._get("/apis", "discover API groups (GET /apis)")
        groups: set[str] = set()
        kinds: set[str] = set()
        for group in body.get("groups") or []:
            if not isinstance(group, Mapping) or not isinstance(group.get("name"), str):
                continue
            name = group["name"]
            groups.add(name)
            if name not in oc.ISTIO_API_GROUPS:
                continue
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if not isinstance(preferred, str):
                continue
            listing = self._get(f"/apis/{preferred}", f"discover {preferred}", missing_ok=True)
            for resource in (listing or {}).get("resources") or []:
                if isinstance(resource, Mapping) and "/" not in str(resource.get("name")):
                    kinds.add(f"{resource.get('name')}.{name}")
        return frozenset(groups), frozenset(kinds)

    def control_plane_facts(self, root_namespace: str, *, ambient: bool) -> oc.ControlPlaneFacts:
        """Everything :func:`planner.domain.outcomes.control_plane` judges, read live."""
        groups, kinds = self.served()
        root = self._get(f"/api/v1/namespaces/{root_namespace}",
                         f"get namespace {root_namespace}", missing_ok=True)
        istiods = self._list("/apis/apps/v1/deployments", "list istiod Deployments",
                             "app=istiod")
        webhooks = self._list("/apis/admissionregistration.k8s.io/v1/"
                              "mutatingwebhookconfigurations",
                              "list MutatingWebhookConfigurations")
        ztunnels: list[dict[str, Any]] = []
        cnis: list[dict[str, Any]] = []
        if ambient:
            ztunnels = self._list("/apis/apps/v1/daemonsets", "list ztunnel DaemonSets",
                                  "app=ztunnel")
            cnis = self._list("/apis/apps/v1/daemonsets", "list istio-cni DaemonSets",
                              "k8s-app=istio-cni-node")
        return oc.ControlPlaneFacts(root_namespace, root is not None, groups, kinds,
                                    tuple(istiods), tuple(webhooks), tuple(ztunnels),
                                    tuple(cnis))

    def control_plane(self, root_namespace: str, needs: oc.DataplaneNeeds) -> oc.Outcome:
        """The prerequisites outcome (istiod, APIs, injector or ztunnel/CNI, root namespace)."""
        facts = self.control_plane_facts(root_namespace, ambient=needs.ambient)
        return oc.control_plane(facts, needs)

    # --- workloads ---------------------------------------------------------------------------

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        """The namespace's labels; None when it does not exist."""
        body = self._get(f"/api/v1/namespaces/{namespace}", f"get namespace {namespace}",
                         missing_ok=True)
        if body is None:
            return None
        labels = (body.get("metadata") or {}).get("labels") or {}
        return {str(k): str(v) for k, v in labels.items()}

    def workloads(self, namespace: str,
                  pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The namespace's Deployments, StatefulSets, DaemonSets and the bare ones of its
        ``pods`` (Pods no controller owns: only recreating them gives them a data plane)."""
        found: list[dict[str, Any]] = []
        for _, prefix, plural in _WORKLOADS:
            found.extend(self._list(f"{prefix}/namespaces/{namespace}/{plural}",
                                    f"list {plural} in {namespace}"))
        found.extend(p for p in pods if not (p.get("metadata") or {}).get("ownerReferences"))
        return found

    def pods(self, namespace: str) -> list[dict[str, Any]]:
        """Every pod of the namespace."""
        return self._list(f"/api/v1/namespaces/{namespace}/pods", f"list pods in {namespace}")

    def workload(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One Deployment, StatefulSet or DaemonSet (None when it is gone)."""
        for known, prefix, plural in _WORKLOADS:
            if known == kind:
                body = self._get(f"{prefix}/namespaces/{namespace}/{plural}/{name}",
                                 f"get {kind} {namespace}/{name}", missing_ok=True)
                return None if body is None else {**body, "kind": kind}
        raise ApplyError(f"cannot wait for a rollout of a {kind}")

    def injector_check(self, namespace: str, labels: dict[str, str] | None = None) -> oc.Check:
        """Whether a sidecar injector webhook selects the namespace as it is labelled now
        (``labels``: already read)."""
        if labels is None:
            labels = self.namespace_labels(namespace) or {}
        webhooks = self._list("/apis/admissionregistration.k8s.io/v1/"
                              "mutatingwebhookconfigurations",
                              "list MutatingWebhookConfigurations")
        injector = oc.injector_for(webhooks, labels)
        return oc.Check("sidecar injector", injector is not None,
                        f"{injector} selects {namespace}" if injector else
                        f"no sidecar injector webhook selects namespace {namespace} (its "
                        "labels or the MutatingWebhookConfiguration)")

    def enrollment(self, namespace: str, mode: str, workload: str = "") -> oc.Outcome:
        """An enrollment's outcome: the namespace labelled for ``mode``, and every workload in
        it (only the one named ``workload`` when given) rolled out with that data plane
        (ambient: with ztunnel ready)."""
        labels = self.namespace_labels(namespace)
        if labels is None:
            return oc.Outcome((oc.Check("namespace", False, f"{namespace} not found"),))
        extra: list[oc.Check] = []
        if mode == "ambient":
            labelled = labels.get(oc.DATAPLANE_MODE_LABEL) == "ambient"
            extra.append(oc.Check("namespace label", labelled,
                                  f"{namespace} {'has' if labelled else 'lacks'} "
                                  f"{oc.DATAPLANE_MODE_LABEL}=ambient"))
            extra.append(oc.daemonsets_check("ztunnel", self._list(
                "/apis/apps/v1/daemonsets", "list ztunnel DaemonSets", "app=ztunnel")))
        else:
            extra.append(self.injector_check(namespace, labels))
        pods = self.pods(namespace)
        outcomes = [oc.workload_outcome(w, pods, mode) for w in self.workloads(namespace, pods)
                    if not workload or (w.get("metadata") or {}).get("name") == workload]
        return oc.enrollment(namespace, mode, outcomes, extra)
