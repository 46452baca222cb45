"""Kubeconfig exec plugins and bearer tokens work as with kubectl; credentials never show.

Against the Kubernetes-API test server (TLS with its CA in the kubeconfig when ``openssl`` is
there; it answers 401 unless the request carries ``Authorization: Bearer <api.token>``), through
the real CLI (``python -m planner`` from the repo root): a user whose token comes from an
``exec`` plugin (``client.authentication.k8s.io/v1``) scans; the token, from the kubeconfig or
from the plugin, appears in no output of a verbose scan, a 401, an unreachable server, an apply
dry run or an applied step, nor in the apply journal; client certificate and key data are never
echoed in configuration errors.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kubeapi import KubeAPIServer

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def _seed(api: KubeAPIServer) -> None:
    """The tiny sample plus istio-system, as the apply tests seed the server."""
    docs = [d for d in yaml.safe_load_all((ROOT / "sample_clusters/tiny/app.yaml").read_text())
            if d]
    docs.append({"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "istio-system", "labels": {"team": "platform"}}})
    api.load(docs)


def _secrets(token: str) -> list[str]:
    """The token and the forms it could leak in (base64 of the token or of a header)."""
    return [token, base64.b64encode(token.encode()).decode(),
            base64.b64encode(f"Bearer {token}".encode()).decode().rstrip("=")]


def assert_hidden(text: str, *tokens: str) -> None:
    for token in tokens:
        for secret in _secrets(token):
            assert secret not in text, f"credential leaked: {text[:3000]}"


def assert_run_hides(result: subprocess.CompletedProcess[str], *tokens: str) -> None:
    assert_hidden(result.stdout + result.stderr, *tokens)


def _exec_kubeconfig(api: KubeAPIServer, folder: Path, token: str) -> Path:
    """A kubeconfig whose user gets ``token`` from an exec plugin, as ``kubectl`` would."""
    script = folder / "credential_plugin.py"
    script.write_text(
        "import json\n"
        f"print(json.dumps({{'apiVersion': 'client.authentication.k8s.io/v1', "
        f"'kind': 'ExecCredential', 'status': {{'token': {token!r}}}}}))\n",
        encoding="utf-8")
    config = json.loads(Path(api.kubeconfig).read_text(encoding="utf-8"))
    config["users"] = [{"name": "test", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": sys.executable,
        "args": [str(script)],
        "interactiveMode": "Never",
        "provideClusterInfo": False,
    }}}]
    path = folder / "exec-kubeconfig"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def cluster(kube_api: KubeAPIServer) -> KubeAPIServer:
    _seed(kube_api)
    kube_api.clear_log()
    return kube_api


def test_exec_plugin_token_authenticates_a_scan(cluster: KubeAPIServer, tmp_path: Path) -> None:
    kubeconfig = _exec_kubeconfig(cluster, tmp_path, cluster.token)
    result = run("scan", "--kubeconfig", str(kubeconfig), "-o", "json")
    assert result.returncode == 0, result.stderr
    inventory = json.loads(result.stdout)
    assert {"tiny", "istio-system"} <= {ns["name"] for ns in inventory["namespaces"]}
    assert cluster.calls(resource="pods")  # it really listed, with the plugin's token
    assert_run_hides(result, cluster.token)
    verbose = run("scan", "--kubeconfig", str(kubeconfig), "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert_run_hides(verbose, cluster.token)


def test_exec_plugin_with_a_wrong_token_fails_without_showing_it(cluster: KubeAPIServer,
                                                                 tmp_path: Path) -> None:
    wrong = "exec-wrong-" + "7" * 24
    kubeconfig = _exec_kubeconfig(cluster, tmp_path, wrong)
    result = run("scan", "--kubeconfig", str(kubeconfig), "-v")
    assert result.returncode != 0
    assert "401" in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert_run_hides(result, wrong, cluster.token)


def test_failing_exec_plugin_is_one_line_without_its_output(cluster: KubeAPIServer,
                                                            tmp_path: Path) -> None:
    secret = "plugin-stdout-secret-" + "4" * 20
    script = tmp_path / "broken_plugin.py"
    # A plugin that fails after printing a credential, on stdout and on stderr.
    script.write_text(f"import sys\nprint({secret!r})\nprint({secret!r}, file=sys.stderr)\n"
                      "raise SystemExit(1)\n", encoding="utf-8")
    config = json.loads(Path(cluster.kubeconfig).read_text(encoding="utf-8"))
    config["users"] = [{"name": "test", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
        "args": [str(script)], "interactiveMode": "Never"}}}]
    kubeconfig = tmp_path / "broken-kubeconfig"
    kubeconfig.write_text(json.dumps(config), encoding="utf-8")
    result = run("scan", "--kubeconfig", str(kubeconfig))
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "exec credential plugin failed: process returned 1" in result.stderr
    assert_run_hides(result, secret, cluster.token)
    assert not cluster.requests  # no unauthenticated request after the plugin failed


def test_token_never_in_verbose_scan_or_failures(cluster: KubeAPIServer, tmp_path: Path) -> None:
    verbose = run("scan", "--kubeconfig", cluster.kubeconfig, "-v")
    assert verbose.returncode == 0, verbose.stderr
    assert "API calls" in verbose.stderr
    assert_run_hides(verbose, cluster.token)

    wrong = "wrong-token-" + "9" * 24
    bad = cluster.write_kubeconfig(tmp_path / "wrong", token=wrong)
    rejected = run("scan", "--kubeconfig", bad, "-v")
    assert rejected.returncode != 0
    assert "401" in rejected.stderr and cluster.url in rejected.stderr
    assert len(rejected.stderr.splitlines()) == 1, rejected.stderr
    assert_run_hides(rejected, wrong, cluster.token)

    # Port 1 on 127.0.0.1: nothing listens, the connection is refused at once.
    gone = cluster.write_kubeconfig(tmp_path / "unreachable", server="https://127.0.0.1:1")
    unreachable = run("scan", "--kubeconfig", gone, "-v")
    assert unreachable.returncode != 0
    assert "cannot reach" in unreachable.stderr, unreachable.stderr
    assert len(unreachable.stderr.splitlines()) == 1, unreachable.stderr
    assert_run_hides(unreachable, cluster.token)

    # A token in the server URL's user-info part is not echoed either.
    userinfo = cluster.write_kubeconfig(
        tmp_path / "userinfo", server=f"https://admin:{wrong}@127.0.0.1:1")
    with_password = run("scan", "--kubeconfig", userinfo)
    assert with_password.returncode != 0
    assert_run_hides(with_password, wrong, cluster.token)


@pytest.mark.parametrize("plugin", [False, True], ids=["token", "exec"])
def test_apply_output_and_journal_hold_no_token(cluster: KubeAPIServer, tmp_path: Path,
                                                plugin: bool) -> None:
    kubeconfig = (str(_exec_kubeconfig(cluster, tmp_path, cluster.token)) if plugin
                  else cluster.kubeconfig)
    journal = tmp_path / "journal.json"
    dry = run("apply", "30-enroll-tiny", "--kubeconfig", kubeconfig, "--dry-run",
              "--journal", str(journal), "-v")
    assert dry.returncode == 0, dry.stderr
    assert "istio.io/dataplane-mode: ambient" in dry.stdout  # as assess recommends
    assert_run_hides(dry, cluster.token)

    applied = run("apply", "20-mesh-permissive", "--kubeconfig", kubeconfig, "--write", "--yes",
                  "--journal", str(journal))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.endswith("20-mesh-permissive: applied\n")
    assert_run_hides(applied, cluster.token)
    assert cluster.get("peerauthentications.security.istio.io", "default", "istio-system")
    text = journal.read_text(encoding="utf-8")
    json.loads(text)
    assert_hidden(text, cluster.token)
    for leftover in tmp_path.glob("journal.json*"):  # temp files of atomic writes too
        assert_hidden(leftover.read_text(encoding="utf-8"), cluster.token)

    status = run("status", "--kubeconfig", kubeconfig, "--journal", str(journal))
    assert status.returncode == 0, status.stderr
    assert_run_hides(status, cluster.token)
    rollback = run("rollback", "20-mesh-permissive", "--kubeconfig", kubeconfig, "--write",
                   "--yes", "--journal", str(journal))
    assert rollback.returncode == 0, rollback.stderr
    assert_run_hides(rollback, cluster.token)
    assert_hidden(journal.read_text(encoding="utf-8"), cluster.token)


def _cert_kubeconfig(api: KubeAPIServer, path: Path, user: dict[str, Any]) -> str:
    config = json.loads(Path(api.kubeconfig).read_text(encoding="utf-8"))
    config["users"] = [{"name": "test", "user": user}]
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


CERT_PLACEHOLDER = "PLACEHOLDER-CLIENT-CERT-" + "c" * 24
KEY_PLACEHOLDER = "PLACEHOLDER-CLIENT-KEY-" + "k" * 24


@pytest.mark.parametrize("encode", [True, False], ids=["base64", "not-base64"])
def test_client_certificate_data_is_not_echoed(cluster: KubeAPIServer, tmp_path: Path,
                                               encode: bool) -> None:
    def data(text: str) -> str:
        return base64.b64encode(text.encode()).decode() if encode else text

    kubeconfig = _cert_kubeconfig(cluster, tmp_path / "certs", {
        "client-certificate-data": data(CERT_PLACEHOLDER),
        "client-key-data": data(KEY_PLACEHOLDER),
    })
    for args in (("scan", "--kubeconfig", kubeconfig, "-v"),
                 ("apply", "20-mesh-permissive", "--kubeconfig", kubeconfig, "--dry-run",
                  "--journal", str(tmp_path / "j.json"))):
        result = run(*args)
        # The placeholders are no certificate: the run fails or is refused, in one line.
        assert result.returncode != 0, result.stdout
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
        for secret in (CERT_PLACEHOLDER, KEY_PLACEHOLDER, data(CERT_PLACEHOLDER),
                       data(KEY_PLACEHOLDER), data(CERT_PLACEHOLDER)[:24],
                       data(KEY_PLACEHOLDER)[:24]):
            assert secret not in result.stdout + result.stderr, result.stderr
