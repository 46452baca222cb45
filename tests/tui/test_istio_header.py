"""The header's ``istio:`` comes from what runs on the cluster, never from the policies
meshplan itself wrote (a PeerAuthentication in istio-system made it say ``present``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from planner.service import ClusterInput, analyse, build_plan, open_apply_session
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.cluster_sim import istio_control_plane
from tests.tui.conftest import SIZE, journey, plain, wait_for
from tui.app import MeshplanApp
from tui.options import TuiOptions

ROOT = Path(__file__).resolve().parents[2]


def _tiny() -> list[dict[str, object]]:
    text = (ROOT / "sample_clusters/tiny/app.yaml").read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d]


async def _header(api: KubeAPIServer, journal: Path) -> str:
    app = MeshplanApp(TuiOptions(ClusterInput(api.kubeconfig), journal_path=str(journal),
                                 start="plan"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.plan is not None, what="the live scan")
        return plain(app.screen.query_one("#header"))


@journey
async def test_a_policy_meshplan_applied_does_not_make_istio_present(
        kube_api: KubeAPIServer, tmp_path: Path) -> None:
    kube_api.load([*_tiny(), {"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": "istio-system"}}])
    journal = tmp_path / "journal.json"
    spec = ClusterInput(kube_api.kubeconfig)
    analysis = analyse(spec)
    with open_apply_session(analysis, build_plan(analysis), write=True,
                            journal_path=str(journal), kube=spec) as session:
        assert session.apply("20-mesh-permissive").state == "applied"
    assert "istio: not installed" in await _header(kube_api, journal)
    kube_api.load(istio_control_plane())  # now istiod runs
    assert "istio: 1.24.2" in await _header(kube_api, journal)
