"""The report's first screen: the figures a decision needs, taken from the report document.

Both the HTML and the Markdown report open with these lines, so the two say the same and say it
before any detail: verdict and score with the one-line reason, the data plane and its cost
against the alternatives, the size of the rollout, blockers by severity, exceptions, what the
graph could not see, and the next action. Every figure is read from the report document (the
JSON report), never computed a second way; the texts are plain (each format escapes them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from planner.domain.findings import Level

#: Severities from the most to the least urgent (``Level`` lists them lowest first).
SEVERITIES = tuple(level.value for level in reversed(Level))


def counted(n: int, word: str, plural: str = "") -> str:
    """``1 namespace``, ``8 namespaces``: a count and its noun in agreement (``plural`` when
    adding an ``s`` does not make it)."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def cost_words(option: Mapping[str, Any]) -> str:
    """``30 proxies, 3.7 vCPU, 6.50 GiB requested``: a cost option's totals (its wire form)."""
    return (f"{counted(option['proxies'], 'proxy', 'proxies')}, "
            f"{option['cpuMillicores'] / 1000:g} vCPU, "
            f"{option['memoryMiB'] / 1024:.2f} GiB requested")


def cost_rows(options: Sequence[Mapping[str, Any]],
              plan_cost: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The cost table's rows: the assessment's options, then the plan's own cost (named
    ``this plan``), which sits among them when labels or namespaces kept outside decide."""
    return [*options, *([{**plan_cost, "name": "this plan"}] if plan_cost else [])]


def cost_notes(assumptions: Sequence[str], plan_cost: Mapping[str, Any] | None) -> list[str]:
    """The assumptions under the cost table, with what ``this plan`` counts when it is there."""
    return [*assumptions, *(["this plan: the mesh the rollout below leaves; labels already "
                             "there, namespaces kept outside, opt-outs and Istio gateways (no "
                             "sidecar) decide, and waypoints count where its ambient namespaces "
                             "need one (the plan does not deploy them)"] if plan_cost else [])]


def dataplane_words(enrolled: Iterable[tuple[str, bool]], selection: str,
                    recommended: str = "as assessed per namespace") -> str:
    """``sidecar in 4 namespaces, ambient in 1 namespace (4 kept as labelled; the rest
    as assessed per namespace)``: what a plan enrolls, from each enrolled namespace's data
    plane and whether its labels enrolled it already. ``selection`` is ``Plan.dataplane``,
    ``recommended`` the words for its default. Labels win over the selection, so a plan "as
    assessed" may keep sidecars where the assessment recommends ambient: the line says how
    many."""
    modes: Counter[str] = Counter()
    already = 0
    for mode, labelled in enrolled:
        modes[mode] += 1
        already += labelled
    if not modes:
        return "none: the plan enrolls no namespace"
    spread = ", ".join(f"{mode} in {counted(n, 'namespace')}"
                       for mode, n in sorted(modes.items()))
    if already == sum(modes.values()):
        return f"{spread} (all kept as labelled)"
    how = {"recommended": recommended, "given": "as given per namespace"}.get(
        selection, f"by --dataplane {selection}")
    return f"{spread} ({f'{already} kept as labelled; the rest ' if already else ''}{how})"


def _dataplane(doc: Mapping[str, Any]) -> str:
    plan = doc["plan"]
    line = dataplane_words(((ns["mode"], ns["already"]) for ns in plan["namespaces"]
                            if ns["mode"] != "outside"), plan["dataplane"])
    cost = plan.get("cost")
    if cost is not None:
        line += f". This plan: {cost_words(cost)}"
    assessment = doc.get("assessment")
    if assessment is None:
        return line
    # The assessment prices its own recommendation and the two uniform choices: the plan's
    # cost differs where labels, opt-outs or namespaces kept outside decide otherwise.
    costs = "; ".join(f"{o['name']}: {cost_words(o)}" for o in assessment["costs"]["options"])
    return f"{line}; as assessed: {costs}"


def blocker_counts(blockers: Sequence[Mapping[str, Any]]) -> tuple[dict[str, int], int]:
    """Blockers that count, by severity (most urgent first, zeros left out), and how many are
    suppressed (kept in the report, not counted)."""
    counted = Counter(b["severity"] for b in blockers if not b.get("suppressed"))
    suppressed = sum(1 for b in blockers if b.get("suppressed"))
    order = [s for s in SEVERITIES if counted[s]] + sorted(set(counted) - set(SEVERITIES))
    return {s: counted[s] for s in order}, suppressed


def unexcepted(blockers: Sequence[Mapping[str, Any]]) -> int:
    """Blockers that count and that no port exception of the plan covers: each needs a fix
    (or a suppression with a reason) before its STRICT step."""
    return sum(1 for b in blockers if not b.get("suppressed") and not b.get("exception"))


def _blockers(blockers: Sequence[Mapping[str, Any]]) -> str:
    counts, suppressed = blocker_counts(blockers)
    if not counts:
        text = "none"
    else:
        text = ", ".join(f"{n} {severity}" for severity, n in counts.items())
        open_ = unexcepted(blockers)
        text += (f"; {sum(counts.values()) - open_} covered by the plan's port exceptions, "
                 f"{open_} to fix before their STRICT step")
    return text + (f" ({suppressed} suppressed, not counted)" if suppressed else "")


def _rollout(steps: Sequence[Mapping[str, Any]]) -> str:
    phases = Counter(step["phase"] for step in steps)
    parts = [f"{phases[p]} {word}" for p, word in (
        ("enroll", "enrollment(s)"), ("exception", "port exception(s)"),
        ("strict", "namespace STRICT step(s)")) if phases[p]]
    unproven = sum(1 for step in steps if step.get("status") == "unproven")
    text = f"{len(steps)} steps" + (f": {', '.join(parts)}" if parts else "")
    if unproven:
        text += (f"; {unproven} STRICT step(s) unproven until observed traffic shows every "
                 "caller")
    return text


def _coverage(doc: Mapping[str, Any]) -> str:
    coverage = doc["graph"]["manifestCoverage"]
    unread = doc["inventory"].get("unreadKinds") or []
    if coverage["share"] is None:
        text = "no application workloads"
    else:
        apps, blind = coverage["applications"], len(coverage["blind"])
        text = (f"{apps - blind} of {apps} application workloads ({coverage['share']:.0%}) "
                f"show their outbound calls in the input; {blind} blind")
    if coverage["dangling"]:
        text += f"; {len(coverage['dangling'])} address(es) name no Service in the input"
    if unread:
        text += f"; not read at all: {', '.join(unread)}"
    return text


def _next(doc: Mapping[str, Any]) -> str:
    plan = doc["plan"]
    fit = plan["fit"]
    if fit and fit["verdict"] == "mesh-overkill" and fit["alternatives"]:
        first = fit["alternatives"][0]
        return (f"a mesh is likely overkill: consider {first['name']} first; the plan below is "
                "there if you proceed")
    steps = plan["steps"]
    if not steps:
        return "nothing to do"
    # `apply` without --dry-run or --write refuses (read-only, exit 8): name the dry run.
    action = (f"planner apply {steps[0]['id']} --dry-run on the same input (manifests: with "
              "--out DIR for the GitOps files), then again with --write to apply")
    open_ = unexcepted(doc["blockers"])
    if open_:
        action += f"; before the STRICT steps, fix the {open_} blocker(s) no exception covers"
    return action


def summary_lines(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(label, text)`` pairs of the report's summary, in reading order."""
    plan = doc["plan"]
    head = doc.get("assessment") or plan["fit"]
    lines: list[tuple[str, str]] = []
    if head is not None:
        reason = plan["fit"]["summary"] if plan["fit"] else ""
        lines.append(("verdict", f"{head['verdict']}, score {head['score']}/100"
                      + (f": {reason}" if reason else "")))
    exceptions = sum(1 for step in plan["steps"] if step["phase"] == "exception")
    lines += [("data plane", _dataplane(doc)),
              ("rollout", _rollout(plan["steps"])),
              ("blockers", _blockers(doc["blockers"])),
              ("exceptions", f"{exceptions} PERMISSIVE port exception step(s) for callers "
                             "that cannot use mutual TLS" if exceptions else "none"),
              ("graph coverage", _coverage(doc)),
              ("next", _next(doc))]
    return lines
