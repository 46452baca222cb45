"""Output of ``planner authz``: the AuthorizationPolicies as YAML (what to apply, with what they
leave out as comments), the whole proposal as JSON, and a GitOps folder.

Folder layout (``--out DIR``)::

    DIR/
      authz.json                      # the JSON document
      prerequisites/                  # only when callers share service accounts
        kustomization.yaml            # the per-workload ServiceAccounts
        serviceaccount-<ns>-<name>.yaml
        patches/<kind>-<ns>-<name>.yaml   # serviceAccountName for each workload's pods
        patch.sh                      # kubectl patch, one line per patch file
      policies/<namespace>/
        kustomization.yaml
        authorizationpolicy-<ns>-<name>.yaml
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from shlex import quote
from typing import Any

from planner.domain.authz import AuthzProposal, Caller, SharedAccount, Unexpressible
from planner.sinks.gitops import path_component, resource_files, write_resources, write_tree
from planner.sinks.wire import document, dump_json, dump_yaml, dump_yaml_all, to_wire
from planner.untrusted import clean

SCHEMA_VERSION = "meshplan.io/authz/v1"


def _caller(caller: Caller) -> dict[str, Any]:
    return {"id": caller.id, "principal": caller.principal, "ports": list(caller.ports),
            "seen": caller.seen}


def _unexpressible(u: Unexpressible) -> dict[str, Any]:
    return {"workload": u.workload, "caller": u.caller, "ports": list(u.ports),
            "reason": u.reason, "action": u.action}


def _shared_account(account: SharedAccount) -> dict[str, Any]:
    return {"namespace": account.namespace, "account": account.account,
            "principal": account.principal_text, "workloads": list(account.workloads),
            "callers": list(account.callers), "policies": list(account.policies)}


def authz_document(proposal: AuthzProposal) -> dict[str, Any]:
    """The proposal as one JSON-ready document."""
    split = proposal.split
    return document(SCHEMA_VERSION, {
        "mode": "enforce" if proposal.enforce else "dry-run",
        "trustDomain": proposal.trust_domain,
        "policies": [{"workload": p.workload, "namespace": p.namespace, "dataplane": p.mode,
                      "callers": [_caller(c) for c in p.callers], "policy": to_wire(p.policy)}
                     for p in proposal.policies],
        "unexpressible": [_unexpressible(u) for u in proposal.unexpressible],
        "sharedAccounts": [_shared_account(a) for a in proposal.shared_accounts],
        "prerequisites": {
            "serviceAccounts": to_wire(split.service_accounts),
            "workloadPatches": to_wire(split.workload_patches),
            "callers": split.callers,
            "principalsNow": split.principals_now,
            "principalsAfterSplit": split.principals_after,
        },
        "uncalled": list(proposal.uncalled),
        "unselectable": [{"workload": key, "reason": why}
                         for key, why in proposal.unselectable],
        "outside": [{"scope": scope, "reason": why} for scope, why in proposal.outside],
    })


def authz_json(proposal: AuthzProposal) -> str:
    """The JSON document as text."""
    return dump_json(authz_document(proposal))


def summary_lines(proposal: AuthzProposal) -> list[str]:
    """What the policies leave out and what comes first, one line each (cluster strings made
    inert: these lines become YAML comments and terminal text)."""
    mode = ("enforcing" if proposal.enforce else
            'dry run (istio.io/dry-run: "true"): Envoy logs what it would deny, denies nothing')
    lines = [f"{len(proposal.policies)} AuthorizationPolicies, {mode}"]
    split = proposal.split
    for account in proposal.shared_accounts:
        lines.append(
            f"shared service account {clean(account.principal_text)}: "
            f"{len(account.workloads)} workloads run as it "
            f"({clean(', '.join(account.workloads))}); a policy naming it allows them all")
    if proposal.shared_accounts:
        lines.append(
            f"prerequisite: {len(split.service_accounts)} per-workload ServiceAccounts and the "
            f"workload changes (--out DIR: prerequisites/); the {split.callers} callers would "
            f"then be {split.principals_after} principals instead of {split.principals_now}")
    for u in proposal.unexpressible:
        ports = ", ".join(map(str, u.ports)) or "unknown ports"
        lines.append(f"not in the policy of {clean(u.workload)}: {clean(u.caller)} ({ports}): "
                     f"{clean(u.reason)}; {clean(u.action)}")
    for key, why in proposal.unselectable:
        lines.append(f"no policy for {clean(key)}: no selector picks its pods alone "
                     f"({clean(why)}); give it a label of its own")
    if proposal.uncalled:
        lines.append(f"no policy for {len(proposal.uncalled)} workloads without known callers "
                     "(an ALLOW policy without rules denies everything): "
                     + clean(", ".join(proposal.uncalled)))
    for scope, why in proposal.outside:
        what = scope if "/" in scope else f"the workloads of namespace {scope}"
        lines.append(f"no policy for {clean(what)}: outside the mesh once the plan is done "
                     f"({clean(why)}), so no proxy there would enforce one")
    return lines


def authz_yaml(proposal: AuthzProposal) -> str:
    """The policies as multi-document YAML, ready for ``kubectl apply -f -``, led by the
    summary as comments."""
    head = "".join(f"# {line}\n" for line in summary_lines(proposal))
    return head + (dump_yaml_all([to_wire(o) for o in proposal.objects])
                   if proposal.policies else "")


def write_authz(proposal: AuthzProposal, out: str | os.PathLike[str], *,
                force: bool = False) -> Path:
    """Write the GitOps folder (layout in the module doc) atomically; ``InputError`` as
    :func:`planner.sinks.gitops.write_tree` raises it."""

    def fill(staging: Path) -> None:
        (staging / "authz.json").write_text(authz_json(proposal), encoding="utf-8")
        by_ns: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for p in proposal.policies:
            by_ns[p.namespace].append(p.policy)
        for ns, objects in sorted(by_ns.items()):
            write_resources(staging / "policies" / path_component(ns), objects)
        split = proposal.split
        if split.service_accounts or split.workload_patches:
            folder = staging / "prerequisites"
            write_resources(folder, list(split.service_accounts))
            (folder / "patches").mkdir()
            script = ["#!/bin/sh", "# Run each workload's pods as its own ServiceAccount "
                      "(create them first: kubectl apply -k .). Pods restart.", "set -e"]
            for name, patch in resource_files(list(split.workload_patches)):
                (folder / "patches" / name).write_text(dump_yaml(to_wire(patch)),
                                                       encoding="utf-8")
                meta = patch["metadata"]
                script.append(f"kubectl patch {quote(str(patch['kind']).lower())} "
                              f"{quote(str(meta['name']))} -n {quote(str(meta['namespace']))} "
                              f"--patch-file {quote('patches/' + name)}")
            (folder / "patch.sh").write_text("\n".join(script) + "\n", encoding="utf-8")

    return write_tree(out, fill, force=force)
