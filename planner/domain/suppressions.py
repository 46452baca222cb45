"""Suppressed findings: accepted risks, kept and marked, never dropped.

Three sources, each with a reason (docs/report.md, "Suppressions"):

* the annotation ``meshplan.io/ignore: "MP205,MP207"`` on an object, with
  ``meshplan.io/ignore-reason``; on a Namespace it covers the findings about that namespace;
* ``--ignore CODE[:KIND/NS/NAME]`` on the command line (repeatable);
* the same entries under ``ignore:`` in the profile file, with an optional ``reason``.

A suppression matches a finding by code and, when it names an object, by the finding's subject
or any object it involves. A suppressed finding stays in every output with where the
suppression came from; ``--fail-on`` does not count it. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from planner.domain.inventory import Inventory
from planner.domain.value import value_class

IGNORE_ANNOTATION: Final = "meshplan.io/ignore"
REASON_ANNOTATION: Final = "meshplan.io/ignore-reason"
_CODE: Final = re.compile(r"^MP\d{3}$")

#: Where a suppression came from: an annotation in the input (SARIF ``inSource``), or the
#: command line or profile (SARIF ``external``).
ANNOTATION, FLAG, PROFILE = "annotation", "flag", "profile"


@value_class(order=True)
class Suppression:
    """One accepted risk: findings of ``code`` (about ``target``, a ``Kind/ns/name`` key or a
    namespace for ``Namespace/<name>``; every object when empty), with the reason, and
    ``kind`` and ``origin`` saying where it was declared."""

    code: str
    target: str
    reason: str
    kind: str
    origin: str


class SuppressionError(ValueError):
    """An ``--ignore`` or profile entry that cannot be used; the message says why."""


def parse_ignore(text: str, *, kind: str, origin: str, reason: str = "") -> Suppression:
    """``CODE`` or ``CODE:KIND/NS/NAME`` (``KIND/NAME`` for cluster-scoped objects).

    Raises :class:`SuppressionError` for a code that is not ``MPnnn`` or a malformed target."""
    code, _, target = text.strip().partition(":")
    code = code.strip().upper()
    if not _CODE.match(code):
        raise SuppressionError(f"{text!r}: expected CODE[:KIND/NAMESPACE/NAME] with a code "
                               "like MP205")
    target = target.strip()
    if target and (target.count("/") not in (1, 2) or not all(target.split("/"))):
        raise SuppressionError(f"{text!r}: the object must be KIND/NAMESPACE/NAME (or "
                               "KIND/NAME when cluster-scoped)")
    return Suppression(code, target, reason or "no reason given", kind, origin)


def annotation_suppressions(inventory: Inventory) -> list[Suppression]:
    """Suppressions declared by ``meshplan.io/ignore`` annotations on objects of the input."""
    found: list[Suppression] = []
    annotated: list[tuple[str, Mapping[str, str]]] = [
        (f"Namespace/{ns.name}", ns.annotations) for ns in inventory.namespaces]
    for group in (inventory.workloads, inventory.services, inventory.istio,
                  inventory.network_policies, inventory.gateways, inventory.monitors):
        annotated.extend((obj.ref.key, obj.annotations) for obj in group)
    for key, notes in annotated:
        codes = notes.get(IGNORE_ANNOTATION)
        if not codes:
            continue
        reason = notes.get(REASON_ANNOTATION, "").strip() or \
            f"no reason given ({REASON_ANNOTATION} not set)"
        for code in codes.split(","):
            if code.strip():
                found.append(Suppression(code.strip().upper(), key, reason, ANNOTATION,
                                         f"{IGNORE_ANNOTATION} on {key}"))
    return sorted(found)


def _covers(suppression: Suppression, code: str, namespace: str,
            objects: Iterable[str]) -> bool:
    if suppression.code != code:
        return False
    target = suppression.target
    if not target:
        return True
    if target.startswith("Namespace/"):
        ns = target.removeprefix("Namespace/")
        return namespace == ns or any(o.split("/")[1:2] == [ns] and o.count("/") == 2
                                      for o in objects)
    return target in objects


def match(suppressions: Sequence[Suppression], code: str, namespace: str,
          objects: Iterable[str]) -> Suppression | None:
    """The first suppression (annotation, then flag, then profile) covering a finding of
    ``code`` about ``objects`` (subject first) in ``namespace``, or None."""
    keys = tuple(objects)
    order = {ANNOTATION: 0, FLAG: 1, PROFILE: 2}
    for suppression in sorted(suppressions, key=lambda s: (order.get(s.kind, 3), s)):
        if _covers(suppression, code, namespace, keys):
            return suppression
    return None
