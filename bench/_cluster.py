"""Shared set-up for the benchmarks: a generated 10,000-service cluster, cached per run."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "sample_clusters"))

import generate  # noqa: E402  (sample_clusters/generate.py)

NAMESPACES = 100
SERVICES_PER_NAMESPACE = 100


@contextmanager
def generated_cluster(fmt: str = "yaml", namespaces: int = NAMESPACES,
                      services: int = SERVICES_PER_NAMESPACE) -> Iterator[Path]:
    """A temporary generated cluster; yields its manifests folder."""
    with tempfile.TemporaryDirectory(prefix="meshplan-bench-") as tmp:
        generate.generate(namespaces, services, seed=7, out=Path(tmp), fmt=fmt)
        yield Path(tmp) / "manifests"


def best_of_each(runs: int, *funcs: Callable[[], Any]) -> list[float]:
    """The fastest timing of each function over ``runs`` rounds, the functions taking turns
    within a round: a load that comes and goes then weighs on both sides of a ratio alike."""
    best = [float("inf")] * len(funcs)
    for _ in range(runs):
        for i, func in enumerate(funcs):
            start = time.perf_counter()
            func()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def best_of(runs: int, func: Callable[[], Any]) -> float:
    """The fastest of ``runs`` timings in seconds: the least disturbed by a noisy machine."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best
