"""Untrusted text, and the one rule for each place it is shown.

Names, labels, annotations and env values come from manifests no API server validated, and
error messages quote them (and bytes of files, and server replies), so they can hold ANSI
escape sequences (colours, OSC 8 hyperlinks, cursor moves), BEL, line breaks, or bidi
overrides that reorder what a reader sees. Every front end and sink goes through this module:

* **terminal** (:func:`clean`): every character :meth:`str.isprintable` rejects (C0 and C1
  controls with ESC, newline and tab; DEL; bidi and other format controls; line and paragraph
  separators) becomes its visible Python escape (``\\x1b``, ``\\u202e``, ``\\n``). The text
  stays on one line, cannot drive the terminal, and the tampering shows. ``limit`` cuts it with
  an ellipsis (table cells).
* **code blocks** (:func:`clean_lines`): the same, but line breaks stay (YAML, commands, PromQL).
* **Rich** (:func:`plain`): a :class:`rich.text.Text` of :func:`clean`'s result, never parsed
  as markup (a ``[bold]x`` stays as typed), wrapped in :class:`Lines` so that it renders in
  time linear in its length; consoles that print cluster strings also have ``markup=False``.
* **HTML** (:func:`html_text`): :func:`clean_lines`, then ``html.escape`` with quotes, for text
  and attribute values alike.
* **one line** (:func:`one_line`): for messages on stderr (diagnostics, errors): whitespace runs
  (newlines, tabs) become one space, then the terminal rule.

Machine formats (JSON, YAML) keep the exact value; they do not use this.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.measure import Measurement
    from rich.text import Text


def _visible(ch: str) -> str:
    return ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")


def clean(value: object, limit: int | None = None) -> str:
    """``value`` as text for a terminal: every non-printable character shown as an escape;
    cut to ``limit`` characters with an ellipsis."""
    text = str(value)
    if not text.isprintable():
        text = "".join(_visible(ch) for ch in text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 1)] + "…"
    return text


def clean_lines(value: object) -> str:
    """Like :func:`clean`, but line breaks stay: for code blocks (YAML, commands, PromQL)."""
    return "\n".join(clean(line) for line in str(value).split("\n"))


def plain(value: object, style: str = "") -> Lines:
    """A Rich renderable showing ``value`` literally: no markup, no control characters, and
    rendered in time linear in its length (:class:`Lines`)."""
    from rich.text import Text

    return Lines(Text(clean(value), style=style))


class Lines:
    """``text`` as a renderable that wraps, justifies and styles exactly as the ``Text`` does,
    but yields one line at a time.

    Rich wraps a ``Text`` into lines, joins them with ``\\n`` into one segment, and the console
    then splits that segment at each ``\\n`` by partitioning what is left of it: a 10 MB value
    (an env value no API server checked) wrapped into 10^5 lines costs 10^5 copies of
    megabytes, tens of seconds. Yielded line by line, every split works on one line. It is no
    ``Text`` on purpose: the console merges the ``Text`` objects it prints into one, and
    renders that the quadratic way."""

    def __init__(self, text: Text) -> None:
        self.text = text

    @property
    def plain(self) -> str:
        """The text without styles."""
        return self.text.plain

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        return Measurement.get(console, options, self.text)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.segment import Segment
        from rich.text import DEFAULT_JUSTIFY, DEFAULT_OVERFLOW

        text = self.text
        tab_size = console.tab_size if text.tab_size is None else text.tab_size
        no_wrap = options.no_wrap if text.no_wrap is None else text.no_wrap
        lines = text.wrap(console, options.max_width,
                          justify=text.justify or options.justify or DEFAULT_JUSTIFY,
                          overflow=text.overflow or options.overflow or DEFAULT_OVERFLOW,
                          tab_size=tab_size or 8, no_wrap=bool(no_wrap))
        for index, line in enumerate(lines):
            if index:
                yield Segment.line()
            yield from line.render(console)
        if text.end:
            yield Segment(text.end)


def html_text(value: object) -> str:
    """``value`` for HTML text or a quoted attribute: no markup, no control characters."""
    return html.escape(clean_lines(value), quote=True)


def one_line(value: object) -> str:
    """``value`` as one message line: whitespace runs become one space, other non-printable
    characters visible escapes."""
    return clean(" ".join(str(value).split()))
