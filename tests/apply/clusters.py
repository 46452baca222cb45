"""What the apply tests share: the tiny sample cluster as a seed, a session on a test server,
and ``planner`` run as a subprocess (a real process, as an operator runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from planner.apply.engine import ApplySession
from planner.service import ClusterInput, analyse, build_plan, open_apply_session
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.cluster_sim import istio_control_plane

ROOT = Path(__file__).resolve().parents[2]


def tiny_seed() -> list[dict[str, Any]]:
    """sample_clusters/tiny (one namespace, four Deployments) on a cluster with Istio installed
    in istio-system: an available istiod, the sidecar injector webhook, and ztunnel and
    istio-cni (the ambient profile), so both data planes have what they need."""
    docs = [d for d in yaml.safe_load_all((ROOT / "sample_clusters/tiny/app.yaml").read_text())
            if d]
    docs.extend(o for o in istio_control_plane(ambient=True) if o["kind"] != "Namespace")
    docs.append({"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "istio-system", "labels": {"team": "platform"}}})
    return docs


def seed_tiny(api: KubeAPIServer, *extra: dict[str, Any]) -> None:
    """Load :func:`tiny_seed` (and ``extra`` objects) into ``api`` and bring its workloads up
    as a running cluster has them: pods created, status rolled out
    (:meth:`~tests.kubeapi.cluster_sim.ClusterSim.deploy`)."""
    api.load([*tiny_seed(), *extra])
    api.cluster.deploy()


def session(api: KubeAPIServer, journal: Path, *, write: bool = True,
            dataplane: str = "recommended", **options: Any) -> ApplySession:
    """An apply session on ``api``'s cluster with the journal at ``journal``, its plan made
    with ``--dataplane`` ``dataplane``."""
    spec = ClusterInput(api.kubeconfig)
    analysis = analyse(spec)
    return open_apply_session(analysis, build_plan(analysis, dataplane=dataplane), write=write,
                              journal_path=str(journal), kube=spec, **options)


def planner_command(api: KubeAPIServer, journal: Path | None, *args: str) -> list[str]:
    """The argv of ``planner ARGS`` against ``api`` with the journal at ``journal`` (None: a
    command that has no journal)."""
    return [sys.executable, "-m", "planner", *args, "--kubeconfig", api.kubeconfig,
            *(("--journal", str(journal)) if journal is not None else ())]


def run_planner(api: KubeAPIServer, journal: Path | None, *args: str,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``planner ARGS`` as a subprocess and wait for it."""
    return subprocess.run(planner_command(api, journal, *args), capture_output=True,
                          text=True, timeout=120, check=False, env={**os.environ, **(env or {})})


def writes(api: KubeAPIServer) -> list[Any]:
    """The requests that changed the store (dry runs excluded)."""
    return [c for c in api.requests if c.method in ("PATCH", "PUT", "POST", "DELETE")
            and c.query.get("dryRun") != "All" and 200 <= c.status < 300]
