"""A throw-away TLS certificate for the test server.

kubectl (client-go) sends a bearer token only over HTTPS: with an ``http://`` server it drops
the user's credentials and the server answers 401. So the server speaks TLS whenever it can
make a certificate. The ``cryptography`` package is not a dependency, so the certificate comes
from the ``openssl`` command-line tool when it is on PATH; without it the server falls back to
plain HTTP (fine for the Python client, which does send the token).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def openssl_available() -> bool:
    """Whether a certificate can be made here."""
    return shutil.which("openssl") is not None


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for IP 127.0.0.1 (valid two days; it is its own CA, so
    the kubeconfig can trust it through ``certificate-authority-data``) and its key."""
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=meshplan-kubeapi-test", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
