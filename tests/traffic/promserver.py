"""A real, throw-away Prometheus loaded with Istio metrics for known edges.

How it works: ground-truth edges are written as OpenMetrics counter samples (one sample per
``step_s`` over the last ``span_s`` seconds, timestamps relative to now, ending with
``# EOF``), turned into TSDB blocks by ``promtool tsdb create-blocks-from openmetrics``, and
served by ``prometheus`` on a free 127.0.0.1 port. Used by the traffic tests (pytest
fixtures below) and by ``bench/traffic.py`` (the :class:`PromServer` context manager).

What ``increase(...[7d])`` returns for these series: every counter starts at 0 at
``now - span_s`` and rises linearly to its ground-truth value at ``now``. Prometheus
extrapolates ``increase`` to the window edges: not before the first sample (a counter that
starts at 0 cannot be extrapolated below zero), and at most ~1.1 sample intervals past the
last one (the time between writing the data and querying it). So a query result ``r`` for a
true count ``t`` satisfies ``t <= r <= t * (1 + 1.1 * step_s / span_s)``, about +0.9 % for
the defaults; mTLS shares are exact because both series of an edge are scaled alike.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

METRIC_BY_PROTOCOL = {"http": "istio_requests", "tcp": "istio_tcp_connections_opened"}
"""OpenMetrics family names; the samples carry the ``_total`` suffix."""


class EdgeLike(Protocol):
    """What a ground-truth row needs (``planner.domain.traffic.ObservedEdge`` fits)."""

    @property
    def source_namespace(self) -> str: ...
    @property
    def source_workload(self) -> str: ...
    @property
    def destination_namespace(self) -> str: ...
    @property
    def destination_service(self) -> str: ...
    @property
    def destination_workload(self) -> str: ...
    @property
    def protocol(self) -> str: ...
    @property
    def total(self) -> float: ...
    @property
    def mtls(self) -> float: ...


class PrometheusUnavailable(RuntimeError):
    """promtool or prometheus is not installed."""


def tolerance(step_s: int, span_s: int) -> float:
    """Upper relative error of ``increase`` for series written by :func:`write_openmetrics`."""
    return 1.1 * step_s / span_s + 1e-9


def _labels(pairs: dict[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return ",".join(f'{k}="{esc(v)}"' for k, v in pairs.items())


def _series(edge: EdgeLike) -> Iterator[tuple[str, dict[str, str], float]]:
    """(family, labels, final value) rows for one edge, as Istio's proxies would export them.

    Besides the destination-reported series (split over two response codes so the query's
    ``sum by`` has something to add up), every edge also gets a ``reporter="source"`` series
    with ``connection_security_policy="unknown"`` — what the client side really reports; the
    planner must ignore it or it would count every call twice.
    """
    family = METRIC_BY_PROTOCOL[edge.protocol]
    base = {
        "source_workload": edge.source_workload,
        "source_workload_namespace": edge.source_namespace,
        "source_principal": "unknown" if edge.source_workload == "unknown" else
        f"spiffe://cluster.local/ns/{edge.source_namespace}/sa/{edge.source_workload}",
        "destination_service": f"{edge.destination_service}.{edge.destination_namespace}"
        ".svc.cluster.local",
        "destination_service_name": edge.destination_service,
        "destination_service_namespace": edge.destination_namespace,
        "destination_workload": edge.destination_workload,
        "destination_workload_namespace": edge.destination_namespace,
    }
    parts = [("none", edge.total - edge.mtls), ("mutual_tls", edge.mtls)]
    for policy, value in parts:
        if value <= 0 and not (edge.total == 0 and policy == "none"):
            continue
        labels = {**base, "reporter": "destination", "connection_security_policy": policy}
        if edge.protocol == "http":
            # 3/4 as 200 and 1/4 as 503: two series the server side must add up.
            yield family, {**labels, "response_code": "200"}, value * 0.75
            yield family, {**labels, "response_code": "503"}, value * 0.25
        else:
            yield family, labels, value
    src = {**base, "reporter": "source", "connection_security_policy": "unknown"}
    if edge.protocol == "http":
        src["response_code"] = "200"
    yield family, src, edge.total


#: A raw counter series: (family, labels, [(unix time, value), ...]). Times may lie in the
#: future: Prometheus answers with them once they have passed, which lets a test make a
#: counter change its pace after a moment it chooses (an apply, say).
RawSeries = tuple[str, dict[str, str], list[tuple[float, float]]]


def write_openmetrics(path: Path, edges: Iterable[EdgeLike], *, now: float,
                      span_s: int = 7200, step_s: int = 60,
                      idle_value: float = 5.0, raw: Iterable[RawSeries] = ()) -> int:
    """Write counter samples for ``edges`` (and the ``raw`` series) to ``path``; return the
    number of series.

    A series whose final value is 0 is written as a constant ``idle_value`` (a counter that
    exists but did not move in the window: ``increase`` is exactly 0).
    """
    steps = span_s // step_s
    times = [now - span_s + i * step_s for i in range(steps + 1)]
    rows_by_family: dict[str, list[tuple[dict[str, str], list[tuple[float, float]]]]] = {}
    for edge in edges:
        for family, labels, value in _series(edge):
            samples = [(t, idle_value if value == 0 else value * i / steps)
                       for i, t in enumerate(times)]
            rows_by_family.setdefault(family, []).append((labels, samples))
    for family, labels, samples in raw:
        rows_by_family.setdefault(family, []).append((labels, samples))
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for family, rows in rows_by_family.items():
            fh.write(f"# TYPE {family} counter\n")
            for labels, samples in rows:
                count += 1
                text = _labels(labels)
                for t, v in samples:
                    fh.write(f"{family}_total{{{text}}} {v:.6f} {t:.3f}\n")
        fh.write("# EOF\n")
    return count


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def binaries() -> tuple[str, str]:
    """Paths of promtool and prometheus, or :class:`PrometheusUnavailable`."""
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    if not promtool or not prometheus:
        raise PrometheusUnavailable(
            "promtool/prometheus not installed (run .ci/install-prometheus.sh)")
    return promtool, prometheus


@dataclass
class PromServer:
    """A Prometheus serving ``edges``; use as a context manager, read ``url`` inside.

    ``edges=None``/empty starts a Prometheus with no data at all.
    """

    edges: list[EdgeLike] | None = None
    raw: list[RawSeries] | None = None
    span_s: int = 7200
    step_s: int = 60
    ready_timeout_s: float = 120.0
    url: str = ""
    series: int = 0
    workdir: Path | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> PromServer:
        promtool, prometheus = binaries()
        self._tmp = tempfile.TemporaryDirectory(prefix="meshplan-prom-")
        work = self.workdir = Path(self._tmp.name)
        data = work / "data"
        data.mkdir()
        if self.edges or self.raw:
            om = work / "istio.om.txt"
            self.series = write_openmetrics(om, self.edges or [], now=time.time(),
                                            span_s=self.span_s, step_s=self.step_s,
                                            raw=self.raw or [])
            subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q",
                            str(om), str(data)], check=True, capture_output=True)
            om.unlink()  # the blocks hold it now; the text file can be large for the bench
        config = work / "prometheus.yml"
        # No scrape jobs: the data is all backfilled, and scraping itself would add series.
        config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
        for _attempt in range(3):  # the free port can be taken between probe and bind
            port = _free_port()
            log = (work / "prometheus.log").open("wb")
            self._proc = subprocess.Popen(
                [prometheus, f"--config.file={config}", f"--storage.tsdb.path={data}",
                 f"--web.listen-address=127.0.0.1:{port}",
                 "--storage.tsdb.retention.time=30d"],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready():
                return self
            self._stop()
        log_text = (work / "prometheus.log").read_text(errors="replace")[-2000:]
        self.__exit__(None, None, None)
        raise RuntimeError(f"prometheus did not become ready:\n{log_text}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        return False

    def _stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def require_prometheus() -> None:
    """Skip the calling test when Prometheus is missing — but fail in CI (``$CI`` set)."""
    import pytest

    try:
        binaries()
    except PrometheusUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc}; CI must run the real-Prometheus tests")
        pytest.skip(str(exc))
