"""Every way a Prometheus can fail becomes one MetricsError line naming the URL."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from planner.errors import MetricsError
from planner.sources.prometheus import (
    TOKEN_ENV,
    PrometheusClient,
    fetch_traffic,
    resolve_bearer_token,
)

Reply = tuple[int, str]  # status, body


class _Server:
    """A stdlib HTTP server on 127.0.0.1 answering every query with ``reply``."""

    def __init__(self, reply: Callable[[], Reply], delay_s: float = 0.0) -> None:
        self.requests: list[dict[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                outer.requests.append(dict(self.headers))
                time.sleep(delay_s)
                status, body = reply()
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., _Server]]:
    servers: list[_Server] = []

    def start(status: int, body: str | dict[str, object], delay_s: float = 0.0) -> _Server:
        text = body if isinstance(body, str) else json.dumps(body)
        server = _Server(lambda: (status, text), delay_s).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


def _error(url: str, **kw: object) -> str:
    with pytest.raises(MetricsError) as info:
        fetch_traffic(url, **kw)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert url.replace("http://u:secret@", "http://") in message
    return message


def _vector(result: list[object]) -> dict[str, object]:
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert "connection refused" in _error(f"http://127.0.0.1:{port}")


def test_timeout(serve: Callable[..., _Server]) -> None:
    server = serve(200, _vector([]), delay_s=2.0)
    started = time.monotonic()
    assert "timed out after 0.3s" in _error(server.url, timeout_s=0.3)
    assert time.monotonic() - started < 1.5


def test_http_400_with_prometheus_error(serve: Callable[..., _Server]) -> None:
    server = serve(400, {"status": "error", "errorType": "bad_data",
                         "error": "1:2: parse error: unexpected"})
    message = _error(server.url)
    assert "HTTP 400" in message and "bad_data: 1:2: parse error: unexpected" in message


def test_http_503_plain_text(serve: Callable[..., _Server]) -> None:
    server = serve(503, "upstream\nconnect error")
    assert "HTTP 503 Service Unavailable: upstream connect error" in _error(server.url)


def test_malformed_json(serve: Callable[..., _Server]) -> None:
    assert "malformed JSON" in _error(serve(200, "{not json").url)


def test_status_error(serve: Callable[..., _Server]) -> None:
    server = serve(200, {"status": "error", "error": "query timed out in expression evaluation"})
    assert "query timed out in expression evaluation" in _error(server.url)


def test_wrong_result_type(serve: Callable[..., _Server]) -> None:
    server = serve(200, {"status": "success", "data": {"resultType": "matrix", "result": []}})
    assert "expected resultType 'vector', got 'matrix'" in _error(server.url)


def test_bad_sample_value(serve: Callable[..., _Server]) -> None:
    server = serve(200, _vector([{"metric": {}, "value": [1, "NaN"]}]))
    assert "not a count" in _error(server.url)


def test_bearer_token_sent_and_two_requests(serve: Callable[..., _Server]) -> None:
    server = serve(200, _vector([]))
    client = PrometheusClient(server.url + "/", bearer_token="s3cret")
    snap = client.fetch_traffic()
    assert client.request_count == len(server.requests) == 2
    assert all(r["Authorization"] == "Bearer s3cret" for r in server.requests)
    assert not snap.has_data


def test_url_credentials_become_basic_auth_and_stay_out_of_messages(
        serve: Callable[..., _Server]) -> None:
    server = serve(500, {"status": "error", "error": "boom"})
    url = server.url.replace("http://", "http://u:secret@")
    message = _error(url)
    assert "secret" not in message
    assert server.requests[0]["Authorization"].startswith("Basic ")


def test_resolve_bearer_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert resolve_bearer_token(str(token_file), {TOKEN_ENV: "from-env"}) == "from-file"
    assert resolve_bearer_token(None, {TOKEN_ENV: " from-env "}) == "from-env"
    assert resolve_bearer_token(None, {}) is None
    with pytest.raises(MetricsError, match="cannot read the Prometheus token file"):
        resolve_bearer_token(str(tmp_path / "missing"), {})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(MetricsError, match="token file is empty"):
        resolve_bearer_token(str(tmp_path / "empty"), {})


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(MetricsError, match="not an http"):
        fetch_traffic("ftp://127.0.0.1:1")
    with pytest.raises(MetricsError, match="invalid window"):
        fetch_traffic("http://127.0.0.1:1", window="7 days")
    with pytest.raises(MetricsError, match="invalid namespace"):
        fetch_traffic("http://127.0.0.1:1", namespaces=['a"b'])
    with pytest.raises(MetricsError, match="cannot load CA file"):
        fetch_traffic("https://127.0.0.1:1", ca_file=str(tmp_path / "missing-ca.pem"))


def _tls_server(tmp_path: Path, serve: Callable[..., _Server]) -> tuple[_Server, str]:
    """A TLS server for 127.0.0.1 with a certificate from a throw-away CA (needs openssl)."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "1", "-subj", "/CN=meshplan test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=127.0.0.1")
    (tmp_path / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "1", "-extfile", "ext.cnf")
    server = serve(200, _vector([]))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "srv.pem", tmp_path / "srv.key")
    server.httpd.socket = ctx.wrap_socket(server.httpd.socket, server_side=True)
    return server, str(tmp_path / "ca.pem")


def test_custom_ca(tmp_path: Path, serve: Callable[..., _Server]) -> None:
    server, ca = _tls_server(tmp_path, serve)
    url = server.url.replace("http://", "https://")
    assert not fetch_traffic(url, ca_file=ca).has_data
    assert "TLS certificate not trusted" in _error(url)
    assert not fetch_traffic(url, insecure=True).has_data
