"""The planner's error tree. Every failure a user can cause is one of these.

    PlannerError                 base; the CLI prints ``str(err)`` as one line
    ├── InputError               a manifest, profile or export file is unusable
    │   └── NoUsableInput        every document of the input was invalid
    ├── ClusterError             the Kubernetes API could not be read
    │   └── ClusterTimeout       one request timed out (a scan goes on without that kind)
    ├── MetricsError             Prometheus or a traffic export could not be read
    └── ApplyError               a plan step could not be applied or rolled back
        ├── ReadOnlyError        a mutating action without ``--write``
        ├── GateRefused          a precondition gate (plaintext traffic) refused a step
        └── OutcomeNotReached    the cluster is not in the state the step needs or promises
                                 (Istio missing, a rollout that failed, pods without sidecar)

The CLI maps each class to one code of :class:`planner.exit_codes.ExitCode`.
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base of all errors the planner reports to users as one line."""


class InputError(PlannerError):
    """A file or document given to the planner cannot be used."""


class NoUsableInput(InputError):
    """Every document of the input was invalid: nothing is left to work on (exit 4, not the
    3 of a partial input, and no output). ``details`` holds one diagnostic line per document,
    which the CLI prints before the error."""

    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.details = details


class ClusterError(PlannerError):
    """The Kubernetes API server could not be reached or read."""


class NoKubeconfig(ClusterError):
    """No kubeconfig exists where one was looked for (``paths``) and the process does not run
    inside a cluster: nothing names a cluster to read."""

    def __init__(self, message: str, paths: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.paths = paths


class ClusterTimeout(ClusterError):
    """The API server did not answer one request in time (no answer within the timeout, or
    504 until the retries gave up): a scan records the kind as unread and goes on."""


class MetricsError(PlannerError):
    """Observed-traffic data (Prometheus or an export) could not be read."""


class ApplyError(PlannerError):
    """A plan step could not be applied, verified or rolled back."""


class ReadOnlyError(ApplyError):
    """A mutating action was asked for without ``--write``."""


class GateRefused(ApplyError):
    """A precondition gate (Prometheus plaintext check) refused the step."""


class OutcomeNotReached(ApplyError):
    """The cluster, read live, is not in the state a step needs or promises: Istio's control
    plane missing before ``10-prereq``, a rollout that failed or timed out, pods that came
    back without the data plane they were enrolled to."""
