"""What a cluster does after a write, for the test API server: controllers and Istio.

A real cluster reacts to writes. The Deployment controller rolls a changed pod template out one
replica at a time (new ReplicaSet, new pods, old ones removed) and reports it in ``status``
(``observedGeneration``, ``updatedReplicas``, ``availableReplicas``); the StatefulSet and
DaemonSet controllers do the same with their own fields. Istio's sidecar injector webhook adds
an ``istio-proxy`` container to each pod created in a namespace one of its webhooks selects,
when the istiod of its revision is up (with ``failurePolicy: Fail``, Istio's default, pod
creation fails otherwise); istio-cni redirects the pods of ambient namespaces to ztunnel.

:class:`ClusterSim` does all this lazily: :class:`~tests.kubeapi.server.KubeAPIServer` calls
:meth:`ClusterSim.tick` before it serves each request and :meth:`ClusterSim.committed` after
each stored write, both under the server's lock, so nothing runs in the background and a client
sees the state a real cluster would show at that moment. Objects put in with ``load`` are taken
as they are: only writes through the API start rollouts (a pod template changed by an update,
``kubectl rollout restart``'s patch for one) or make istio-cni look at a namespace again.

    api.load(istio_control_plane())          # root namespace, available istiod, injector
    api.cluster.deploy()                     # every loaded workload's pods, as admitted now
    api.cluster.replica_delay = 0.05         # seconds per replica rolled out
    api.cluster.break_rollout("shop", "web") # its new pods never become ready
    api.cluster.serve_istio(False)           # discovery stops serving the Istio groups
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.kubeapi.resources import catalogue
from tests.kubeapi.selectors import label_selector_matches

if TYPE_CHECKING:
    from tests.kubeapi.resources import ResourceType
    from tests.kubeapi.server import KubeAPIServer

Obj = dict[str, Any]
Key = tuple[str, str, str, str]

PROXY_IMAGE = "docker.io/istio/proxyv2:1.24.2"
PILOT_IMAGE = "docker.io/istio/pilot:1.24.2"
_WORKLOAD_KINDS = {"Deployment": "deployments", "StatefulSet": "statefulsets",
                   "DaemonSet": "daemonsets"}
_INJECTOR_SUFFIX = "sidecar-injector.istio.io"
_REDIRECTION = "ambient.istio.io/redirection"


@dataclass
class _Rollout:
    """One rollout in progress: the workload, when it started and the new revision."""

    key: Key
    kind: str
    started: float
    revision: str
    desired: int
    generation: int
    created: int = 0
    stuck: str = ""  # why its new pods never become ready ("" while healthy)


def _template_hash(template: Any) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def _labels(obj: Obj | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


class ClusterSim:
    """The controllers of :class:`KubeAPIServer` (see the module docstring).

    ``replica_delay``: seconds each replica of a rollout takes (0: done at the next request);
    ``nodes``: how many nodes a
    DaemonSet runs on when the store holds no Node objects."""

    def __init__(self, server: KubeAPIServer, *, replica_delay: float = 0.0) -> None:
        self.server = server
        self.replica_delay = replica_delay
        self.nodes = 1
        self._rollouts: dict[Key, _Rollout] = {}
        self._broken: set[tuple[str, str]] = set()
        self._watched: set[str] = set()  # namespaces written through the API (istio-cni)
        #: ``(event, "namespace/name", monotonic time)``: ``started`` and ``finished`` of
        #: every rollout, in order, for tests about what waited for what.
        self.history: list[tuple[str, str, float]] = []

    # --- test controls -----------------------------------------------------------------------

    def break_rollout(self, namespace: str, name: str) -> None:
        """The next rollouts of workload ``namespace/name`` never get a ready new pod (as a
        crash-looping image would): the first new pod stays unready, the old ones stay."""
        self._broken.add((namespace, name))

    def repair(self, namespace: str, name: str) -> None:
        """Undo :meth:`break_rollout`: a stuck rollout of it goes on from now."""
        with self.server._lock:
            self._broken.discard((namespace, name))
            for rollout in self._rollouts.values():
                if rollout.key[2:] == (namespace, name) and rollout.stuck:
                    rollout.stuck = ""
                    rollout.started = time.monotonic()
                    for key, pod in self._pods(namespace):
                        if _labels(pod).get(self._revision_label(rollout.kind)) == \
                                rollout.revision:
                            self._delete(key)  # the crash-looping pod is replaced

    def deploy(self) -> None:
        """Bring up every workload the store holds without pods, as its controller had before
        the test began: its pods are created now, through admission as it stands (istio-proxy
        where an injector webhook selects the namespace and its istiod is up; redirected to
        ztunnel in an ambient namespace), and its status says rolled out. ``load`` takes
        objects as they are, and a real cluster has no running Deployment without pods: seeds
        call this once loaded. A workload whose pods admission refuses (the injector's istiod
        down, ``failurePolicy: Fail``) gets none, and its status says so."""
        with self.server._lock:
            for key, obj in sorted(self.server._store.items()):
                kind = next((k for k, plural in _WORKLOAD_KINDS.items()
                             if key[:2] == ("apps", plural)), None)
                if kind is None or key in self._rollouts or self._selected(obj):
                    continue
                meta = obj["metadata"]
                template = (obj.get("spec") or {}).get("template")
                rollout = _Rollout(key, kind, time.monotonic(), _template_hash(template),
                                   self._desired(kind, obj), int(meta.get("generation") or 1))
                meta.setdefault("generation", rollout.generation)
                if self._injection_failure(obj):
                    rollout.stuck = self._injection_failure(obj)
                else:
                    while rollout.created < rollout.desired:
                        self._create_pod(rollout, obj, ready=True)
                        rollout.created += 1
                self._status(rollout, obj)
                self._watched.add(key[2])

    def _selected(self, obj: Obj) -> bool:
        """Whether some pod of the workload's namespace matches its selector."""
        selector = (obj.get("spec") or {}).get("selector") or {}
        return bool(selector) and any(label_selector_matches(selector, _labels(pod))
                                      for _, pod in self._pods(obj["metadata"]["namespace"]))

    def serve_istio(self, served: bool) -> None:
        """Serve the Istio API groups in discovery, or stop serving them (CRDs deleted)."""
        with self.server._lock:
            self.server.types = catalogue(istio=served)

    def rolling(self) -> list[str]:
        """``namespace/name`` of the workloads whose rollout is still in progress."""
        with self.server._lock:
            self.tick()
            return sorted(f"{k[2]}/{k[3]}" for k in self._rollouts)

    # --- hooks the server calls under its lock -----------------------------------------------

    def committed(self, rt: ResourceType, old: Obj | None, new: Obj) -> None:
        """React to a stored write: a changed pod template starts a rollout; a namespace
        written through the API is one istio-cni looks at again."""
        if rt.kind == "Namespace":
            self._watched.add(new["metadata"]["name"])
            return
        if rt.kind not in _WORKLOAD_KINDS or rt.group != "apps" or old is None:
            return
        template = (new.get("spec") or {}).get("template")
        if template == (old.get("spec") or {}).get("template"):
            return
        meta = new["metadata"]
        key = self.server._key(rt, meta.get("namespace"), meta["name"])
        desired = self._desired(rt.kind, new)
        rollout = _Rollout(key, rt.kind, time.monotonic(), _template_hash(template), desired,
                           int(meta.get("generation") or 1))
        self._rollouts[key] = rollout
        self.history.append(("started", f"{key[2]}/{key[3]}", rollout.started))
        self._status(rollout, new)

    def tick(self) -> None:
        """Advance every rollout to where it would be now, and istio-cni's redirection."""
        now = time.monotonic()
        for key, rollout in list(self._rollouts.items()):
            obj = self.server._store.get(key)
            if obj is None:
                del self._rollouts[key]
                continue
            due = min(rollout.desired, int((now - rollout.started) / self.replica_delay)
                      if self.replica_delay > 0 else rollout.desired)
            if rollout.stuck:
                due = 0
            while rollout.created < due and not rollout.stuck:
                self._replace_one(rollout, obj)
            if rollout.created >= rollout.desired and not rollout.stuck:
                for pod_key in self._old_pods(rollout, obj):
                    self._delete(pod_key)
                del self._rollouts[key]
                self.history.append(("finished", f"{key[2]}/{key[3]}", now))
            self._status(rollout, obj)
        for namespace in sorted(self._watched):
            self._redirect(namespace)

    # --- rollouts ----------------------------------------------------------------------------

    def _desired(self, kind: str, obj: Obj) -> int:
        if kind == "DaemonSet":
            nodes = sum(1 for k in self.server._store if k[:2] == ("", "nodes"))
            return nodes or self.nodes
        replicas = (obj.get("spec") or {}).get("replicas")
        return replicas if isinstance(replicas, int) else 1

    def _pods(self, namespace: str) -> list[tuple[Key, Obj]]:
        return [(k, o) for k, o in self.server._store.items()
                if k[:3] == ("", "pods", namespace)]

    def _revision_label(self, kind: str) -> str:
        return "pod-template-hash" if kind == "Deployment" else "controller-revision-hash"

    def _old_pods(self, rollout: _Rollout, obj: Obj) -> list[Key]:
        selector = (obj.get("spec") or {}).get("selector") or {}
        label = self._revision_label(rollout.kind)
        return [k for k, pod in self._pods(rollout.key[2])
                if label_selector_matches(selector, _labels(pod))
                and _labels(pod).get(label) != rollout.revision]

    def _replace_one(self, rollout: _Rollout, obj: Obj) -> None:
        """Create the next new pod; once it is ready, one old pod goes (maxSurge 1)."""
        failure = self._injection_failure(obj)
        if (rollout.key[2], rollout.key[3]) in self._broken or failure:
            rollout.stuck = failure or "new pods never become ready"
            self._create_pod(rollout, obj, ready=False)
            return
        self._create_pod(rollout, obj, ready=True)
        rollout.created += 1
        old = self._old_pods(rollout, obj)
        if old:
            self._delete(old[0])

    def _create_pod(self, rollout: _Rollout, obj: Obj, *, ready: bool) -> None:
        meta = obj["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        template = copy.deepcopy((obj.get("spec") or {}).get("template") or {})
        pod_meta = template.get("metadata") or {}
        labels = {**(pod_meta.get("labels") or {}),
                  self._revision_label(rollout.kind): rollout.revision}
        annotations = dict(pod_meta.get("annotations") or {})
        owner = {"apiVersion": "apps/v1", "kind": rollout.kind, "name": name,
                 "uid": meta.get("uid", ""), "controller": True}
        if rollout.kind == "Deployment":
            owner = self._replica_set(obj, rollout, labels)
        index = rollout.created
        pod_name = (f"{name}-{index}" if rollout.kind == "StatefulSet"
                    else f"{name}-{rollout.revision[:5]}-{rollout.generation}x{index}")
        spec = template.get("spec") or {}
        if self._injects(namespace, labels, annotations):
            spec["containers"] = [*(spec.get("containers") or []),
                                  {"name": "istio-proxy", "image": PROXY_IMAGE,
                                   "args": ["proxy", "sidecar"]}]
            annotations["sidecar.istio.io/status"] = json.dumps(
                {"containers": ["istio-proxy"], "revision": "default"})
        if self._ambient(namespace, labels):
            annotations[_REDIRECTION] = "enabled"
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pod_name, "namespace": namespace, "labels": labels,
                            "annotations": annotations, "ownerReferences": [owner]},
               "spec": spec,
               "status": {"phase": "Running" if ready else "Pending",
                          "conditions": [{"type": "Ready",
                                          "status": "True" if ready else "False"}]}}
        self.server.load([pod])

    def _replica_set(self, obj: Obj, rollout: _Rollout, labels: dict[str, str]) -> Obj:
        """The Deployment's ReplicaSet of this revision (created on first use), as owner."""
        meta = obj["metadata"]
        name = f"{meta['name']}-{rollout.revision}"
        key = ("apps", "replicasets", meta["namespace"], name)
        if key not in self.server._store:
            selector = copy.deepcopy((obj.get("spec") or {}).get("selector") or {})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = rollout.revision
            template = copy.deepcopy((obj.get("spec") or {}).get("template") or {})
            template.setdefault("metadata", {})["labels"] = labels
            self.server.load([{
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": name, "namespace": meta["namespace"], "labels": labels,
                             "ownerReferences": [{"apiVersion": "apps/v1",
                                                  "kind": "Deployment", "name": meta["name"],
                                                  "uid": meta.get("uid", ""),
                                                  "controller": True}]},
                "spec": {"replicas": rollout.desired, "selector": selector,
                         "template": template}}])
        uid = self.server._store[key]["metadata"]["uid"]
        return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": uid,
                "controller": True}

    def _delete(self, key: Key) -> None:
        if self.server._store.pop(key, None) is not None:
            self.server._next_rv()

    def _status(self, rollout: _Rollout, obj: Obj) -> None:
        """Write the workload's status as its controller would report it now."""
        desired = rollout.desired
        new = rollout.created
        old = len(self._old_pods(rollout, obj))
        unready = 1 if rollout.stuck else 0
        done = new >= desired and not rollout.stuck
        if rollout.kind == "DaemonSet":
            status: Obj = {"desiredNumberScheduled": desired, "currentNumberScheduled": desired,
                           "updatedNumberScheduled": new, "numberReady": desired - unready,
                           "numberAvailable": desired - unready}
        elif rollout.kind == "StatefulSet":
            current = rollout.revision if done else f"previous-{rollout.revision}"
            status = {"replicas": desired, "readyReplicas": desired - unready,
                      "availableReplicas": desired - unready, "updatedReplicas": new,
                      "currentRevision": current, "updateRevision": rollout.revision}
        else:
            available = old + new
            status = {"replicas": old + new + unready, "updatedReplicas": new + unready,
                      "readyReplicas": available, "availableReplicas": available,
                      "conditions": [self._progressing(rollout, obj, done)]}
        status["observedGeneration"] = rollout.generation
        obj["status"] = status
        obj["metadata"]["resourceVersion"] = self.server._next_rv()

    def _progressing(self, rollout: _Rollout, obj: Obj, done: bool) -> Obj:
        deadline = (obj.get("spec") or {}).get("progressDeadlineSeconds", 600)
        if rollout.stuck and time.monotonic() - rollout.started > float(deadline):
            return {"type": "Progressing", "status": "False",
                    "reason": "ProgressDeadlineExceeded",
                    "message": f'ReplicaSet has timed out progressing: {rollout.stuck}'}
        return {"type": "Progressing", "status": "True",
                "reason": "NewReplicaSetAvailable" if done else "ReplicaSetUpdated"}

    # --- Istio ---------------------------------------------------------------------------------

    def _objects(self, plural: str, group: str = "") -> list[Obj]:
        return [o for k, o in self.server._store.items() if k[:2] == (group, plural)]

    def _injector(self, namespace: str, labels: dict[str, str],
                  annotations: dict[str, str]) -> Obj | None:
        """The MutatingWebhookConfiguration whose injector webhook the API server would call
        for a pod with these labels in ``namespace``."""
        if annotations.get("sidecar.istio.io/inject") == "false":
            return None
        ns_labels = _labels(self.server._store.get(("", "namespaces", "", namespace)))
        for config in self._objects("mutatingwebhookconfigurations",
                                    "admissionregistration.k8s.io"):
            for webhook in config.get("webhooks") or []:
                if str(webhook.get("name", "")).endswith(_INJECTOR_SUFFIX) \
                        and label_selector_matches(webhook.get("namespaceSelector"), ns_labels) \
                        and label_selector_matches(webhook.get("objectSelector"), labels):
                    return config
        return None

    def _istiod_up(self, revision: str) -> bool:
        for deployment in self._objects("deployments", "apps"):
            labels = _labels(deployment)
            if labels.get("app") == "istiod" and \
                    labels.get("istio.io/rev", "default") == revision and \
                    ((deployment.get("status") or {}).get("availableReplicas") or 0) > 0:
                return True
        return False

    def _injection_failure(self, obj: Obj) -> str:
        """Why pod creation fails for this workload: the injector webhook is called but its
        istiod is down and the webhook's failurePolicy is Fail (Istio's default)."""
        template = (obj.get("spec") or {}).get("template") or {}
        meta = template.get("metadata") or {}
        config = self._injector(obj["metadata"]["namespace"], dict(meta.get("labels") or {}),
                                dict(meta.get("annotations") or {}))
        if config is None:
            return ""
        revision = _labels(config).get("istio.io/rev", "default")
        if self._istiod_up(revision):
            return ""
        policies = {w.get("failurePolicy", "Fail") for w in config.get("webhooks") or []}
        if "Fail" in policies:
            return (f'Internal error occurred: failed calling webhook: istiod-{revision} is '
                    "not available")
        return ""

    def _injects(self, namespace: str, labels: dict[str, str],
                 annotations: dict[str, str]) -> bool:
        config = self._injector(namespace, labels, annotations)
        return config is not None and self._istiod_up(
            _labels(config).get("istio.io/rev", "default"))

    def _ztunnel_ready(self) -> bool:
        def ready(app_key: str, app: str) -> bool:
            return any(_labels(d).get(app_key) == app
                       and ((d.get("status") or {}).get("numberReady") or 0) > 0
                       for d in self._objects("daemonsets", "apps"))
        return ready("app", "ztunnel") and ready("k8s-app", "istio-cni-node")

    def _ambient(self, namespace: str, labels: dict[str, str]) -> bool:
        ns_labels = _labels(self.server._store.get(("", "namespaces", "", namespace)))
        mode = labels.get("istio.io/dataplane-mode") or ns_labels.get("istio.io/dataplane-mode")
        return mode == "ambient" and self._ztunnel_ready()

    def _redirect(self, namespace: str) -> None:
        """istio-cni: pods of an ambient namespace are redirected to ztunnel, and stop being
        once the namespace leaves ambient."""
        for _, pod in self._pods(namespace):
            annotations = pod["metadata"].setdefault("annotations", {})
            wanted = self._ambient(namespace, _labels(pod))
            if wanted != (annotations.get(_REDIRECTION) == "enabled"):
                if wanted:
                    annotations[_REDIRECTION] = "enabled"
                else:
                    annotations.pop(_REDIRECTION, None)
                pod["metadata"]["resourceVersion"] = self.server._next_rv()


# --- objects a test seeds --------------------------------------------------------------------


def _deployment_status(replicas: int, available: int) -> Obj:
    return {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": available, "availableReplicas": available,
            "conditions": [{"type": "Available",
                            "status": "True" if available else "False"}]}


def revision_tag(revision: str, tag: str = "default") -> Obj:
    """The MutatingWebhookConfiguration ``istioctl tag set TAG --revision REVISION`` makes:
    namespaces labelled ``istio-injection=enabled`` (tag ``default``) or ``istio.io/rev=TAG``
    get the sidecar of ``revision``."""
    if tag == "default":
        selector = {"matchExpressions": [
            {"key": "istio-injection", "operator": "In", "values": ["enabled"]}]}
    else:
        selector = {"matchExpressions": [
            {"key": "istio.io/rev", "operator": "In", "values": [tag]},
            {"key": "istio-injection", "operator": "DoesNotExist"}]}
    return {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": f"istio-revision-tag-{tag}",
                         "labels": {"istio.io/rev": revision, "istio.io/tag": tag}},
            "webhooks": [{"name": "namespace.sidecar-injector.istio.io",
                          "namespaceSelector": selector, "failurePolicy": "Fail",
                          "sideEffects": "None", "admissionReviewVersions": ["v1"],
                          "clientConfig": {"service": {"name": f"istiod-{revision}",
                                                       "namespace": "istio-system"}}}]}


def running(deployment: Obj) -> Obj:
    """A copy of a Deployment (from manifests, without status) as its controller reports it
    once every replica is up."""
    out = copy.deepcopy(deployment)
    replicas = (out.get("spec") or {}).get("replicas", 1)
    out.setdefault("metadata", {})["generation"] = 1
    out["status"] = _deployment_status(replicas, replicas)
    return out


def _daemonset(name: str, namespace: str, labels: dict[str, str], ready: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": namespace, "labels": labels,
                         "generation": 1},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": name,
                                                           "image": PROXY_IMAGE}]}}},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 1,
                       "currentNumberScheduled": 1, "updatedNumberScheduled": 1,
                       "numberReady": ready, "numberAvailable": ready}}


def istio_control_plane(*, root: str = "istio-system", revision: str | None = None,
                        istiod_available: bool = True, injector: bool = True,
                        ambient: bool = False) -> list[Obj]:
    """The objects of an installed Istio: the root namespace, an istiod Deployment (``istiod``
    or ``istiod-<revision>``) with its status, the sidecar injector's
    MutatingWebhookConfiguration (webhooks selecting ``istio-injection=enabled``, or
    ``istio.io/rev=<revision>``), and for ``ambient`` the ztunnel and istio-cni DaemonSets.
    The Istio API groups are served by the server itself (``KubeAPIServer(istio=True)``)."""
    rev = revision or "default"
    name = f"istiod-{revision}" if revision else "istiod"
    labels = {"app": "istiod", "istio.io/rev": rev}
    objects: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": root}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": root, "labels": labels, "generation": 1},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "discovery",
                                                        "image": PILOT_IMAGE}]}}},
         "status": _deployment_status(1, 1 if istiod_available else 0)},
    ]
    if injector:
        if revision:
            selector = {"matchExpressions": [
                {"key": "istio.io/rev", "operator": "In", "values": [revision]},
                {"key": "istio-injection", "operator": "DoesNotExist"}]}
            prefix = "rev."
        else:
            selector = {"matchExpressions": [
                {"key": "istio-injection", "operator": "In", "values": ["enabled"]}]}
            prefix = ""
        objects.append({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "istio-sidecar-injector" + (f"-{revision}" if revision else ""),
                         "labels": {"app": "sidecar-injector", "istio.io/rev": rev}},
            "webhooks": [{
                "name": f"{prefix}namespace.sidecar-injector.istio.io",
                "namespaceSelector": selector,
                "objectSelector": {"matchExpressions": [
                    {"key": "sidecar.istio.io/inject", "operator": "NotIn",
                     "values": ["false"]}]},
                "clientConfig": {"service": {"name": name, "namespace": root,
                                             "path": "/inject", "port": 443}},
                "failurePolicy": "Fail", "sideEffects": "None",
                "admissionReviewVersions": ["v1"]}]})
    if ambient:
        objects.append(_daemonset("ztunnel", root, {"app": "ztunnel"}, 1))
        objects.append(_daemonset("istio-cni-node", root, {"k8s-app": "istio-cni-node"}, 1))
    return objects
