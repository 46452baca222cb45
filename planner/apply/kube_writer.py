"""Writes plan steps to a live cluster through the Kubernetes API (the :class:`Writer` of
:mod:`planner.apply.writer`).

How each change is sent (all with field manager ``meshplan``):

* objects: server-side apply, ``PATCH application/apply-patch+yaml?fieldManager=meshplan``,
  never ``force`` unless asked: a field owned by another manager is a 409 naming it, reported
  as :class:`~planner.errors.ApplyError` and not overwritten;
* namespace labels: JSON merge patch of ``metadata.labels`` with only the keys the step changes
  (labels set by others are left alone);
* restarts: merge patch of ``spec.template.metadata.annotations["kubectl.kubernetes.io/
  restartedAt"]``, exactly what ``kubectl rollout restart`` does;
* dry runs add ``dryRun=All``: the server validates and admits, and stores nothing.

Undo restores the journal's before-state: an object that existed is replaced (PUT) by its
previous content, guarded by the live ``resourceVersion``; an object the step created is
deleted, only while it still carries the step's annotation; labels and annotations get their
previous values back (or are removed).

Resource paths come from discovery (one call per group version, cached), so any kind a plan
names works without a table here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from planner.apply.cluster_probe import ClusterProbe
from planner.apply.writer import (
    Planned,
    Stamp,
    clean,
    object_key,
    parse_key,
    restart_payload,
    with_annotations,
)
from planner.domain.journal import RESTARTED_AT, STEP_ANNOTATION, Record, Target, WriteKind
from planner.domain.plan import Action, Step
from planner.errors import ApplyError
from planner.sinks.wire import dump_yaml, to_wire
from planner.sources.kube_client import KubeApi, KubeTarget, Response, connect

FIELD_MANAGER: Final = "meshplan"
APPLY_PATCH: Final = "application/apply-patch+yaml"
MERGE_PATCH: Final = "application/merge-patch+json"


class KubeWriter:
    """A live cluster. Raises ClusterError when the kubeconfig cannot be loaded."""

    def __init__(self, target: KubeTarget, *, timeout_s: float = 30.0,
                 max_retry_s: float = 60.0) -> None:
        client, context = connect(target)
        self._client: Any = client  # the kubernetes package has no annotations
        self.api = KubeApi(client, timeout_s, max_retry_s)
        self.label = f"cluster {context} ({self.api.url})"
        self.context = context
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}
        self._identity: Target | None = None
        self.probe: ClusterProbe | None = ClusterProbe(self.api)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def identity(self) -> Target:
        """The cluster: the UID of its ``kube-system`` namespace (it survives API server
        address changes and is new when a cluster is recreated), with the URL and context for
        display. Read once per writer; ApplyError when it cannot be read, since steps that
        cannot be told apart by cluster must not be applied or trusted."""
        if self._identity is None:
            what = "identify the cluster (get namespace kube-system)"
            response = self.api.get("/api/v1/namespaces/kube-system", {}, what)
            if response.status == 403:
                raise ApplyError(f"cannot {what} on {self.api.url}: forbidden (the "
                                 "meshplan-scan role of docs/rbac.yaml grants get namespaces); "
                                 "steps are journaled per cluster, so none can run unidentified")
            body = self._check(response, what) if response.status != 404 else {}
            uid = str(((body or {}).get("metadata") or {}).get("uid") or "")
            if not uid:
                raise ApplyError(f"cannot {what} on {self.api.url}: it has no kube-system "
                                 "namespace with a uid, so its steps cannot be journaled "
                                 "apart from other clusters'")
            self._identity = Target(uid=uid, server=self.api.url, context=self.context)
        return self._identity

    # --- planning ------------------------------------------------------------------------

    def planned(self, step: Step, stamp: Stamp) -> tuple[list[Planned], list[str]]:
        """The step's writes (see the module docstring for how each is sent)."""
        previous = {object_key(c.object): c.object for c in step.rollback
                    if c.action is Action.APPLY}
        writes: list[Planned] = []
        for change in step.apply:
            obj = change.object
            key = object_key(obj)
            if change.action is Action.RESTART:
                writes.append(Planned(WriteKind.RESTART, key, restart_payload(stamp.at)))
            elif change.action is Action.DELETE:
                writes.append(Planned(WriteKind.DELETE, key, None))
            elif obj.get("kind") == "Namespace":
                labels = label_delta(_labels(obj), _labels(previous.get(key)))
                meta: dict[str, Any] = {"annotations": stamp.annotations}
                if labels:
                    meta["labels"] = labels
                writes.append(Planned(WriteKind.LABEL, key, {"metadata": meta}))
            else:
                writes.append(Planned(WriteKind.APPLY, key,
                                      with_annotations(obj, stamp.annotations)))
        return writes, []

    # --- reading -------------------------------------------------------------------------

    def read(self, kind: WriteKind, target: str) -> Any:
        """The live object, cleaned; None when it does not exist."""
        raw = self._get(target)
        return clean(raw) if raw is not None else None

    def _get(self, target: str) -> dict[str, Any] | None:
        path = self._path(target)
        response = self.api.get(path, {}, f"get {_show(target)}")
        if response.status == 404:
            return None
        body = self._check(response, f"get {_show(target)}")
        return dict(body)

    # --- writing -------------------------------------------------------------------------

    def dry_run(self, planned: Planned, *, force_conflicts: bool) -> Any:
        """The object as the server would store it (None for a delete)."""
        return self._send(planned, dry_run=True, force_conflicts=force_conflicts)

    def write(self, planned: Planned, *, force_conflicts: bool) -> Any:
        """Write for real; returns the object as stored, cleaned (None for a delete)."""
        return self._send(planned, dry_run=False, force_conflicts=force_conflicts)

    def _send(self, planned: Planned, *, dry_run: bool, force_conflicts: bool) -> Any:
        target, kind = planned.target, planned.kind
        query = {"fieldManager": FIELD_MANAGER}
        if dry_run:
            query["dryRun"] = "All"
        what = f"{'dry-run ' if dry_run else ''}{kind} {_show(target)}"
        path = self._path(target)
        if kind is WriteKind.DELETE:
            response = self.api.request("DELETE", path, {k: v for k, v in query.items()
                                                          if k == "dryRun"}, what)
            if response.status != 404:
                self._check(response, what)
            return None
        if kind is WriteKind.APPLY:
            if force_conflicts:
                query["force"] = "true"
            response = self.api.request("PATCH", path, query, what, body=planned.desired,
                                        content_type=APPLY_PATCH)
        else:
            response = self.api.request("PATCH", path, query, what, body=planned.desired,
                                        content_type=MERGE_PATCH)
        return clean(self._check(response, what))

    def undo(self, record: Record, live: Any) -> None:
        """Restore ``record.before`` (module docstring); re-reads the live object for its
        resourceVersion."""
        target = record.target
        what = f"roll back {_show(target)}"
        raw = self._get(target)
        if record.kind in (WriteKind.APPLY, WriteKind.DELETE):
            if record.before is None:
                if raw is None:
                    return
                owner = ((raw.get("metadata") or {}).get("annotations") or {}).get(
                    STEP_ANNOTATION)
                created_by = (((record.desired or {}).get("metadata") or {})
                              .get("annotations") or {}).get(STEP_ANNOTATION)
                if owner != created_by:
                    raise ApplyError(f"not deleting {_show(target)}: it no longer carries "
                                     f"{STEP_ANNOTATION}={created_by}, so it is not the object "
                                     "this step created")
                self._check(self.api.request("DELETE", self._path(target), {}, what), what)
                return
            restored = dict(clean(record.before))
            if raw is None:
                self._check(self.api.request("POST", self._path(target, collection=True), {
                    "fieldManager": FIELD_MANAGER}, what, body=restored,
                    content_type="application/json"), what)
                return
            # The live resourceVersion makes this a compare-and-swap: a write in between
            # fails with 409 instead of being lost silently.
            restored["metadata"] = {**restored["metadata"],
                                    "resourceVersion": raw["metadata"]["resourceVersion"]}
            self._check(self.api.request("PUT", self._path(target), {
                "fieldManager": FIELD_MANAGER}, what, body=restored,
                content_type="application/json"), what)
            return
        if raw is None:
            raise ApplyError(f"cannot roll back {_show(target)}: it no longer exists")
        patch = undo_patch(record, raw)
        self._check(self.api.request("PATCH", self._path(target), {
            "fieldManager": FIELD_MANAGER}, what, body=patch, content_type=MERGE_PATCH), what)

    def restored(self, record: Record, live: Any) -> Any:
        """The object :meth:`undo` leaves: the before-state, nothing for an object the step
        created, or the live object with the step's labels or restartedAt put back."""
        if record.kind in (WriteKind.APPLY, WriteKind.DELETE):
            return None if record.before is None else clean(record.before)
        if live is None:
            return None
        return merge_patch(live, undo_patch(record, live))

    def render(self, obj: Any) -> str:
        """YAML of an object, keys sorted; empty for None."""
        return "" if obj is None else dump_yaml(to_wire(obj))

    # --- plumbing ------------------------------------------------------------------------

    def _check(self, response: Response, what: str) -> Any:
        """The body of a successful answer; ApplyError naming the object otherwise."""
        if response.status in (200, 201, 202):
            return response.body
        body = response.body if isinstance(response.body, dict) else {}
        message = str(body.get("message") or response.reason or "no message")
        if response.status == 409 and any(
                c.get("reason") == "FieldManagerConflict"
                for c in (body.get("details") or {}).get("causes") or []
                if isinstance(c, dict)):
            raise ApplyError(f"{what}: {message} (another field manager owns these fields; "
                             "nothing was overwritten: rerun with --force-conflicts to take "
                             "them over)")
        if response.status == 403:
            raise ApplyError(f"{what}: forbidden by {self.api.url}: {message} (bind the "
                             "meshplan-apply role of docs/rbac.yaml)")
        raise ApplyError(f"{what}: API server {self.api.url} answered {response.status} "
                         f"{response.reason}: {message}")

    def _path(self, target: str, *, collection: bool = False) -> str:
        api_version, kind, namespace, name = parse_key(target)
        plural, namespaced = self._resource(api_version, kind)
        prefix = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        if namespaced:
            prefix += f"/namespaces/{namespace}"
        return f"{prefix}/{plural}" if collection else f"{prefix}/{plural}/{name}"

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of ``kind`` from discovery; ApplyError when not served."""
        if (api_version, kind) not in self._resources:
            path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            response = self.api.get(path, {}, f"discover {api_version}")
            body = response.body if response.status == 200 and isinstance(
                response.body, dict) else {}
            for resource in body.get("resources") or []:
                if isinstance(resource, dict) and "/" not in str(resource.get("name")):
                    self._resources[(api_version, str(resource.get("kind")))] = (
                        str(resource["name"]), bool(resource.get("namespaced")))
            if (api_version, kind) not in self._resources:
                raise ApplyError(f"{self.api.url} does not serve {kind} in {api_version} "
                                 "(CRD not installed?)")
        return self._resources[(api_version, kind)]


def label_delta(desired: Mapping[str, str], previous: Mapping[str, str]) -> dict[str, Any]:
    """The merge patch of labels taking ``previous`` to ``desired``: changed or new keys with
    their values, dropped keys with None. Only these keys are touched."""
    delta: dict[str, Any] = {k: v for k, v in desired.items() if previous.get(k) != v}
    delta.update({k: None for k in previous if k not in desired})
    return delta


def restore_map(before: Mapping[str, Any], live: Mapping[str, Any],
                touched: Mapping[str, Any]) -> dict[str, Any] | None:
    """Merge patch value putting back the ``touched`` keys of a label or annotation map.
    None removes the whole map: when it held nothing before and holds only touched keys now,
    removing key by key would leave an empty map the object never had."""
    others = [k for k in live if k not in touched]
    if not any(k in before for k in touched) and not others and not before:
        return None
    return {k: before.get(k) for k in touched}


def undo_patch(record: Record, live: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that restores a label or restart record's keys to their before
    values."""
    before = record.before or {}
    if record.kind is WriteKind.RESTART:
        touched = {RESTARTED_AT: None}
        return _template_annotations(restore_map(_template(before), _template(live), touched))
    desired_meta = (record.desired or {}).get("metadata") or {}
    meta: dict[str, Any] = {}
    for part in ("labels", "annotations"):
        touched = desired_meta.get(part) or {}
        if touched:
            meta[part] = restore_map((before.get("metadata") or {}).get(part) or {},
                                     (live.get("metadata") or {}).get(part) or {}, touched)
    return {"metadata": meta}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch of ``target`` (not modified): what the API server makes of
    ``patch``; ``None`` removes a key."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _labels(obj: Mapping[str, Any] | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


def _template(obj: Mapping[str, Any]) -> dict[str, Any]:
    template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return dict(template.get("annotations") or {})


def _template_annotations(annotations: Any) -> dict[str, Any]:
    return {"spec": {"template": {"metadata": {"annotations": annotations}}}}


def _show(target: str) -> str:
    """``Kind namespace/name`` (or ``Kind name``) of a record target, for messages."""
    _, kind, namespace, name = parse_key(target)
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
