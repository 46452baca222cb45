"""Process exit codes, one table for every command (documented in docs/exit-codes.md)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes. "Findings" codes are distinct from tool errors so CI can tell them apart."""

    OK = 0
    #: An unexpected internal error (a bug); the message says where to report it.
    INTERNAL = 1
    #: Bad command line (Click's own code).
    USAGE = 2
    #: Some input documents were invalid and skipped; the rest was processed.
    INVALID_INPUT = 3
    #: Input could not be read at all (no usable document, unreadable path, --strict failure).
    INPUT_ERROR = 4
    #: The Kubernetes API server could not be reached or read.
    CLUSTER_ERROR = 5
    #: Prometheus or a traffic export could not be read.
    METRICS_ERROR = 6
    #: Applying or rolling back a step failed.
    APPLY_ERROR = 7
    #: A mutating command was run without --write.
    READ_ONLY = 8
    #: Findings at or above --fail-on were reported (like istioctl's 79); `what-if`: a call
    #: would break.
    FINDINGS = 10
    #: A verification gate failed (`planner verify`, or apply refused by a gate).
    GATE_FAILED = 11
    #: An outcome read back from the cluster is not reached (`planner verify`, the
    #: prerequisites of `apply 10-prereq`, an enrollment's rollouts).
    NOT_READY = 12
    #: A live scan could not read some kinds (403): the output covers the rest and names them.
    PARTIAL = 13
