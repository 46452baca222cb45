"""Cluster strings are untrusted data: helpers that make them inert on a terminal and in files.

Names, labels, annotations and env values come from manifests no API server validated, so they
can hold ANSI escape sequences (colours, OSC 8 hyperlinks, cursor moves), BEL, or bidi
overrides that reorder what a reader sees. :func:`clean` turns each such character into a
visible ``\\x1b``/``\\u202e`` escape, so the text stays on one line, cannot drive the terminal,
and the tampering shows. Rich markup needs no escaping here: every console the planner prints
cluster strings with has ``markup=False`` and gets :class:`rich.text.Text` objects, never
markup strings. Machine formats (JSON, YAML) keep the exact value; they do not use this.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls (newline and tab included: a value must not break a table row), DEL, C1 controls
# (U+009B is a one-byte CSI on some terminals) and the bidi controls of "Trojan Source".
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def clean(value: object) -> str:
    """``value`` as text with every control and bidi-control character shown as an escape."""
    return _UNSAFE.sub(_visible, str(value))


def clean_lines(value: object) -> str:
    """Like :func:`clean`, but line breaks stay: for code blocks (YAML, commands, PromQL)."""
    return "\n".join(clean(line) for line in str(value).split("\n"))


def plain(value: object, style: str = "") -> Text:
    """A Rich ``Text`` showing ``value`` literally: no markup, no control characters."""
    from rich.text import Text

    return Text(clean(value), style=style)
