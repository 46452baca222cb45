"""Label selectors as the API server parses them (``labelSelector`` query parameter).

Supports the set-based grammar of apimachinery's ``labels.Parse``: ``k=v``, ``k==v``, ``k!=v``,
``k in (a,b)``, ``k notin (a,b)``, ``k`` (exists) and ``!k`` (does not exist), joined by commas.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Requirement = Callable[[Mapping[str, str]], bool]

_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_KEY_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$")


class SelectorError(ValueError):
    """The selector does not parse; the server answers 400 BadRequest."""


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside a ``( )`` value set."""
    terms: list[str] = []
    depth = 0
    current = ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def _key(raw: str) -> str:
    key = raw.strip()
    if not _KEY_RE.match(key):
        raise SelectorError(f"invalid label key {key!r}")
    return key


def _requirement(term: str) -> Requirement:
    match = _SET_RE.match(term)
    if match:
        key, op, raw_values = match.group(1), match.group(2), match.group(3)
        values = {v.strip() for v in raw_values.split(",") if v.strip()}
        _key(key)
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if "!=" in term:
        key, value = (part.strip() for part in term.split("!=", 1))
        _key(key)
        return lambda labels: labels.get(key) != value
    if "=" in term:
        key, value = (part.strip() for part in re.split(r"==?", term, maxsplit=1))
        _key(key)
        return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        key = _key(term[1:])
        return lambda labels: key not in labels
    key = _key(term)
    return lambda labels: key in labels


def parse_selector(selector: str) -> Requirement:
    """Compile ``selector`` into a predicate on a label mapping; raises :class:`SelectorError`."""
    requirements = [_requirement(term) for term in _split_terms(selector)]
    return lambda labels: all(req(labels) for req in requirements)


def parse_field_selector(selector: str) -> Callable[[Mapping[str, object]], bool]:
    """Compile the small subset of field selectors clients use: ``metadata.name`` and
    ``metadata.namespace`` with ``=``, ``==`` or ``!=``."""
    checks: list[Callable[[Mapping[str, object]], bool]] = []
    for term in _split_terms(selector):
        negate = "!=" in term
        field, value = (p.strip() for p in re.split(r"!=|==?", term, maxsplit=1))
        if field not in ("metadata.name", "metadata.namespace"):
            raise SelectorError(f'field label not supported: "{field}"')
        attr = field.split(".", 1)[1]

        def check(meta: Mapping[str, object], attr: str = attr, value: str = value,
                  negate: bool = negate) -> bool:
            return (meta.get(attr, "") == value) != negate

        checks.append(check)
    return lambda meta: all(c(meta) for c in checks)


def label_selector_matches(selector: object, labels: Mapping[str, str]) -> bool:
    """Whether a structured ``LabelSelector`` (``matchLabels``, ``matchExpressions``) selects
    ``labels``, as controllers and webhooks evaluate it; empty or absent selects everything."""
    if not isinstance(selector, Mapping):
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key")
        values = set(expression.get("values") or [])
        operator = expression.get("operator")
        ok = {"In": key in labels and labels.get(key) in values,
              "NotIn": labels.get(key) not in values,
              "Exists": key in labels,
              "DoesNotExist": key not in labels}.get(operator, False)
        if not ok:
            return False
    return True
