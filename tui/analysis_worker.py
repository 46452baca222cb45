"""The analysis worker's work: scan, read the observed traffic, build and gate the plan, then
assess, posting each result as a message. The app runs these functions in its thread workers;
domain work happens only in :mod:`planner.service`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import perf_counter

from tui import collector
from tui.messages import Analysed, Assessed, Post, WorkProgress
from tui.options import Answers, TuiOptions


def scan_progress(post: Post, label: str) -> Callable[[int, int, str], None]:
    """A scan's progress, posted as ``label: what`` with done and total."""

    def progress(done: int, total: int, what: str = "") -> None:
        post(WorkProgress(f"{label}: {what}" if what else label, done, total))

    return progress


def analyse_and_plan(options: TuiOptions, overrides: Answers, post: Post,
                     shown: threading.Event) -> None:
    """Scan, read the observed traffic, build and gate the plan, then assess (once ``shown``
    says the scan is on screen)."""
    from planner import service

    start = perf_counter()
    post(WorkProgress("scanning"))
    plan_options = service.PlanOptions(root_namespace=options.root_namespace,
                                       dataplane=options.dataplane,
                                       profile_path=options.profile_path,
                                       authz=options.authz, answers=overrides)
    # The session keeps what this builds (collector: tui.collector). The plan opens with the
    # verdict and follows the assessment's data plane, so the assessment cannot wait for the
    # first paint.
    with collector.building():
        rollout = service.run_pipeline(
            options.spec, plan_options, traffic=options.traffic, traffic_optional=True,
            progress=scan_progress(post, "scanning"),
            stage=lambda name: post(WorkProgress(name)))
        # Without traffic, every gate reads "unknown" (no proof either way), with why.
        gates = rollout.step_gates()
        analysis = rollout.analysis
        namespaces = {r.namespace: r for r in service.namespace_report(analysis)}
    # An unreachable Prometheus must not hide the manifests' analysis: it is shown, with
    # why the traffic is missing (traffic_error), and every gate reads "unknown".
    post(Analysed(analysis, rollout.gated, perf_counter() - start, rollout.plan,
                  gates, namespaces, rollout.traffic_error))
    shown.wait(timeout=30)
    post(Assessed(rollout.assessment, analysis, overrides))
    post(WorkProgress(""))
