"""Rendering helpers: cluster strings are data, never markup or terminal control codes."""

from __future__ import annotations

from rich.text import Text

#: Longest cluster string shown in a table cell; the full value stays in the detail panes.
CELL_LIMIT = 60


def clean(value: object, limit: int | None = None) -> str:
    """``value`` as one printable line: control characters (ANSI escapes, newlines) become
    visible ``\\x1b``-style escapes; cut to ``limit`` characters with an ellipsis."""
    text = str(value)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                       for ch in text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 1)] + "…"
    return text


def safe(value: object, style: str = "", limit: int | None = CELL_LIMIT) -> Text:
    """A Rich ``Text`` that shows ``value`` literally (a ``[bold red]x`` stays as typed)."""
    return Text(clean(value, limit), style=style, no_wrap=True, end="")


def matches(query: str, *fields: object) -> bool:
    """The ``/`` filter: case-insensitive substring over ``fields``; ``!x`` inverts."""
    query = query.strip()
    invert = query.startswith("!")
    needle = query[1:].strip().lower() if invert else query.lower()
    if not needle:
        return True
    found = any(needle in str(f).lower() for f in fields)
    return found != invert


STATE_STYLE = {
    "pending": "dim",
    "applied": "bold cyan",
    "verified": "bold green",
    "failed": "bold red",
    "rolled back": "yellow",
    "rolled-back": "yellow",
    "drifted": "bold magenta",
}


def state_text(state: str) -> Text:
    """A step state with its colour."""
    return Text(state, style=STATE_STYLE.get(state, ""), end="")
