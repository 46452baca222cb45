"""Fixtures for the traffic tests: ground-truth edges and real Prometheus servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from planner.domain.traffic import UNKNOWN, ObservedEdge

from .promserver import PromServer, require_prometheus


def _e(src: str, dst: str, svc: str, protocol: str, total: float, mtls: float) -> ObservedEdge:
    src_ns, src_wl = src.split("/")
    dst_ns, dst_wl = dst.split("/")
    return ObservedEdge(src_ns, src_wl, dst_ns, svc, dst_wl, protocol, total, mtls)


GROUND_TRUTH: tuple[ObservedEdge, ...] = (
    # shop: mixed — mTLS-only, mixed and one sidecar-less ("unknown") caller.
    _e("shop/frontend", "shop/cart", "cart", "http", 1200, 1200),
    _e("shop/frontend", "shop/catalog", "catalog", "http", 900, 600),
    _e(f"{UNKNOWN}/{UNKNOWN}", "shop/catalog", "catalog", "http", 420, 0),
    # payments: mTLS only, HTTP and TCP.
    _e("shop/checkout", "payments/gateway", "gateway", "http", 600, 600),
    _e("payments/gateway", "payments/ledger", "ledger", "tcp", 24, 24),
    # billing: a weekly batch job still in plaintext next to an mTLS caller.
    _e("batch/report-job", "billing/invoices", "invoices", "http", 240, 0),
    _e("shop/checkout", "billing/invoices", "invoices", "http", 480, 480),
    # data: TCP only, mTLS / plaintext / mixed callers.
    _e("shop/cart", "data/redis", "redis", "tcp", 60, 60),
    _e("billing/invoices", "data/postgres", "postgres", "tcp", 36, 0),
    _e("legacy/cron", "data/postgres", "postgres", "tcp", 48, 12),
    # legacy: plaintext only, TCP from outside the mesh.
    _e(f"{UNKNOWN}/{UNKNOWN}", "legacy/ftp", "ftp", "tcp", 30, 0),
    # idle: a series that exists but did not move in the window.
    _e("monitoring/prober", "idle/echo", "echo", "http", 0, 0),
)


@pytest.fixture(scope="session")
def prom_url() -> Iterator[str]:
    """A real Prometheus holding GROUND_TRUTH as Istio metrics over the last 2 hours."""
    require_prometheus()
    with PromServer(list(GROUND_TRUTH)) as server:
        yield server.url


@pytest.fixture(scope="session")
def empty_prom_url() -> Iterator[str]:
    """A real Prometheus with no series at all (the wrong Prometheus, or Istio not scraped)."""
    require_prometheus()
    with PromServer(None) as server:
        yield server.url
