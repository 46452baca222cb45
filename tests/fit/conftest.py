"""Helpers for the fit tests: paths and an assessment of manifests with an optional profile."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.domain.fit import Assessment
from planner.service import ManifestInput, analyse, assess

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_clusters"


def assessment_of(*paths: Path, profile: Path | None = None,
                  overrides: Mapping[str, Any] | None = None,
                  namespace: str = "default") -> Assessment:
    """Assess manifests (recursively) as ``planner assess -f ... -R`` would."""
    spec = ManifestInput(tuple(str(p) for p in paths), recursive=True, namespace=namespace)
    analysis = analyse(spec, profile_path=str(profile) if profile else None,
                       profile_overrides=overrides)
    return assess(analysis)


def write(path: Path, text: str) -> Path:
    """Write a manifest or profile for one test."""
    path.write_text(text, encoding="utf-8")
    return path
