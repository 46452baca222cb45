"""Before a STRICT step, what its required steps wrote is read back from the live cluster, not
trusted from the journal (issue 12, item 7): an exception PeerAuthentication deleted by hand,
or an enrollment label removed, stops the step (exit NOT_READY) unless --force, which the
journal records. The shop sample on the test API server; ``planner`` as a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.apply.journal_file import load_journal
from planner.errors import OutcomeNotReached
from planner.exit_codes import ExitCode
from tests.apply.clusters import run_planner, session, writes
from tests.apply.journal_doc import journal_steps
from tests.kubeapi import KubeAPIServer
from tests.tui.test_apply_journey import seed

EXCEPTION = "50-exception-payments-payments-webhook"
STRICT = "40-strict-payments"
POLICIES = "peerauthentications.security.istio.io"


@pytest.fixture
def ready_for_strict(kube_api: KubeAPIServer, tmp_path: Path) -> Path:
    """Shop with everything 40-strict-payments requires applied; returns the journal."""
    seed(kube_api)
    journal = tmp_path / "journal.json"
    with session(kube_api, journal) as s:
        for step in ("20-mesh-permissive", "30-enroll-orders", "30-enroll-payments",
                     EXCEPTION):
            s.apply(step, force=True)
        assert not s.live_prerequisites(s.plan.step(STRICT), load_journal(journal, s.target))
    kube_api.clear_log()
    return journal


def test_a_deleted_exception_policy_stops_strict(kube_api: KubeAPIServer,
                                                 ready_for_strict: Path) -> None:
    journal = ready_for_strict
    name = "meshplan-exception-payments-webhook"
    assert kube_api.get(POLICIES, name, "payments") is not None
    status, _ = kube_api.request(
        "DELETE", f"/apis/security.istio.io/v1/namespaces/payments/peerauthentications/{name}")
    assert status == 200
    kube_api.clear_log()
    # Was: exit 0, payments STRICT without its exception.
    done = run_planner(kube_api, journal, "apply", STRICT, "--write", "--yes")
    assert done.returncode == ExitCode.NOT_READY, done.stderr
    assert (f"PeerAuthentication payments/{name} of {EXCEPTION} was deleted since it was "
            "applied") in done.stderr
    assert "not ready: PeerAuthentication" in done.stderr  # the dry run said so first
    assert kube_api.get(POLICIES, "default", "payments") is None and not writes(kube_api)
    assert STRICT not in journal_steps(journal)
    done = run_planner(kube_api, journal, "apply", STRICT, "--write", "--yes", "--force",
                       "--no-gate")  # no traffic source in this test
    assert done.returncode == 0, done.stderr
    forced = journal_steps(journal)[STRICT]["forced"]
    assert any(f.startswith("live prerequisite: PeerAuthentication payments/") for f in forced)


def test_a_removed_enrollment_label_stops_strict(kube_api: KubeAPIServer,
                                                 ready_for_strict: Path) -> None:
    labels = (kube_api.get("namespaces", "payments") or {})["metadata"]["labels"]
    key = next(k for k in ("istio-injection", "istio.io/dataplane-mode") if k in labels)
    status, _ = kube_api.request("PATCH", "/api/v1/namespaces/payments",
                                 {"metadata": {"labels": {key: None, "team": "pay"}}},
                                 content_type="application/merge-patch+json")
    assert status == 200
    lost = f"Namespace payments of 30-enroll-payments lost its labels: {key}=None"
    with session(kube_api, ready_for_strict) as s, pytest.raises(OutcomeNotReached, match=lost):
        s.apply(STRICT)
    # Putting the label back is enough: another label ("team") changing is no lost prerequisite.
    status, _ = kube_api.request("PATCH", "/api/v1/namespaces/payments",
                                 {"metadata": {"labels": {key: labels[key]}}},
                                 content_type="application/merge-patch+json")
    assert status == 200
    with session(kube_api, ready_for_strict) as s:
        assert s.apply(STRICT, no_gate=True).state == "applied"  # no traffic source here
