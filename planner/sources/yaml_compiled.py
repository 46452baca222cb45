"""The compiled YAML path: rapidyaml (``ryml``, C++) parses a stream and writes it as JSON, and
orjson reads that JSON: several times faster than PyYAML's ``CSafeLoader`` on manifests.

Contract: :func:`compiled_documents` gives exactly the documents that
:func:`planner.sources.yaml_stream.parse_yaml` (PyYAML) gives for ``text``, lines included, or
``None`` when it cannot prove that; the caller then reads the text with PyYAML. The parsers
differ (rapidyaml reads YAML 1.2 and writes a scalar bare or quoted by its look; PyYAML
resolves YAML 1.1 and refuses some malformed YAML that rapidyaml reads on), so the compiled
path only takes a text in which no difference can hide:

- In rapidyaml's JSON: no string value that PyYAML would resolve to something else if it was
  plain (the 1.1 booleans ``yes/no/on/off`` in any case, ``True``, ``~``, ``Null``,
  ``.inf``/``.nan``, octal, hex and binary numbers, ``1_000``, exponents, sexagesimal
  ``1:30``, timestamps, ``=``, ``<<``); no bare value but a plain decimal (up to 18 digits), a
  simple decimal fraction, ``true``, ``false`` or ``null``, which both read alike; no key that
  PyYAML would not read as a string (JSON keys are strings); no empty key, no string opening
  with a space; no mapping that repeats a key (the keys rapidyaml wrote are counted against
  the keys orjson kept); each document an object, and no ``kind: List`` (PyYAML gives each
  item's line).
- In the YAML text (full-line comments aside): no such special scalar as a sequence item; no
  node property or reserved indicator where a node starts (anchors ``&``, aliases ``*``, so
  alias limits stay PyYAML's job, tags ``!``, directives ``%``, ``@``, the backquote, complex
  keys ``?``); none of the malformed nodes PyYAML refuses and rapidyaml reads (a flow indicator
  or ``:`` where a node starts, text after a quoted scalar or a flow collection on its line,
  a quoted key over several lines, a block scalar header with more than a chomping
  indicator); no flow collection over several lines or used as a key; no tab, no character
  YAML 1.1 refuses or reads as a line break (NEL, LS, PS, a lone CR), no byte order mark; no
  ``...`` document end; no implicit key of 1,024 characters or more; no block scalar ending a
  text without a final line break.
- rapidyaml and orjson accept it, and the documents counted by ``---`` lines are those
  rapidyaml found (their lines are computed from the text as libyaml marks them).

Anything else, errors included, is read by PyYAML, so messages keep their file, document and
line. The checks are coarse on purpose: a special-looking token in a quoted string or a block
scalar also sends the text to PyYAML, which costs time, never meaning. tests/sources/
test_yaml_compiled.py holds the proof: samples, corpus, a generated cluster and fuzzed texts.

rapidyaml prints its parse errors on the process's stderr (file descriptor 2) before raising;
they are silenced by pointing descriptor 2 at ``/dev/null`` during the parse, which is only
safe while no other thread can write (a TUI draws on stderr), so with other threads running the
compiled path is not taken. Without the ``rapidyaml`` wheel it is never taken.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any, Final

import orjson

from planner.sources.yaml_documents import Parsed

try:
    import ryml
except ImportError:  # an install without the wheel reads every stream with PyYAML
    ryml = None

AVAILABLE: Final = ryml is not None
"""Whether the rapidyaml wheel is installed."""

# Scalar texts that PyYAML (YAML 1.1) may resolve to something else than a string, or that
# rapidyaml rewrites (`inf` becomes ".inf"): the 1.1 booleans, nulls, infinities and NaNs,
# numbers in every notation (octal, hex, binary, underscores, exponents, sexagesimal), `=`,
# merge keys, and the date that starts a timestamp. (`y` and `n` are strings to both.)
_WORDS: Final = ("yes", "Yes", "YES", "no", "No", "NO", "true", "True",
                 "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
                 "null", "Null", "NULL", "~", "=", "<<")


def _alternation(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, branching on one character at a time: `re` tries
    alternatives in turn, and most texts then fail at the first character."""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[:1], []).append(word[1:])
    branches = [re.escape(first) + (f"(?:{_alternation(rests)})?" if "" in rests and len(rests) > 1
                                     else "" if rests == [""] else f"(?:{_alternation(rests)})")
                for first, rests in groups.items() if first]
    return "|".join(branches)


_SPECIAL_FLOAT: Final = r"[-+]?\.?(?:[Ii][Nn][Ff](?:[Ii][Nn][Ii][Tt][Yy])?|[Nn][Aa][Nn])"
_NUMBER: Final = (r"[-+]?(?:0[xXoObB][0-9a-fA-F_]*"
                  r"|[0-9][0-9_]*(?::[0-9_]*)*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]*)?"
                  r"|\.[0-9_]+(?:[eE][-+]?[0-9_]*)?)")
_TIMESTAMP: Final = r"[0-9]{4}-[0-9][0-9]?-[0-9][0-9]?"
_SPECIAL: Final = f"(?:{_alternation(_WORDS)}|{_SPECIAL_FLOAT}|{_NUMBER})"
# What a special text can start with: a number's first character, or a short word.
_SHAPE: Final = r"(?=[-+.0-9~=<]|[yYnNtTfFoOiI][a-zA-Z]{0,7}(?![a-zA-Z]))"
# Values that both read alike whether plain or quoted: rapidyaml writes them bare when plain
# (an int, a float, a bool, None, as PyYAML reads them) and as a string when quoted.
_SAME_VALUE: Final = (r"(?:true|false|null|0|-?[1-9][0-9]{0,17}"
                      r"|-?(?:0|[1-9][0-9]{0,14})\.[0-9]{1,15})")

# In rapidyaml's JSON (keys and values written `"key": value`): a value opening with a flow
# indicator PyYAML refuses there (`]`, `}` or `,`), a special string value, a bare value that
# is not read alike, and (searched in the reversed text, so that it opens with a literal) a
# key that PyYAML would not read as a string. JSON keys are all strings. (One pattern for the
# values: each `": ` of the text is then tried once, not once per check.)
_JSON_VALUE: Final = re.compile(
    rf'": (?:"[\]}},]|"{_SHAPE}(?!{_SAME_VALUE}")(?:{_TIMESTAMP}|{_SPECIAL}")'
    rf'|(?=[-+.0-9])(?!{_SAME_VALUE}[,\n\]}}]))')
# An escaped quote before a colon (it would spoil the key count): searched only in a text
# holding a backslash, which `in` finds at memory speed (a JSON text rarely escapes anything).
_ESCAPED_QUOTE_KEY: Final = '\\":'
# A string opening with a space (rapidyaml's reading of a badly indented key). A pattern finds
# it in about 60% of the time of `in`, whose skip table gains nothing on a needle ending with a
# space in text indented with spaces.
_QUOTE_SPACE: Final = re.compile('" ')
# In the reversed text, `:"` after a space: an empty key (`"": `, a `:` with no key, which
# PyYAML refuses), or a key that PyYAML would not read as a string. The pattern opens with the
# colon and looks back for the space: `re` then stops at each colon instead of each space.
_JSON_KEY_REVERSED: Final = re.compile(
    rf':(?<= :)"(?:"|(?:{_alternation(word[::-1] for word in _WORDS)}'
    r'|[-+.0-9_:a-fA-FxXoObBtTzZ ]*[-+.0-9])"(?=[\s{,]|$))')

# In the YAML text, sequence items (which the JSON writes without a marker to search for): a
# special plain scalar after `- ` (also `--- `), alone on the line after `-`, or after `[` or
# `,` in a flow sequence. Each pattern opens with a literal, which `re` finds fast.
_END: Final = r"(?=[ \r]*(?:[\n#,:\]}]|$))"
_ITEM: Final = (rf"[ ]*{_SHAPE}(?:{_TIMESTAMP}|(?!{_SAME_VALUE}[ \r]*(?:[\n#,\]}}]|$))"
                rf"{_SPECIAL}{_END})")
_RISKY_ITEMS: Final = (re.compile("- " + _ITEM), re.compile("-\n" + _ITEM))
_RISKY_FLOW_ITEMS: Final = (re.compile(r"\[" + _ITEM), re.compile("," + _ITEM))
# In a flow collection: a node opening with `:`, or a `:` before a flow indicator (PyYAML
# refuses both, rapidyaml reads a scalar or a key).
_FLOW_COLONS: Final = (re.compile(r":(?![ \r\n])(?:(?<=[\[{,]:)|(?<=[\[{,: ] :))"),
                       re.compile(r":[\]},]"))
# A line holding brackets or braces that do not close on it: a flow collection over several
# lines, where the two parsers do not refuse the same keys.
_OPENER: Final = re.compile(r"[\[{]")
# Node properties and reserved indicators where a node starts (conservatively: after any
# space or indicator): anchors, aliases, tags, directives, `@`, backquote, complex keys.
_PROPERTIES: Final = tuple(re.compile(f"{re.escape(c)}(?<=[ \\n\\r\\-?:\\[{{,]{re.escape(c)})")
                           for c in "&*!%@`?")
# A block scalar header with more than a chomping indicator (`|2`, `>1.5`): rapidyaml and
# PyYAML do not refuse the same headers.
_BLOCK_HEADERS: Final = tuple(
    re.compile(rf"\{c}(?:(?<=[:\- \n] \{c})|(?<=\n\{c}))(?![-+]?[ \r]*(?:#|\n|$))") for c in "|>")
# A quoted scalar opening a line and not closed on it: it may be a key over several lines,
# which PyYAML refuses.
_OPEN_QUOTE_AT_START: Final = re.compile(
    r"\n[ ]*+(?:- )*+(?:\"(?:[^\"\\\n]|\\.)*|'(?:[^'\n]|'')*)(?:\n|$)")
# A quoted scalar or a flow collection followed on its line by more than a comment, a flow
# indicator or a colon (`- 'a' - b`, `{a} b: c`): rapidyaml reads on where PyYAML refuses.
# One pattern per closing character: each opens with a literal, which `re` finds several times
# faster than a class of four (the text is full of quotes), and a match never leaves its line,
# so the lines they find are those of the one pattern `['"\]}][ ]+...`.
_ENTRY_AFTER_NODE: Final = tuple(re.compile(re.escape(c) + r"[ ]+[^ \r\n#,\]}:]")
                                 for c in "'\"]}")
# A flow indicator where a block node starts: PyYAML refuses it, rapidyaml may read a scalar.
# (Here and above, the indentation and `- ` are matched possessively (`*+`): what follows them
# is neither a space nor a dash, so giving some back never makes a match, and trying that at
# every line of a text was most of the cost of these checks.)
_FLOW_END_AT_START: Final = re.compile(r"\n[ ]*+(?:- )*+[\]},]")
# A flow collection used as a key; a simple key PyYAML finds too long (over 1,024 characters);
# a document end marker.
_OTHER_RISKS: Final = (re.compile(r"\][ \t]*:(?=[ \t\r\n]|$)"),
                       re.compile(r"\}[ \t]*:(?=[ \t\r\n]|$)"),
                       re.compile(r"\n[^\n]{1024}[^\n]*?:(?=[ \t\r\n]|$)"),
                       re.compile(r"\n\.\.\.(?=[ \t\r\n]|$)"))
# Bytes that are fine anywhere in an ASCII text: printable ASCII and line breaks, no tab.
_PLAIN_ASCII: Final = bytes([10, 13, *range(0x20, 0x7F)])
# Characters YAML 1.1 refuses or reads as line breaks (NEL, LS, PS), tabs, byte order marks:
# all but the line breaks, x20-x7E, xA0-uD7FF without LS and PS, uE000-uFFFD without the BOM,
# and beyond uFFFF. Listed rather than given as the negation of those ranges: compiling the
# negation took 4 ms at every start, this class 0.4 ms (same characters, same search speed).
_UNSAFE_CHARACTER: Final = re.compile(
    "[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")



def _opening(pattern: re.Pattern[str]) -> str:
    """The text every match of ``pattern`` opens with: its leading literal characters (escaped
    or not) up to the first one that is not a plain literal ("" when there is none). A text
    without it cannot match, and ``in`` tells that far faster than the pattern's own scan,
    which is most of the cost of these checks on a text that never holds the character."""
    source, literal = pattern.pattern, []
    if _alternates_at_top(source):
        return ""
    position = 0
    while position < len(source):
        character = source[position]
        if character == "\\" and position + 1 < len(source):
            escaped = source[position + 1]
            if escaped.isalnum() and escaped != "n":
                break  # a class such as \s or \d
            character, width = ("\n" if escaped == "n" else escaped), 2
        elif character in ".^$*+?{}[]|()":
            break
        else:
            width = 1
        following = source[position + width:position + width + 1]
        if following and following in "*?{":
            break  # a quantifier that allows none of it
        literal.append(character)
        position += width
    return "".join(literal)


def _alternates_at_top(source: str) -> bool:
    """Whether the regex ``source`` has a ``|`` outside every group and class."""
    depth, in_class, position = 0, False, 0
    while position < len(source):
        character = source[position]
        if character == "\\":
            position += 1
        elif in_class:
            in_class = character != "]"
        elif character == "[":
            in_class = True
            # A `]` right after `[` or `[^` is a member, not the end.
            if source[position + 1:position + 2] == "^":
                position += 1
            if source[position + 1:position + 2] == "]":
                position += 1
        elif character in "()":
            depth += 1 if character == "(" else -1
        elif character == "|" and depth == 0:
            return True
        position += 1
    return False


# Each check with the text it opens with (the patterns hold no alternation outside a group).
_LINE_RISKS: Final = tuple((_opening(p), p) for p in (
    *_RISKY_ITEMS, *_PROPERTIES, *_OTHER_RISKS, *_BLOCK_HEADERS, _FLOW_END_AT_START,
    *_ENTRY_AFTER_NODE, _OPEN_QUOTE_AT_START))
_FLOW_RISKS: Final = tuple((_opening(p), p) for p in (*_RISKY_FLOW_ITEMS, *_FLOW_COLONS))

_DOCUMENT_START: Final = re.compile(r"\n---(?=[ \t\r\n]|$)")

_devnull: int | None = None


def describe() -> str:
    """Which parsers read YAML manifests here, for ``planner --version``."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    pyyaml = f"PyYAML {installed('PyYAML')}"
    if ryml is None:
        return f"{pyyaml} (rapidyaml is not installed: no compiled path)"
    return f"rapidyaml {installed('rapidyaml')}, {pyyaml} where the meaning could differ"


def compiled_documents(text: str) -> list[Parsed] | None:
    """The documents of ``text`` as :func:`~planner.sources.yaml_stream.parse_yaml` gives
    them, or ``None`` when the compiled path cannot guarantee the same result (read the text
    with PyYAML then)."""
    if ryml is None or threading.active_count() != 1:
        return None
    data = text.encode()
    lined = "\n" + text  # line-start patterns then also match the first line
    if _risky_text(text, lined, data):
        return None
    if not text.endswith("\n") and ("|" in text or ">" in text):
        return None  # a block scalar ending the text: rapidyaml adds the line break it lacks
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return None  # a line break of a lone CR: lines would be counted otherwise
    written = _quiet_json(data)
    if written is None:
        return None
    json_text, stream = written
    if (("\\" in json_text and _ESCAPED_QUOTE_KEY in json_text) or _QUOTE_SPACE.search(json_text)
            or _JSON_VALUE.search(json_text) or _JSON_KEY_REVERSED.search(json_text[::-1])):
        return None
    try:
        parsed = orjson.loads(json_text) if json_text else []
    except orjson.JSONDecodeError:  # e.g. a scalar rapidyaml wrote bare but is no JSON number
        return None
    # One document without `---` is written as itself, a stream as a JSON array.
    bodies: list[Any] = parsed if stream else [parsed]
    lines = _document_lines(lined)
    if len(bodies) != len(lines) or json_text.count('":') != orjson.dumps(bodies).count(b'":'):
        return None  # documents split otherwise, or a mapping repeats a key
    if any(_not_an_object(body) for body in bodies):
        return None
    return [Parsed(doc, body, line)
            for doc, (body, line) in enumerate(zip(bodies, lines, strict=True), start=1)]


def _not_an_object(body: Any) -> bool:
    """Whether a document is no plain object: a scalar or a list (their scalars are not
    checked), or a ``kind: List`` (PyYAML gives the line of each item)."""
    if isinstance(body, dict):
        return isinstance(body.get("items"), list)
    return body is not None


def _risky_text(text: str, lined: str, data: bytes) -> bool:
    """Whether the YAML text holds something that rapidyaml's JSON cannot show: characters,
    sequence items, node properties, malformed nodes PyYAML refuses, collections as keys, long
    keys, document ends (see the module's docstring). ``lined`` is ``text`` after a line
    break."""
    if data.isascii():
        if data.translate(None, _PLAIN_ASCII):
            return True  # a tab or a control character
    elif _UNSAFE_CHARACTER.search(text):
        return True
    if any(opening in lined and _in_code(pattern, lined) for opening, pattern in _LINE_RISKS):
        return True
    if "[" not in text and "{" not in text:
        return False
    if any(opening in text and _in_code(pattern, text) for opening, pattern in _FLOW_RISKS):
        return True
    return _flow_over_lines(text)


def _flow_over_lines(text: str) -> bool:
    """Whether a line (not a comment) opens a bracket or brace that it does not close. Linear
    in the text: each line holding an opener is looked at once."""
    checked_until = -1
    for match in _OPENER.finditer(text):
        if match.start() < checked_until:
            continue
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.start())
        checked_until = end = len(text) if end < 0 else end
        line = text[start:end]
        if not line.lstrip().startswith("#") and not _closes_on_its_line(line):
            return True
    return False


def _in_code(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``pattern`` matches ``text`` outside comment lines: comments in real manifests
    are full of backquotes, quotes and `yes`, and both parsers skip them (a comment-looking
    line inside a block scalar is a string to both)."""
    for match in pattern.finditer(text):
        line_start = text.rfind("\n", 0, match.end() - 1) + 1
        if not text[line_start:match.end()].lstrip().startswith("#"):
            return True
    return False


def _closes_on_its_line(line: str) -> bool:
    """Whether every bracket and brace opened on ``line`` closes on it, in order."""
    depth = 0
    for character in line:
        if character in "[{":
            depth += 1
        elif character in "]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _quiet_json(data: bytes) -> tuple[str, bool] | None:
    """rapidyaml's JSON for ``data`` ("" for a stream without documents) and whether it is a
    stream (a JSON array of documents), or ``None`` when rapidyaml refuses ``data``; its error
    print on descriptor 2 is discarded."""
    global _devnull
    assert ryml is not None
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        return None  # no stderr to restore: do not risk the print
    try:
        if _devnull is None:
            _devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(_devnull, 2)
        tree = ryml.parse_in_arena(data)
        root = tree.root_id()
        if tree.num_children(root) == 0 and not tree.has_val(root):
            return "", True
        written = ryml.emit_json_malloc(tree, root)
        return (written, tree.is_stream(root)) if isinstance(written, str) else None
    except (ryml.ExceptionBasic, RuntimeError, MemoryError):
        return None
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _document_lines(lined: str) -> list[int]:
    """The 1-based line where each document's top node starts, as PyYAML marks it, in
    ``lined`` (the text after one line break): one entry per ``---`` line, plus one for
    content before the first. An empty document is marked where the next token is: the next
    ``---`` or the end of the text."""
    starts = [match.start() + 1 for match in _DOCUMENT_START.finditer(lined)]
    lines: list[int] = []
    first = _content_line(lined, 1, starts[0] if starts else len(lined))
    if first is not None:
        lines.append(first + 1)
    line, position = 0, 1  # the 0-based line of `position` in the text
    for index, start in enumerate(starts):
        line += lined.count("\n", position, start)
        position = start
        end = starts[index + 1] if index + 1 < len(starts) else len(lined)
        marker_end = start + 3
        if lined[marker_end:marker_end + 1] != "\n":  # more than `---` on the marker's line
            marker_end = lined.find("\n", start, end)
            marker_end = end if marker_end < 0 else marker_end
            rest = lined[start + 3:marker_end].strip()
            if rest and not rest.startswith("#"):
                lines.append(line + 1)  # `--- value`: the node starts on the marker's line
                continue
        following = lined[marker_end + 1:marker_end + 2]
        if marker_end + 1 < end and not following.isspace() and following != "#":
            lines.append(line + 2)  # the usual case: the node starts on the next line
            continue
        offset = _content_line(lined, marker_end + 1, end)
        # An empty document: libyaml moves the end of a text without a final line break to
        # the next line.
        lines.append(line + 2 + offset if offset is not None
                     else line + 1 + lined.count("\n", start, end)
                     + (end == len(lined) and not lined.endswith("\n")))
    return lines

def _content_line(lined: str, start: int, end: int) -> int | None:
    """How many line breaks lie between ``start`` (a line start) and the first line holding
    more than blanks or a comment before ``end``; ``None`` if there is none."""
    breaks = 0
    while start < end:
        stop = lined.find("\n", start, end)
        stop = end if stop < 0 else stop
        content = lined[start:stop].strip()
        if content and not content.startswith("#"):
            return breaks
        breaks += 1
        start = stop + 1
    return None
