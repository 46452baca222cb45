"""Test data that lives beside the repository, in ``../shared`` (the corpus of third-party
apps, the Istio CRD schemas, real traffic exports).

A fresh clone has no ``../shared``: every test that needs it skips with one reason naming the
missing path. CI sets ``MESHPLAN_REQUIRE_SHARED=1``, which turns those skips into failures, so
no shared test is ever skipped silently there.

Use :func:`require_shared` inside a test or fixture (never at import or collection time, so
that a missing folder cannot break collection), or mark a test ``@pytest.mark.shared("corpus")``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
REQUIRE_ENV = "MESHPLAN_REQUIRE_SHARED"

#: The corpus's cases, named here so that parametrizing over them never reads ../shared at
#: collection time; tests/test_shared_data.py checks the list against the folder.
CORPUS_CASES = ("bookinfo", "kiali-travels", "online-boutique", "otel-demo", "robot-shop",
                "sock-shop", "sock-shop-multi-namespace")


def shared_path(*parts: str) -> Path:
    """The path of ``../shared/<parts>``; it may not exist."""
    return SHARED.joinpath(*parts)


def require_shared(*parts: str) -> Path:
    """``../shared/<parts>``, or skip the calling test when it is absent (fail when
    ``MESHPLAN_REQUIRE_SHARED`` is set)."""
    path = shared_path(*parts)
    if not path.exists():
        reason = f"../shared/{'/'.join(parts)} not present (extra test data, see README)"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{reason}; {REQUIRE_ENV} is set", pytrace=False)
        pytest.skip(reason)
    return path


def corpus(*parts: str) -> Path:
    """``../shared/corpus/<parts>`` (a case or a file in one); skips as :func:`require_shared`."""
    return require_shared("corpus", *parts)
