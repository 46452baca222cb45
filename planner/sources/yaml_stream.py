"""A YAML stream split into its documents, as ``kubectl apply -f`` reads one, from untrusted
text.

:func:`parse_yaml` gives each document as its parsed body or as a :class:`Problem` saying why
it cannot be used; after a problem, parsing resumes at the next ``---`` line, so one bad
document does not hide the rest of the file.

Bounds: aliases may add at most ``max_alias_nodes`` nodes to a document (billion laughs),
measured on the composed node graph before anything is constructed; recursive aliases are
refused; libyaml caps nesting depth, and the pure-Python parser's recursion limit is reported
as a problem.

This module imports PyYAML, which is not free, so callers import it only when they meet YAML.
"""

from __future__ import annotations

import re
from typing import Any, Final

import yaml

from planner.sources.yaml_documents import Parsed, Problem

# libyaml is several times faster; the pure-Python parser gives the same documents.
_BaseLoader: type[yaml.CSafeLoader] | type[yaml.SafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
#: How much of a duplicate key a message shows.
_KEY_SHOWN: Final = 60


class DuplicateKey(yaml.constructor.ConstructorError):
    """A mapping names one key twice. kubectl refuses the document (``mapping key "name"
    already defined``); PyYAML would keep the last value silently. ``first`` is the 0-based
    line of the first occurrence, in the text the loader read."""

    def __init__(self, key: str, first: int, mark: yaml.Mark) -> None:
        shown = key[:_KEY_SHOWN] + ("…" if len(key) > _KEY_SHOWN else "")
        super().__init__(None, None, f"duplicate key {shown!r}", mark)
        self.first = first


class _YamlLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """The safe loader, refusing duplicate keys (a key from a merge ``<<`` may still be
    overridden, as in kubectl's YAML)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Before the merge keys are flattened in: only the mapping's own keys are checked.
        seen: dict[tuple[str, str], int] = {}
        for key, _value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                continue
            identity = (key.tag, key.value)
            if identity in seen:
                raise DuplicateKey(key.value, seen[identity], key.start_mark)
            seen[identity] = key.start_mark.line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep)
        return mapping

# Errors the YAML constructor raises for well-formed but unusable values, e.g. the date
# 2001-02-30 (ValueError), an unhashable key in a set (TypeError) or an empty `!!int`
# (IndexError).
_CONSTRUCT_ERRORS: Final = (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError,
                            IndexError)

_DOCUMENT_START: Final = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
# Anchor candidates for the alias walk. Missing one would let a bomb through, so only an `&`
# that cannot start an anchor is ruled out: one in a word, URL query or shell redirect
# (`?a=1&b=2`, `a && b`, `2>&1`). Starting with a literal keeps the scan a substring search.
_ANCHOR: Final = re.compile(r"&[^\s\[\]{},&]")
_NOT_BEFORE_ANCHOR: Final = frozenset("=>&|/\\_.-")
# Expanded sizes grow exponentially in a bomb; capping keeps them machine-sized integers.
_SIZE_CAP: Final = 1 << 62


def _item_lines(node: yaml.Node, first_line: int) -> tuple[int, ...]:
    # Only a top-level `items:` sequence matters (kind: List); a few keys to look at.
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "items" and \
                    isinstance(value, yaml.SequenceNode):
                return tuple(first_line + child.start_mark.line + 1 for child in value.value)
    return ()


def parse_yaml(text: str, *, max_alias_nodes: int) -> list[Parsed | Problem]:
    """The documents of a YAML stream in order, as :class:`Parsed` or as the problem that
    stops one from being used.

    This is ``yaml.load_all`` unrolled (same cost): composing a node graph shares aliased
    nodes, so alias expansion can be measured before anything is constructed. After a
    problem, parsing resumes at the next ``---`` line, as kubectl splits documents first.
    """
    documents: list[Parsed | Problem] = []
    check_aliases = _has_anchor(text)
    start = first_line = doc = 0
    while True:
        # Where the problem that ended this pass is: its 0-based line in text, and whether
        # the next document may begin on that very line (the parser ran into its `---`).
        stop: tuple[int, bool] | None = None
        loader = _YamlLoader(text[start:] if start else text)
        try:
            while loader.check_node():
                node = loader.get_node()
                doc += 1
                if node is None:
                    continue
                if check_aliases and (refusal := _alias_problem(node, max_alias_nodes)):
                    documents.append(Problem(doc, refusal))
                    continue
                try:
                    documents.append(Parsed(doc, loader.construct_document(node),
                                            first_line + node.start_mark.line + 1,
                                            _item_lines(node, first_line)))
                except _CONSTRUCT_ERRORS as exc:
                    # The constructor keeps half-built state; only a fresh loader is safe.
                    documents.append(_construct_problem(doc, exc, first_line))
                    stop = (first_line + node.start_mark.line, False)
                    break
        except yaml.YAMLError as exc:
            doc += 1
            line, at_line_start = _error_position(exc, text, start)
            line += first_line
            documents.append(Problem(
                doc, f"YAML syntax error at line {line + 1}: {_yaml_problem(exc)}", line + 1))
            stop = (line, at_line_start)
        except RecursionError:
            # Only the pure-Python parser recurses; libyaml caps nesting itself.
            doc += 1
            documents.append(Problem(doc, "YAML is nested too deeply"))
            stop = (first_line, False)
        finally:
            loader.dispose()
        if stop is None:
            return documents
        resumed = _next_document(text, start, first_line, *stop)
        if resumed is None:
            return documents
        start, first_line = resumed


def _error_position(exc: yaml.YAMLError, text: str, start: int) -> tuple[int, bool]:
    """0-based line of a YAML error in ``text[start:]``, and whether it is at column 0."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return mark.line, mark.column == 0
    # A ReaderError (a control character) knows only its character position.
    position = getattr(exc, "position", 0)
    return text.count("\n", start, start + position), False


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None)
    return str(problem) if problem else str(exc).splitlines()[0]


def _construct_problem(doc: int, exc: BaseException, first_line: int) -> Problem:
    if isinstance(exc, RecursionError):
        return Problem(doc, "YAML is nested too deeply")
    if isinstance(exc, DuplicateKey) and exc.problem_mark is not None:
        line = first_line + exc.problem_mark.line + 1
        return Problem(doc, f"{exc.problem} at line {line}, first at line "
                            f"{first_line + exc.first + 1} (kubectl refuses duplicate keys)",
                       line)
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        line = first_line + exc.problem_mark.line + 1
        return Problem(doc, f"invalid YAML value at line {line}: {exc.problem}", line)
    return Problem(doc, f"invalid YAML value: {exc}")


def _next_document(text: str, start: int, first_line: int, line: int,
                   same_line: bool) -> tuple[int, int] | None:
    """Offset and 0-based line of the first ``---`` after ``line`` (or on it, when
    ``same_line``), or ``None`` when the stream holds no further document."""
    position = start
    for _ in range(line - first_line):
        position = text.find("\n", position) + 1
        if position == 0:  # libyaml may place an error at the end, past the last line break
            return None
    # Each pass must start past the previous one, or the same error would recur forever.
    if not same_line or position <= start:
        position = text.find("\n", position) + 1
        if position == 0:  # the problem is on the last line
            return None
        line += 1
    match = _DOCUMENT_START.search(text, position)
    if match is None:
        return None
    return match.start(), line + text.count("\n", position, match.start())


def _has_anchor(text: str) -> bool:
    for match in _ANCHOR.finditer(text):
        before = text[match.start() - 1] if match.start() else " "
        if not (before.isalnum() or before in _NOT_BEFORE_ANCHOR):
            return True
    return False


def _alias_problem(root: yaml.Node, max_alias_nodes: int) -> str | None:
    """Why a composed document must not be constructed: aliases that would expand it by more
    than ``max_alias_nodes`` nodes, or an alias inside its own anchor.

    Aliased nodes are shared in the graph, so sizes are memoised per node and the walk costs
    one visit per distinct node however large the expansion. It is iterative: an attacker
    controls the depth.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = _children(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = min(_SIZE_CAP, 1 + sum(sizes[id(child)] for child in children))
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            return "recursive YAML alias (an anchor used inside itself)"
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children)
    excess = sizes[id(root)] - len(sizes)
    if excess > max_alias_nodes:
        return (f"YAML aliases would expand this document by {excess} nodes, over the limit of "
                f"{max_alias_nodes} (an alias bomb?)")
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
