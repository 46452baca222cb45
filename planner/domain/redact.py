"""Credentials never leave the input: the one rule for what is a secret, and the functions that
replace secrets with :data:`REDACTED` wherever manifests and cluster objects are read.

The rule (README, "Credentials"):

1. A *name says secret* when one of its words (split at ``_ - . /``, spaces and camelCase) is
   ``secret``, ``password``, ``passwd``, ``pwd``, ``pass``, ``passphrase``, ``token``, ``key``,
   ``apikey``, ``credential``, ``signature`` or ``sig`` (plurals too), or a word contains
   ``password``, ``passwd``, ``secret``, ``token``, ``apikey`` or ``credential``
   (``DBPASSWORD``, ``authToken``). A name whose last word says it is an address (``url``,
   ``uri``, ``host``, ``addr``, ``address``, ``endpoint``, ``server``, ``service``...) does
   not: ``TOKEN_URL`` names where tokens are issued, not a token.
2. The value under a name that says secret is replaced whole: env variables, ConfigMap keys,
   annotations, command-line flags (``--db-password=x``, ``--token x``) and ``name=value``,
   ``name: value`` or ``"name": "value"`` pairs inside any text (query strings such as
   ``?access_token=x``, properties files, YAML and JSON lines).
3. The password of a URL (``postgres://admin:PASSWORD@db``) is replaced; the user name stays.
4. HTTP credentials after ``Bearer`` or ``Basic`` are replaced.
5. An error or diagnostic line is judged after the location it starts with (the file, line and
   document): a file's name is no secret's (:func:`redact_message`).

Addresses survive: a URL keeps its scheme, host, port and path, so the call graph finds the
same calls in redacted text. A colon with no space before a port number (``key.team:8080``,
``http://keys.data:6379/0``) joins a host and its port: it is never read as ``name: value``,
whatever words the host name holds. The kubectl ``last-applied-configuration`` annotation holds a
copy of the whole object, env included, and is replaced whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

#: What a secret is replaced with: a plain word, valid unquoted in YAML, URLs and shells.
REDACTED = "REDACTED"

_SECRET_WORDS = frozenset({
    "secret", "secrets", "password", "passwords", "passwd", "pwd", "pass", "passphrase",
    "token", "tokens", "key", "keys", "apikey", "apikeys", "credential", "credentials",
    "signature", "sig",
})
_SECRET_PARTS = ("password", "passwd", "secret", "token", "apikey", "credential")
#: Last words that make a name point at something rather than hold a secret.
_POINTER_WORDS = frozenset({
    "url", "urls", "uri", "uris", "host", "hosts", "hostname", "addr", "address", "addresses",
    "endpoint", "endpoints", "server", "servers", "service", "svc", "port",
    "file", "path", "dir", "name", "ref",
})
#: Annotations that hold a copy of the object they are on (env values included).
_COPY_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

# scheme://user:PASSWORD@ -- the user info ends at the last "@" before the path (RFC 3986).
# Every part is bounded or stops at a character the next part needs, so a long hostile
# string costs linear time (an unbounded scheme would rescan a run of letters from each one).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s:/?#@]*:)"
                           r"(?P<value>[^\s/?#]*)(?=@)")
_HTTP_AUTH = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)(?P<value>[A-Za-z0-9._~+/=\-]+)")
# A whole line ``name: value`` / ``name=value`` (YAML, properties, .env): the rest of the line,
# spaces included. Quoted values (JSON members, quoted YAML) are left to ``_PAIR_VALUE``.
_LINE_PAIR = re.compile(r"(?m)^(?P<head>[ \t]*(?:-[ \t]+)?[\"']?(?P<key>[\w.\-]+)[\"']?"
                        r"[ \t]*[:=][ \t]*)(?P<value>[^\s\"'](?:.*\S)?)[ \t]*$")
# ``name=value`` anywhere (query strings, flags, JSON members): the name and separator only,
# so a name that is no secret does not swallow the text after it (``http://h/?token=x``).
_PAIR_HEAD = re.compile(r"(?<![\w.\-])(?P<key>[\w.\-]+)[\"']?\s*[:=]\s*")
# Its value: quoted to the closing quote, else up to a separator.
_PAIR_VALUE = re.compile(r"(?P<quote>[\"'])[^\"'\n]*(?P=quote)|[\"']?[^\s\"'&;,)}\]]+")
# ``--token VALUE`` on a command line.
_FLAG_VALUE = re.compile(r"(?P<head>(?<![\w\-])(?P<key>--?[A-Za-z][\w.\-]*)[ \t]+)"
                         r"(?P<value>[^\s\-][^\s]*)")


# Every secret name holds one of these, and rules 3 and 4 need an "@", "Bearer" or "Basic":
# text with none of them is returned after one search of its lower-case form (most values: a
# scan of 10,000 Services redacts 5 x 10^4 of them). A plain alternation of the words finds
# them in under half the time of a substring test per word; a case-insensitive one, or the
# rules' own patterns, cost several times as much.
_NAME_HINTS = ("secret", "pass", "pwd", "token", "key", "credential", "sig")
_HINTS = ("@", "bearer", "basic", *_NAME_HINTS)
_NAME_HINT = re.compile("|".join(_NAME_HINTS))
_HINT = re.compile("|".join(map(re.escape, _HINTS)))


@lru_cache(maxsize=8192)
def says_secret(name: str) -> bool:
    """True when ``name`` (a variable, key, flag or parameter name) says its value is a
    secret, by rule 1 of the module docstring."""
    # Every secret word holds a hint, and so does the name's lower case then: most names of a
    # cluster (10,700 distinct on 10,000 Services, most seen once) are told apart by this one
    # search instead of splitting them into words.
    if _NAME_HINT.search(name.lower()) is None:
        return False
    words = [w.lower() for w in _WORD.findall(name)]
    if not words or words[-1] in _POINTER_WORDS:
        return False
    return any(w in _SECRET_WORDS or any(part in w for part in _SECRET_PARTS) for w in words)


# A port after ``host:`` (digits up to the end or a path), told apart from a secret value.
_PORT = re.compile(r"\d{1,5}(?![^/])")


def _host_port(head: str, value: str) -> bool:
    """``head`` ends ``host:`` and ``value`` is a port: an address, not a pair."""
    return head.endswith(":") and _PORT.fullmatch(value.split("/", 1)[0]) is not None


def _keep_head(match: re.Match[str]) -> str:
    return match.group("head") + REDACTED


def _pairs(text: str) -> str:
    out: list[str] = []
    done = 0
    for head in _PAIR_HEAD.finditer(text):
        if head.start() < done or not says_secret(head.group("key")):
            continue
        value = _PAIR_VALUE.match(text, head.end())
        if value is None or _host_port(head.group(0), value.group(0)):
            continue
        quote = value.group("quote") or ""
        out += [text[done:head.end()], quote, REDACTED, quote]
        done = value.end()
    return "".join([*out, text[done:]]) if out else text


def _line(match: re.Match[str]) -> str:
    if not says_secret(match.group("key")) or _host_port(match.group("head"),
                                                         match.group("value")):
        return match.group(0)
    return match.group("head") + REDACTED


def _flag(match: re.Match[str]) -> str:
    return _keep_head(match) if says_secret(match.group("key")) else match.group(0)


def _url_credentials(text: str) -> str:
    """``text`` with URL passwords and HTTP credentials replaced (rules 3 and 4)."""
    if "@" in text:
        text = _URL_PASSWORD.sub(_keep_head, text)
    if "Bearer" in text or "Basic" in text:
        text = _HTTP_AUTH.sub(_keep_head, text)
    return text


def redact_text(text: str) -> str:
    """``text`` with every secret it shows replaced (rules 2 to 4 of the module docstring)."""
    lower = text.lower()
    if _HINT.search(lower) is None:
        return text
    text = _url_credentials(text)
    if _NAME_HINT.search(lower) is None:
        return text
    if "=" in text or ":" in text:
        text = _LINE_PAIR.sub(_line, text)
        text = _pairs(text)
    if "-" in text:
        text = _FLAG_VALUE.sub(_flag, text)
    return text


# Where a message is about: a diagnostic's severity, then a path without spaces, its line and
# its document (``error: app.yaml:5 (document 2, item 3)``), before ``": "``.
_LOCATION = re.compile(r"(?:(?:error|warning|info): )?[^\s:]+(?::\d+)?"
                       r"(?: \(document \d+(?:, item \d+)?\))?(?=: )")


def redact_message(text: str) -> str:
    """A message ``[SEVERITY: ]WHERE: WHAT`` (an error or diagnostic line) with
    :func:`redact_text` applied to WHAT, and to WHERE only rules 3 and 4: WHERE names a file
    the user gave, whose name is no secret's, and read as ``name: value`` a file such as
    ``api-key.yaml`` or ``db-password.csv`` swallowed the message (``api-key.yaml:
    REDACTED``)."""
    where = _LOCATION.match(text)
    if where is None:
        return redact_text(text)
    return _url_credentials(where.group(0)) + redact_text(text[where.end():])


def redact_value(name: str, value: str) -> str:
    """The value of the variable, key or annotation ``name``: replaced whole when the name
    says secret, else with the secrets it shows replaced."""
    if value and (name in _COPY_ANNOTATIONS or says_secret(name)):
        return REDACTED
    return redact_text(value)


def redact_map(data: Mapping[str, str]) -> Mapping[str, str]:
    """A string map (ConfigMap data, annotations) with :func:`redact_value` applied; ``data``
    itself when it holds no secret (the inventory shares the parsed maps, see the builder)."""
    changed: dict[str, str] | None = None
    for key, value in data.items():
        redacted = redact_value(key, value)
        if redacted is not value:
            if changed is None:
                changed = dict(data)
            changed[key] = redacted
    return data if changed is None else changed


def redact_strings(value: Any) -> Any:
    """A raw spec (lists, maps, scalars) with :func:`redact_text` applied to every string;
    ``value`` itself when nothing changed. Names of fields are not judged here: in an Istio or
    NetworkPolicy spec ``key`` is a field of the API, not a secret."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        items = {k: redact_strings(v) for k, v in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else items
    if isinstance(value, list):
        values = [redact_strings(v) for v in value]
        return value if all(a is b for a, b in zip(values, value, strict=True)) else values
    return value


def redact_words(words: Iterable[str]) -> tuple[str, ...]:
    """A command line (``command`` or ``args``), word by word: the word after a flag that
    says secret (``--password``, ``-token``) is replaced, and each word's own secrets too."""
    out: list[str] = []
    secret_next = False
    for word in words:
        if secret_next and not word.startswith("-"):
            out.append(REDACTED)
            secret_next = False
            continue
        secret_next = word.startswith("-") and "=" not in word and says_secret(word)
        out.append(redact_text(word))
    return tuple(out)
