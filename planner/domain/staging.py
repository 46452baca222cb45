"""Staged restarts: an enrollment restarts its workloads a batch at a time and waits for each
batch to roll out before the next, so a broken injector or a crash-looping image stops the
step after a few workloads instead of all of them.

Pure helpers: the batch size (``25%`` of the step's restarts rounded up, or a count), the
stages of a step's writes (each non-restart write alone, consecutive restarts in batches),
and the rollout timeout as a duration (``90s``, ``5m``, ``1h30m``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Final

#: A small share of the namespace at a time, as the issue and Istio's upgrade guides suggest.
DEFAULT_BATCH: Final = "25%"
#: How long one batch may take to roll out; kubectl's Deployment progress deadline is 600 s.
DEFAULT_ROLLOUT_TIMEOUT: Final = "5m"
#: How long the post-apply check of a STRICT step waits for Istio to push the policy to the
#: proxies before it re-reads the traffic (``--settle`` of ``planner apply`` and ``planner tui``).
DEFAULT_SETTLE: Final = "60s"

_BATCH_RE: Final = re.compile(r"^([1-9][0-9]*)(%?)$")
_DURATION_RE: Final = re.compile(r"^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")


def parse_batch(spec: str) -> str:
    """Return ``spec`` if it is a batch size (``N`` workloads or ``P%`` with 1 <= P <= 100),
    else ValueError naming what is expected."""
    match = _BATCH_RE.match(spec.strip())
    if match is None or (match.group(2) and int(match.group(1)) > 100):
        raise ValueError(f"invalid batch {spec!r}: expected a number of workloads (3) or a "
                         "share of them (25%, at most 100%)")
    return spec.strip()


def batch_size(spec: str, total: int) -> int:
    """How many of ``total`` restarts go in one batch: ``P%`` rounded up, or ``N``; at least
    one."""
    match = _BATCH_RE.match(parse_batch(spec))
    assert match is not None  # parse_batch raised otherwise
    number = int(match.group(1))
    size = math.ceil(total * number / 100) if match.group(2) else number
    return max(1, min(size, max(total, 1)))


def stages(restarts: Sequence[bool], spec: str) -> list[list[int]]:
    """The write indices in the order they are done, in stages: each write that is not a
    restart alone, runs of restarts (``restarts[i]`` True) cut into batches of
    :func:`batch_size` of all the step's restarts."""
    size = batch_size(spec, sum(restarts))
    result: list[list[int]] = []
    for index, restart in enumerate(restarts):
        last = result[-1] if result else None
        if restart and last is not None and restarts[last[0]] and len(last) < size:
            last.append(index)
        else:
            result.append([index])
    return result


def parse_duration(text: str) -> float:
    """Seconds of a duration: ``300``, ``90s``, ``5m``, ``1h30m``. ValueError when it is not
    one, or is zero."""
    value = text.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        match = _DURATION_RE.match(value)
        if match is None or not any(match.groups()):
            raise ValueError(f"invalid duration {text!r}: expected seconds or a duration "
                             "like 90s, 5m or 1h30m")
        hours, minutes, secs = (int(g or 0) for g in match.groups())
        seconds = float(hours * 3600 + minutes * 60 + secs)
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be more than zero")
    return seconds
