"""Find service addresses in configuration strings: pure tokenising, no knowledge of a cluster.

A value such as ``postgres://app:secret@db.data.svc.cluster.local:5432/app`` or
``kafka-0.kafka:9092,kafka-1.kafka:9092`` or ``Host=postgresql;Username=app`` is cut into
*chunks* at whitespace, ``;``, quotes and brackets; each chunk loses an optional ``key=`` prefix,
a scheme (``http://``, ``jdbc:mysql://``, ``dns:///``), user info and a path, and what is left is
a comma-separated list of ``host[:port]``. Only strings that are valid DNS names survive, so
``catalog-enabled=true`` yields the tokens ``catalog-enabled`` (a key, ignored) and ``true`` —
never ``catalog``. Deciding which hosts are Services is the graph builder's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from planner.domain.value import value_class

#: Chunk separators: whitespace, ``;``, quotes, brackets, pipes and backticks.
_CHUNK = re.compile(r"[^\s;'\"<>(){}\[\]|`\\]+")
_SCHEME_END = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*$")
_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_PORT = re.compile(r"[0-9]{1,5}")
#: Where the authority of a URL ends: its path, query or fragment.
_AUTHORITY_END = re.compile(r"[/?#]")
#: ``$(VAR)`` as Kubernetes expands it in env values, command and args; ``$$`` escapes it.
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")

#: Default ports of URL schemes, used when an address gives none.
SCHEME_PORTS: Mapping[str, int] = {
    "http": 80, "https": 443, "ws": 80, "wss": 443,
    "postgres": 5432, "postgresql": 5432, "mysql": 3306, "mariadb": 3306,
    "mongodb": 27017, "redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671,
    "smtp": 25, "nats": 4222, "memcached": 11211,
}  # fmt: skip


@value_class
class Address:
    """One ``host[:port]`` found in a string (a value class: a large cluster has one per
    address of every env variable and ConfigMap key).

    ``scheme`` is the URL scheme in lower case (``mysql`` for ``jdbc:mysql://``), ``key`` the
    nearest ``key=`` before it in the same chunk (``Host`` in ``Host=postgresql``), ``text`` the
    address as written, and ``next_port`` a port given as the following separate word
    (``nc -z kafka 9092``).
    """

    host: str
    port: int | None = None
    scheme: str | None = None
    key: str | None = None
    text: str = ""
    next_port: int | None = None

    @property
    def explicit(self) -> bool:
        """True when the string marks this as an address (a scheme or a port), not a bare
        word that merely equals a name."""
        return self.scheme is not None or self.port is not None

    @property
    def effective_port(self) -> int | None:
        """The port given, else the one that follows as a word, else the scheme's default."""
        if self.port is not None:
            return self.port
        if self.next_port is not None:
            return self.next_port
        return SCHEME_PORTS.get(self.scheme or "")


def expand_vars(value: str, env: Mapping[str, str]) -> str:
    """Expand ``$(NAME)`` from ``env`` as the kubelet does: unknown references stay as written,
    ``$$`` becomes ``$``."""
    if "$" not in value:
        return value

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(repl, value)


def find_addresses(value: str) -> list[Address]:
    """Every syntactically valid ``host[:port]`` in ``value``, in order of appearance."""
    found: list[Address] = []
    chunks = _CHUNK.findall(value)
    for index, chunk in enumerate(chunks):
        following = chunks[index + 1] if index + 1 < len(chunks) else ""
        next_port = _port(following) if _PORT.fullmatch(following) else None
        found.extend(_chunk_addresses(chunk, next_port))
    return found


def _chunk_addresses(chunk: str, next_port: int | None) -> list[Address]:
    key: str | None = None
    scheme: str | None = None
    # Find ``://`` first and read the scheme backwards: a regex search for the scheme would
    # retry at every position of long chunks.
    separator = chunk.find("://")
    match = _SCHEME_END.search(chunk, 0, separator) if separator > 0 else None
    if match is not None:
        scheme = match.group(0).lower()
        prefix = chunk[: match.start()]
        # ``--url=http://x``, ``DSN=jdbc:mysql://x``: whatever sits before the scheme is a key.
        key = prefix.rstrip("=:").rpartition("=")[0] or prefix.rstrip("=:") or None
        rest = chunk[separator + 3:].lstrip("/")
    else:
        key_part, sep, rest = chunk.rpartition("=")
        key = key_part if sep else None
    # The authority ends at the path, query or fragment; user info ends at the last ``@``.
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0].rpartition("@")[2]
    items = authority.split(",")
    whole = chunk[match.start():] if match is not None else rest
    addresses = []
    for item in items:
        parsed = _host_port(item)
        if parsed is None:
            continue
        host, port = parsed
        # The matched text is the whole address, or just this host in a list of several.
        text = whole if len(items) == 1 else (f"{scheme}://{item}" if scheme else item)
        addresses.append(Address(host, port, scheme, key, text,
                                 next_port if port is None else None))
    return addresses


def _host_port(item: str) -> tuple[str, int | None] | None:
    host, sep, port_text = item.partition(":")
    host = host.lower().rstrip(".")
    if not host or not _HOST.fullmatch(host) or host.replace(".", "").isdigit():
        return None
    if not sep:
        return host, None
    if not _PORT.fullmatch(port_text):
        return None
    port = _port(port_text)
    return (host, port) if port is not None else None


def _port(text: str) -> int | None:
    port = int(text)
    return port if 0 < port < 65536 else None
