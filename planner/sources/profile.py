"""The fit profile from a YAML file (``--profile FILE``) plus flag answers.

Contract: :func:`load_profile` returns a :class:`~planner.domain.profile.Profile` and raises only
:class:`~planner.errors.InputError`, with one line naming the file and, for a bad value, the
field (``profile.yaml: costs.sidecar.memory: not a memory quantity ...``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from planner.domain.profile import Profile, ProfileError, parse_profile
from planner.errors import InputError

MAX_PROFILE_BYTES: Final = 1024 * 1024
"""A profile is a few lines; anything bigger is the wrong file."""

def load_profile(path: str | None, overrides: Mapping[str, Any]) -> Profile:
    """Read ``path`` (or nothing when ``None``) and apply the flag ``overrides``."""
    if path is None:
        try:
            return parse_profile({}, overrides)
        except ProfileError as err:
            raise InputError(f"profile flags: {err}") from None
    # Imported here: most runs have no profile file, and PyYAML's import is ~10 ms of them.
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        if os.path.getsize(path) > MAX_PROFILE_BYTES:
            raise InputError(f"{path}: profile larger than {MAX_PROFILE_BYTES} bytes")
        with open(path, "rb") as handle:
            data = yaml.load(handle, Loader=loader)
    except OSError as err:
        raise InputError(f"{path}: cannot read profile: {err.strerror or err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"{path}: not valid YAML{where}") from None
    except (ValueError, TypeError, RecursionError) as err:
        raise InputError(f"{path}: unusable YAML value: {err}") from None
    try:
        return parse_profile(data, overrides, origin=os.path.basename(path))
    except ProfileError as err:
        raise InputError(f"{path}: {err}") from None
