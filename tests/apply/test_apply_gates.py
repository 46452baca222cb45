"""The plaintext gate of STRICT steps at ``planner apply`` and ``planner verify``, end to end:
the Kubernetes-API test server as the cluster, and observed traffic from the real Prometheus
of the traffic tests (``tests.traffic.conftest.GROUND_TRUTH``), from a CSV export of the same
edges, or from that Prometheus behind a bearer-token (and TLS) proxy.

The cluster has two namespaces whose ground truth differs: ``billing`` receives plaintext from
the weekly ``batch/report-job`` (its gate fails), ``payments`` only mutual TLS (it passes).
"""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from planner.apply.engine import GATE_WINDOW, VERIFY_WINDOW
from planner.cli import cli
from planner.domain.traffic import TrafficSnapshot
from planner.errors import ApplyError, GateRefused, MetricsError
from planner.exit_codes import ExitCode
from planner.service import (
    ClusterInput,
    ManifestInput,
    analyse,
    build_plan,
    open_apply_session,
)
from tests.apply.journal_doc import journal_steps
from tests.kubeapi import KubeAPIServer
from tests.kubeapi.cluster_sim import istio_control_plane
from tests.kubeapi.tls import make_certificate, openssl_available
from tests.traffic.conftest import GROUND_TRUTH
from tests.traffic.promserver import PromServer, require_prometheus
from tests.traffic.shop_truth import write_csv

BILLING_CALLER = "batch/report-job -> billing/invoices (http)"
TOKEN = "s3cret-token"
PREREQUISITES = ("20-mesh-permissive", "30-enroll-billing", "30-enroll-payments")
STRICT_POLICY = "peerauthentications.security.istio.io"


def _workload(namespace: str, name: str) -> list[dict[str, Any]]:
    labels = {"app": name}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                      {"name": name, "image": f"example/{name}:1",
                       "ports": [{"name": "http", "containerPort": 8080}]}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": namespace},
         "spec": {"selector": labels,
                  "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
    ]


SEED: list[dict[str, Any]] = [
    *({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
      for ns in ("billing", "payments", "istio-system")),
    *_workload("billing", "invoices"),
    *_workload("payments", "gateway"),
]


@pytest.fixture
def cluster(kube_api: KubeAPIServer, tmp_path: Path) -> KubeAPIServer:
    """The seeded cluster with every step before the STRICT ones applied (journal in
    ``tmp_path``), so the gate is all that stands between a STRICT step and the cluster."""
    return ready_for_strict(kube_api, tmp_path / "journal.json")


def ready_for_strict(kube_api: KubeAPIServer, journal: Path) -> KubeAPIServer:
    """:data:`SEED` on ``kube_api`` with every step before the STRICT ones applied, journaled
    in ``journal``."""
    # Istio as installed (ambient profile: the namespaces' recommended data plane), and the
    # workloads running: STRICT also waits for every pod to be on its data plane.
    kube_api.load([*SEED, *(o for o in istio_control_plane(ambient=True)
                            if o["kind"] != "Namespace")])
    kube_api.cluster.deploy()
    spec = ClusterInput(kube_api.kubeconfig)
    analysis = analyse(spec)
    with open_apply_session(analysis, build_plan(analysis), write=True,
                            journal_path=str(journal), kube=spec) as session:
        for step in PREREQUISITES:
            assert session.apply(step).state == "applied"
    return kube_api


def _csv_export(path: Path, namespaces: tuple[str, ...] = ("billing", "payments")) -> Path:
    """The ground truth into ``namespaces`` as the CSV export format."""
    return write_csv(path, tuple(e for e in GROUND_TRUTH
                                 if e.destination_namespace in namespaces))


def _run(api: KubeAPIServer, tmp_path: Path, *args: str,
         env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [*args, "--kubeconfig", api.kubeconfig,
                                    "--journal", str(tmp_path / "journal.json")], env=env)


def _mode(api: KubeAPIServer, namespace: str) -> str | None:
    policy = api.get(STRICT_POLICY, "default", namespace)
    return None if policy is None else str(policy["spec"]["mtls"]["mode"])


def _journal(tmp_path: Path) -> dict[str, Any]:
    return {"steps": journal_steps(tmp_path / "journal.json")}


@pytest.fixture(params=["prometheus", "csv"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, list[str]]:
    """(gate label, CLI flags) of the same ground truth from Prometheus or a CSV export."""
    if request.param == "prometheus":
        return "Prometheus", ["--prometheus", request.getfixturevalue("prom_url")]
    # A CSV passes a gate only on the user's word, which the journal records.
    return "traffic export", ["--traffic", str(_csv_export(tmp_path / "edges.csv")),
                              "--trust-declared"]


def test_strict_gate_refuses_plaintext_passes_clean_and_force_is_journaled(
        cluster: KubeAPIServer, tmp_path: Path, source: tuple[str, list[str]]) -> None:
    label, flags = source
    before = cluster.snapshot()
    refused = _run(cluster, tmp_path, "apply", "40-strict-billing", "--write", "--yes", *flags)
    assert refused.exit_code == ExitCode.GATE_FAILED, refused.output
    assert f"{label} gate fail" in refused.stderr
    assert BILLING_CALLER in refused.stderr and "--force" in refused.stderr
    assert cluster.snapshot() == before
    assert "40-strict-billing" not in _journal(tmp_path)["steps"]

    clean = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                 "--settle", "1s", *flags)
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.endswith("40-strict-payments: applied\n")
    assert _mode(cluster, "payments") == "STRICT"
    assert not _journal(tmp_path)["steps"]["40-strict-payments"]["forced"]

    forced = _run(cluster, tmp_path, "apply", "40-strict-billing", "--write", "--yes",
                  "--force", "--settle", "1s", *flags)
    assert forced.exit_code == 0, forced.output
    assert _mode(cluster, "billing") == "STRICT"
    [reason] = _journal(tmp_path)["steps"]["40-strict-billing"]["forced"]
    assert reason.startswith(f"{label} gate fail") and BILLING_CALLER in reason
    status = json.loads(_run(cluster, tmp_path, "status", "-o", "json").stdout)
    notes = {s["id"]: s["note"] for s in status["steps"]}
    assert BILLING_CALLER in notes["40-strict-billing"]

    # An explicit --window reaches verify too; the data is 2 hours old at most.
    window = ["--window", "3h"] if label == "Prometheus" else []
    failing = _run(cluster, tmp_path, "verify", "40-strict-billing", *flags, *window)
    assert failing.exit_code == ExitCode.GATE_FAILED, failing.output
    assert f"{label} gate fail" in failing.stderr and BILLING_CALLER in failing.stderr
    assert failing.stdout == "40-strict-billing: applied\n"
    passing = _run(cluster, tmp_path, "verify", "40-strict-payments", *flags, *window)
    assert passing.exit_code == 0, passing.output
    assert passing.stdout == "40-strict-payments: verified\n"


def test_an_export_without_traffic_into_the_namespace_is_unknown_and_refuses(
        cluster: KubeAPIServer, tmp_path: Path) -> None:
    export = _csv_export(tmp_path / "billing-only.csv", ("billing",))
    result = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                  "--traffic", str(export))
    assert result.exit_code == ExitCode.GATE_FAILED, result.output
    assert "traffic export gate unknown: no series for destination namespace 'payments'" \
        in result.stderr
    assert _mode(cluster, "payments") is None
    result = _run(cluster, tmp_path, "verify", "40-strict-payments", "--traffic", str(export))
    assert result.exit_code == ExitCode.GATE_FAILED  # not applied, and no proof either


def test_unreadable_export_is_unknown_not_a_pass(cluster: KubeAPIServer,
                                                 tmp_path: Path) -> None:
    result = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                  "--traffic", str(tmp_path / "missing.csv"))
    assert result.exit_code == ExitCode.GATE_FAILED, result.output
    assert "traffic export gate unknown" in result.stderr and "missing.csv" in result.stderr


def test_prometheus_and_traffic_together_are_an_input_error(cluster: KubeAPIServer,
                                                            tmp_path: Path) -> None:
    result = _run(cluster, tmp_path, "verify", "40-strict-payments", "--prometheus",
                  "http://127.0.0.1:9", "--traffic", str(_csv_export(tmp_path / "e.csv")))
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert "not both" in result.stderr


# --- a Prometheus behind a bearer token ------------------------------------------------------


class _Proxy(ThreadingHTTPServer):
    """A reverse proxy on 127.0.0.1 that forwards to ``upstream`` only requests carrying
    ``Authorization: Bearer <token>`` (401 otherwise), as an auth proxy in front of a managed
    Prometheus does. ``seen`` keeps (authorization header, body) of every request."""

    daemon_threads = True

    def __init__(self, upstream: str, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.token = token
        self.seen: list[tuple[str | None, str]] = []


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _Proxy

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization")
        self.server.seen.append((auth, body.decode()))
        if auth != f"Bearer {self.server.token}":
            self._reply(401, b"unauthorized\n", "text/plain")
            return
        request = urllib.request.Request(
            self.server.upstream + self.path, data=body if self.command == "POST" else None,
            method=self.command,
            headers={"Content-Type": self.headers.get("Content-Type") or "text/plain"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                self._reply(response.status, response.read(),
                            response.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as err:
            self._reply(err.code, err.read(), err.headers.get("Content-Type", ""))

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on ``seen`` instead."""


@pytest.fixture(params=["http", "https"])
def protected(request: pytest.FixtureRequest, prom_url: str,
              tmp_path: Path) -> Iterator[tuple[_Proxy, list[str]]]:
    """The proxy in front of the real Prometheus and the flags that reach it (``https``: a
    self-signed certificate, trusted through ``--prometheus-ca``)."""
    if request.param == "https" and not openssl_available():
        pytest.skip("openssl is needed to make the proxy's certificate")
    proxy = _Proxy(prom_url, TOKEN)
    flags = ["--prometheus", f"{request.param}://127.0.0.1:{proxy.server_address[1]}"]
    if request.param == "https":
        folder = tmp_path / "tls"
        folder.mkdir()
        cert, key = make_certificate(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        proxy.socket = context.wrap_socket(proxy.socket, server_side=True)
        flags += ["--prometheus-ca", str(cert)]
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy, flags
    proxy.shutdown()
    proxy.server_close()
    thread.join(timeout=10)


def test_token_file_turns_an_unknown_gate_into_pass_and_fail(
        cluster: KubeAPIServer, tmp_path: Path,
        protected: tuple[_Proxy, list[str]]) -> None:
    proxy, flags = protected
    no_token = {"PLANNER_PROMETHEUS_TOKEN": ""}
    result = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                  *flags, env=no_token)
    assert result.exit_code == ExitCode.GATE_FAILED, result.output
    assert "Prometheus gate unknown" in result.stderr and "HTTP 401" in result.stderr
    assert proxy.seen and all(auth is None for auth, _ in proxy.seen)

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with_file = [*flags, "--prometheus-token-file", str(token_file)]
    result = _run(cluster, tmp_path, "apply", "40-strict-billing", "--write", "--yes",
                  *with_file, env=no_token)
    assert result.exit_code == ExitCode.GATE_FAILED, result.output
    assert "Prometheus gate fail" in result.stderr and BILLING_CALLER in result.stderr
    asked = len(proxy.seen)
    result = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                  "--settle", "1s", *with_file, env=no_token)
    assert result.exit_code == 0, result.output
    assert _mode(cluster, "payments") == "STRICT" and _mode(cluster, "billing") is None
    # The gate (7 days) and the post-apply check (the settle period, before and after the
    # writes) all carry the token.
    queries = [urllib.parse.unquote_plus(q) for _, q in proxy.seen[asked:]]
    assert {auth for auth, _ in proxy.seen[asked:]} == {f"Bearer {TOKEN}"}
    assert [q for q in queries if f"[{GATE_WINDOW}]" in q]
    assert len([q for q in queries if "[1s]" in q]) == 4
    assert "post-apply check passed" in result.stderr

    # $PLANNER_PROMETHEUS_TOKEN works as well; verify looks at the last 15 minutes (whether
    # the fixture's data still reaches into them depends on how long ago it was written).
    result = _run(cluster, tmp_path, "verify", "40-strict-payments", *flags,
                  env={"PLANNER_PROMETHEUS_TOKEN": TOKEN})
    assert "HTTP 401" not in result.stderr
    assert proxy.seen[-1][0] == f"Bearer {TOKEN}"
    assert f"[{VERIFY_WINDOW}]" in urllib.parse.unquote_plus(proxy.seen[-1][1])


# --- the engine's windows, without a cluster -------------------------------------------------


class _RecordingReader:
    """A TrafficReader that records the windows it is asked for and has no data to give."""

    label = "Prometheus"

    def __init__(self, window: str | None = None) -> None:
        self.window = window
        self.asked: list[str] = []

    def read(self, window: str) -> TrafficSnapshot:
        self.asked.append(window)
        raise MetricsError("Prometheus http://127.0.0.1:9: connection refused")


@pytest.mark.parametrize(("window", "expected"), [(None, [GATE_WINDOW, VERIFY_WINDOW]),
                                                  ("1h", ["1h", "1h"])])
def test_gate_windows(tmp_path: Path, window: str | None, expected: list[str]) -> None:
    manifests = tmp_path / "cluster.yaml"
    manifests.write_text("\n---\n".join(json.dumps(doc) for doc in SEED))
    analysis = analyse(ManifestInput((str(manifests),)))
    reader = _RecordingReader(window)
    session = open_apply_session(analysis, build_plan(analysis), write=True,
                                 journal_path=str(tmp_path / "journal.json"),
                                 out_dir=str(tmp_path / "gitops"), traffic=reader)
    with session:
        for step in PREREQUISITES:
            session.apply(step)
        assert reader.asked == []  # only STRICT steps have a gate
        with pytest.raises(GateRefused, match=r"Prometheus gate unknown: .*connection refused"):
            session.apply("40-strict-payments")
        session.apply("40-strict-payments", force=True)
        outcome = session.verify("40-strict-payments")
    assert outcome.state == "written"  # unknown never verifies (nor does a folder)
    assert reader.asked == [expected[0], expected[0], expected[1]]


class _RereadableReader(_RecordingReader):
    """A Prometheus-like source that could be read again after an apply; it must not be, for
    files that reach the cluster only when it syncs."""

    rereadable = True

    def health(self, namespaces: Any, window: str) -> Any:
        raise AssertionError("the post-apply check read traffic for a GitOps folder")


def test_a_gitops_apply_has_no_post_apply_check(tmp_path: Path) -> None:
    manifests = tmp_path / "cluster.yaml"
    manifests.write_text("\n---\n".join(json.dumps(doc) for doc in SEED))
    analysis = analyse(ManifestInput((str(manifests),)))
    session = open_apply_session(analysis, build_plan(analysis), write=True,
                                 journal_path=str(tmp_path / "journal.json"),
                                 out_dir=str(tmp_path / "gitops"),
                                 traffic=_RereadableReader(None))
    with session:
        for step in PREREQUISITES:
            session.apply(step)
        with pytest.raises(ApplyError, match="--auto-rollback needs a cluster"):
            session.apply("40-strict-payments", force=True, settle_s=0.01, auto_rollback=True)
        outcome = session.apply("40-strict-payments", force=True, settle_s=0.01)
    assert outcome.state == "written" and not outcome.check_failed
    assert ("no post-apply check: the files reach the cluster only when it syncs; check the "
            "step with `planner verify 40-strict-payments --prometheus URL` once it has "
            "synced") in outcome.messages


# --- STRICT without a traffic source: --no-gate ----------------------------------------------


def test_strict_without_a_traffic_source_needs_no_gate(cluster: KubeAPIServer,
                                                       tmp_path: Path) -> None:
    before = cluster.snapshot()
    refused = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes")
    assert refused.exit_code == ExitCode.GATE_FAILED, refused.output
    assert "no traffic source gates it" in refused.stderr and "--no-gate" in refused.stderr
    assert cluster.snapshot() == before
    # --force is for a gate that ran and did not pass; it does not stand in for a source.
    forced = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                  "--force")
    assert forced.exit_code == ExitCode.GATE_FAILED and cluster.snapshot() == before
    both = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                "--no-gate", "--traffic", str(_csv_export(tmp_path / "e.csv")))
    assert both.exit_code == ExitCode.INPUT_ERROR and "exclude each other" in both.stderr

    ungated = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                   "--no-gate")
    assert ungated.exit_code == 0, ungated.output
    assert "applied without gate" in ungated.stderr
    assert _mode(cluster, "payments") == "STRICT"
    assert _journal(tmp_path)["steps"]["40-strict-payments"]["gate"] == "none"
    status = json.loads(_run(cluster, tmp_path, "status", "-o", "json").stdout)
    notes = {s["id"]: s["note"] for s in status["steps"]}
    assert notes["40-strict-payments"].startswith("applied without gate")
    table = _run(cluster, tmp_path, "status").stdout
    assert "applied without gate" in " ".join(table.split())
    # Non-STRICT steps have no gate to record.
    assert "gate" not in _journal(tmp_path)["steps"]["20-mesh-permissive"]


def test_gate_mode_is_journaled_for_passed_and_forced(cluster: KubeAPIServer, tmp_path: Path,
                                                      source: tuple[str, list[str]]) -> None:
    label, flags = source
    assert _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                "--settle", "1s", *flags).exit_code == 0
    assert _run(cluster, tmp_path, "apply", "40-strict-billing", "--write", "--yes",
                "--force", "--settle", "1s", *flags).exit_code == 0
    steps = _journal(tmp_path)["steps"]
    # A CSV's declared shares passed only on the user's --trust-declared: recorded, shown.
    passed = "passed" if label == "Prometheus" else "trusted"
    assert (steps["40-strict-payments"]["gate"], steps["40-strict-billing"]["gate"]) == (
        passed, "forced")
    status = json.loads(_run(cluster, tmp_path, "status", "-o", "json").stdout)
    notes = {s["id"]: s["note"] for s in status["steps"]}
    trusted = notes["40-strict-payments"].startswith(
        "gate passed on declared shares (--trust-declared)")
    assert trusted == (passed == "trusted")


# --- after a STRICT apply: settle, re-read, roll back ----------------------------------------

#: Failed requests into payments, as the callers' sidecars report them (503), per second.
CALM, STORM = 0.02, 5.0


def _failures(now: float, rise_at: float | None) -> list[tuple[float, float]]:
    """A client-side 503 counter: CALM for the past hour, then one sample a second for two
    minutes into the future, rising at STORM from ``rise_at`` (never when None)."""
    samples, value = [], 0.0
    for t in range(int(now) - 3600, int(now), 60):
        samples.append((float(t), value))
        value += CALM * 60
    for t in range(int(now), int(now) + 120):
        samples.append((float(t), value))
        value += STORM if rise_at is not None and t >= rise_at else CALM
    return samples


def _storm_prometheus(rise_in_s: float | None) -> PromServer:
    import time

    now = time.time()
    labels = {"reporter": "source", "response_code": "503", "source_workload": "checkout",
              "source_workload_namespace": "shop", "destination_service_name": "gateway",
              "destination_service_namespace": "payments", "connection_security_policy":
              "unknown"}
    rise = None if rise_in_s is None else now + rise_in_s
    return PromServer(list(GROUND_TRUTH), raw=[("istio_requests", labels,
                                                _failures(now, rise))])


def test_failures_rising_after_strict_roll_it_back(cluster: KubeAPIServer,
                                                   tmp_path: Path) -> None:
    """A real Prometheus whose client-side 503s into payments start to climb 15 s after it
    starts: the gate passes, the apply writes STRICT, the settle period sees the climb, and
    --auto-rollback restores the namespace."""
    require_prometheus()
    before = cluster.snapshot()
    with _storm_prometheus(rise_in_s=15) as prom:
        result = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                      "--prometheus", prom.url, "--settle", "20s", "--auto-rollback")
    assert result.exit_code == ExitCode.GATE_FAILED, result.output
    assert "post-apply check failed: into payments, connection failures" in result.stderr
    assert "rolled back" in result.stderr
    assert result.stdout.endswith("40-strict-payments: rolled back\n")
    assert _mode(cluster, "payments") is None and cluster.snapshot() == before
    entry = _journal(tmp_path)["steps"]["40-strict-payments"]
    assert entry["state"] == "rolled back"
    assert any(e["message"].startswith("post-apply check failed") for e in entry["events"])


def test_calm_traffic_after_strict_passes_the_post_apply_check(cluster: KubeAPIServer,
                                                               tmp_path: Path) -> None:
    require_prometheus()
    with _storm_prometheus(rise_in_s=None) as prom:
        result = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                      "--prometheus", prom.url, "--settle", "3s", "--auto-rollback")
    assert result.exit_code == 0, result.output
    assert "waiting 3s for Istio to push the policy" in result.stderr
    assert "post-apply check passed" in result.stderr
    assert _mode(cluster, "payments") == "STRICT"


def test_a_rise_without_auto_rollback_leaves_the_step_and_exits_11(cluster: KubeAPIServer,
                                                                   tmp_path: Path) -> None:
    require_prometheus()
    with _storm_prometheus(rise_in_s=0) as prom:
        result = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                      "--prometheus", prom.url, "--settle", "3s")
    assert result.exit_code == ExitCode.GATE_FAILED, result.output
    assert "post-apply check failed" in result.stderr
    assert "planner rollback 40-strict-payments" in result.stderr
    assert _mode(cluster, "payments") == "STRICT"


def test_auto_rollback_needs_a_source_it_can_read_again(cluster: KubeAPIServer,
                                                        tmp_path: Path) -> None:
    before = cluster.snapshot()
    result = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                  "--traffic", str(_csv_export(tmp_path / "e.csv")), "--trust-declared",
                  "--auto-rollback")
    assert result.exit_code == ExitCode.APPLY_ERROR, result.output
    assert "--auto-rollback needs the post-apply check" in result.stderr
    assert cluster.snapshot() == before
    plain_csv = _run(cluster, tmp_path, "apply", "40-strict-payments", "--write", "--yes",
                     "--traffic", str(_csv_export(tmp_path / "e.csv")), "--trust-declared")
    assert plain_csv.exit_code == 0, plain_csv.output
    assert "no post-apply check: a traffic export cannot be read again" in plain_csv.stderr
