"""Kubernetes objects from files, directories, kustomizations and stdin, read as
``kubectl apply -f`` reads them.

Contract: :func:`load_manifests` turns each problem with a file or document into one
:class:`~planner.domain.diagnostics.Diagnostic` and keeps going, so one bad file does not hide
the rest of a repository; with ``strict=True`` the first error is raised instead. It raises only
:class:`~planner.errors.InputError`: for that strict error, for a path that does not exist, and
for input that holds no objects and no diagnostic explaining why. Nothing is printed. Duplicate
objects and namespace defaulting are left to the inventory.

Untrusted input is bounded: files over ``max_file_bytes`` are refused before they are read,
YAML aliases may add at most :data:`MAX_ALIAS_NODES` nodes to a document (billion laughs),
recursive aliases are refused, and libyaml caps nesting depth (see
:mod:`planner.sources.yaml_stream`, imported only when a file holds YAML that the compiled
parser does not read).

Parsing is the cost of a scan, so when there are at least two files and
:data:`PARALLEL_MIN_BYTES` of them, they are read by this process and by forked helper
processes at once (:mod:`planner.sources.shared_reading`: helpers from the front of the file
list, this process from the back while it waits), by the same per-file reader as the serial
path; results are handed on in file order, so the result (and the strict error) is the same as
a serial read. ``PLANNER_JOBS=N`` caps the processes reading (``1``: this one alone, but see
below; ``N`` cores or ``PLANNER_JOBS=N``: ``N - 1`` helpers); values that are not a positive
integer are ignored. stdin and kustomize output are read in this process. Any failure of the
helpers themselves (no fork, a killed helper, a result that cannot be pickled) silently leaves
their files to this process.

YAML is read by the compiled path (:mod:`planner.sources.yaml_compiled`, rapidyaml) when the
load holds at least :data:`COMPILED_MIN_BYTES` of files (or one text that large), and by PyYAML
for every text the compiled path cannot prove it reads alike; ``PLANNER_YAML=pyyaml`` reads
everything with PyYAML. Both give the same documents, diagnostics and lines. The compiled
parser runs only in a process without other threads (it borrows descriptor 2, where a TUI
draws), so a load that would take it, asked for by a process running other threads (the TUI's
analysis worker), is read by helpers alone (one when ``PLANNER_JOBS=1`` or on one core) rather
than by PyYAML in the thread (three times as slow on a 10,000-service cluster).
"""

from __future__ import annotations

import enum
import errno
import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Generator, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import orjson

from planner.domain.diagnostics import Diagnostic, Severity, Source
from planner.domain.object_names import kind_problem, name_problem, namespace_problem
from planner.domain.value import value_class
from planner.errors import InputError
from planner.sources.yaml_documents import Problem

if TYPE_CHECKING:

    from planner.sources.yaml_documents import Parsed

DEFAULT_MAX_FILE_BYTES: Final = 256 * 1024 * 1024
"""Largest file, stdin or kustomize output read (256 MiB): far above any real manifest set,
low enough that a stray disk image or log cannot exhaust memory."""

MAX_ALIAS_NODES: Final = 100_000
"""Most nodes that YAML aliases may add to one document when it is expanded. Real manifests
reuse a few small blocks; a billion-laughs document asks for millions."""

KUSTOMIZE_TIMEOUT_SECONDS: Final = 300
"""How long ``kubectl kustomize`` may run; remote bases can hang on a dead network."""

MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")
"""Files read from a directory, as kubectl matches them (case-sensitive); others are skipped."""

KUSTOMIZATION_FILES: Final = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
"""A directory holding one of these is rendered with ``kubectl kustomize``, not listed."""

STDIN: Final = "-"

PARALLEL_MIN_BYTES: Final = 2 * 1024 * 1024
"""Total size of the files below which they are parsed in this process: starting helpers and
sending their results back costs more than it saves on smaller inputs (measured: the
break-even is about 1 MiB of manifests on a 2-core machine)."""

JOBS_ENV: Final = "PLANNER_JOBS"
"""Environment variable capping the processes that read a scan's files; ``1`` reads serially."""

COMPILED_MIN_BYTES: Final = 128 * 1024
"""Size of a load's files (or of one text) from which YAML goes to the compiled parser: importing
rapidyaml costs about 35 ms, which its speed repays from about 100 KiB of manifests."""

YAML_ENV: Final = "PLANNER_YAML"
"""Environment variable choosing the YAML reader: ``pyyaml`` turns the compiled path off."""

_JSON_START: Final = re.compile(r"\s*[\[{]")
_JSON_START_BYTES: Final = re.compile(rb"\s*[\[{]")
_JSON_SPACE: Final = re.compile(r"[ \t\n\r]*")
# Helm-only names inside a template action. Plain `{{ ... }}` is left alone: Grafana legends,
# Prometheus rules and Alertmanager templates carry it inside ConfigMap data.
_HELM_ACTION: Final = re.compile(
    r"\{\{-?\s*[^{}\n]*?(?:\.Values\b|\.Release\.|\.Chart\.|\.Capabilities\.|\.Files\."
    r"|\binclude\s+\"|\btpl\s)")
# A template action at column 0 cannot sit inside a block scalar of a valid manifest.
_TEMPLATE_LINE: Final = re.compile(r"^\{\{", re.MULTILINE)
# klog's header (`E1125 18:07:08.049243 4975 run.go:72] `) says nothing to a user.
_KLOG_HEADER: Final = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [^\]]+\] ")
_TYPE_NAMES: Final[dict[type, str]] = {
    list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean",
    dict: "a mapping", date: "a date", datetime: "a timestamp"}

_HELM_HINT: Final = "looks like a Helm template; render it with `helm template` first (skipped)"


@value_class
class RawDocument:
    """One Kubernetes object as parsed, with where it came from."""

    source: Source
    body: dict[str, Any]


@dataclass
class LoadResult:
    """Everything read: the objects, the diagnostics, and how many documents or files were
    skipped as invalid (each of those has one ``ERROR`` diagnostic)."""

    documents: list[RawDocument] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    invalid: int = 0


def load_manifests(paths: Sequence[str], *, recursive: bool = False, strict: bool = False,
                   stdin: BinaryIO | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                   on_documents: Callable[[list[RawDocument]], None] | None = None,
                   ) -> LoadResult:
    """Read every Kubernetes object in ``paths`` (files, directories, or ``-`` for ``stdin``).

    Directories give their ``.yaml``, ``.yml`` and ``.json`` files in name order, and their
    subdirectories only when ``recursive``; a directory with a kustomization is rendered with
    ``kubectl kustomize`` instead. ``List`` documents are expanded into their items.
    ``progress(done, total)`` is called after each file, ``total`` being the files found;
    ``on_documents(documents)`` before it with the file's documents, in the order of the
    result (so the caller can use them while the next files are parsed).

    Raises:
        InputError: a path does not exist; nothing was found and nothing explains why; or, with
            ``strict``, the first invalid file or document (same text as its diagnostic).
    """
    missing = [path for path in paths if path != STDIN and not os.path.exists(path)]
    if missing:
        raise InputError(_missing(missing[0]))
    collector = _Collector(strict)
    units = _discover(paths, recursive, collector)
    if _compiled_allowed() and _file_bytes(units) >= COMPILED_MIN_BYTES:
        units = [replace(unit, compiled=True) for unit in units]
    # Closed at once on a strict error, so that no helper outlives the load.
    with closing(_read_all(units, stdin, max_file_bytes)) as parts:
        for done, part in enumerate(parts, start=1):
            collector.add(part)
            if on_documents is not None and part.documents:
                on_documents(part.documents)
            if progress is not None:
                progress(done, len(units))
    result = collector.result
    if not result.documents and not result.diagnostics:
        raise InputError(f"no Kubernetes objects found in: {', '.join(paths)}")
    return result


class _Kind(enum.Enum):
    FILE = enum.auto()
    STDIN = enum.auto()
    KUSTOMIZATION = enum.auto()


@value_class
class _Unit:
    """One thing to read. ``listed``: found in a directory, so only a regular file is read
    (a FIFO named ``x.yaml`` would block); a path the user named may be a pipe. ``compiled``:
    part of a load large enough for the compiled YAML parser."""

    path: str
    kind: _Kind
    listed: bool = False
    compiled: bool = False


def _compiled_allowed() -> bool:
    return os.environ.get(YAML_ENV, "").strip().lower() != "pyyaml"


def _file_bytes(units: list[_Unit]) -> int:
    """The total size of the regular files among ``units`` (stdin and kustomize output are
    judged by their own size when read)."""
    total = 0
    for unit in units:
        if unit.kind is _Kind.FILE:
            with suppress(OSError):  # the read reports why
                total += os.stat(unit.path).st_size
    return total


class _Invalid(Exception):
    """A whole file cannot be used; the message says why."""


def _discover(paths: Sequence[str], recursive: bool, collector: _Collector) -> list[_Unit]:
    """The files to read, in kubectl's order: each path in turn, directories walked
    depth-first in name order. Real paths of directories are remembered so that a symlink
    loop is entered once."""
    units: list[_Unit] = []
    visited: set[str] = set()
    for path in paths:
        if path == STDIN:
            units.append(_Unit(path, _Kind.STDIN))
            continue
        # A stack of (path, is_directory), pushed in reverse so that pops come in name order.
        pending = [(path, os.path.isdir(path))]
        while pending:
            current, is_dir = pending.pop()
            if not is_dir:
                units.append(_Unit(current, _Kind.FILE, listed=current != path))
                continue
            real = os.path.realpath(current)
            if real in visited:
                continue
            visited.add(real)
            try:
                with os.scandir(current) as listing:
                    entries = sorted((entry.name, _is_dir(entry)) for entry in listing)
            except OSError as exc:
                collector.error(Source(current, 0), f"cannot read directory: {_reason(exc)}")
                continue
            if any(name in KUSTOMIZATION_FILES for name, _ in entries):
                units.append(_Unit(current, _Kind.KUSTOMIZATION))
                continue
            for name, entry_is_dir in reversed(entries):
                wanted = recursive if entry_is_dir else name.endswith(MANIFEST_SUFFIXES)
                if wanted:
                    pending.append((os.path.join(current, name), entry_is_dir))
            # kubectl skips subfolders silently; a plan of half a GitOps tree must not look
            # like a plan of the whole, so the skipped ones are named.
            skipped = [name for name, d in entries if d and not recursive
                       and not name.startswith(".")]
            if skipped:
                collector.note(Source(current, 0), _skipped_folders(skipped))
    return units


def _missing(path: str) -> str:
    """Why ``path``, which does not exist as far as ``stat`` can tell, cannot be read: a
    symbolic link that ``ls`` lists is not called missing."""
    broken = _broken_link(path)
    return f"{path}: {broken}" if broken else f"path not found: {path}"


def _broken_link(path: str) -> str | None:
    """What is wrong with ``path`` when it is a symbolic link that leads nowhere (a loop, or a
    target that does not exist); None when it is no link or leads somewhere."""
    if not os.path.islink(path):
        return None
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links"
        with suppress(OSError):  # gone since islink: no link to name
            return f"a symbolic link to {os.readlink(path)}, which does not exist"
    return None


def _skipped_folders(names: Sequence[str]) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{len(names)} subfolder(s) not read ({shown}): -R reads them"


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether a directory entry leads to a directory; a broken link is a file (and fails to
    read with a clear error)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


class _Collector:
    """The result of a whole load: the parts of each unit added in file order."""

    def __init__(self, strict: bool) -> None:
        self.result = LoadResult()
        self._strict = strict

    def error(self, source: Source, message: str) -> None:
        """Record one invalid directory; raise it at once when strict."""
        self.add(LoadResult(diagnostics=[Diagnostic(source, Severity.ERROR, message)], invalid=1))

    def note(self, source: Source, message: str) -> None:
        """Record something the user should know about what was (not) read."""
        self.result.diagnostics.append(Diagnostic(source, Severity.INFO, message))

    def add(self, part: LoadResult) -> None:
        """Append the result of one unit. When strict, raise its first error instead: units
        are added in file order, so that is the first error of the load."""
        if self._strict:
            for diagnostic in part.diagnostics:
                if diagnostic.severity is Severity.ERROR:
                    raise InputError(diagnostic.located)
        self.result.documents.extend(part.documents)
        self.result.diagnostics.extend(part.diagnostics)
        self.result.invalid += part.invalid


def _read_all(units: list[_Unit], stdin: BinaryIO | None,
              max_file_bytes: int) -> Generator[LoadResult, None, None]:
    """The result of each unit in file order: read here and by helper processes while they
    work, then here alone."""
    done = 0
    with closing(_from_helpers(units, stdin, max_file_bytes)) as parts:
        for part in parts:
            yield part
            done += 1
    for unit in units[done:]:
        yield _read_unit(unit, stdin, max_file_bytes)


def _from_helpers(units: list[_Unit], stdin: BinaryIO | None,
                  max_file_bytes: int) -> Generator[LoadResult, None, None]:
    """The results of the first units in file order, files parsed by this process and by
    forked helpers at once (:mod:`planner.sources.shared_reading`).

    Yields nothing when helpers would not pay off or cannot be started (no ``fork``), and
    stops early, without an error, when they fail: the caller reads the units not yet yielded
    itself.
    """
    sizes = [_helper_size(unit) for unit in units]
    readers = _readers([size for size in sizes if size is not None])
    needs_a_process = _compiled_needs_a_process(units, sizes)
    if readers < 2 and not needs_a_process:
        return
    # Imported here: most scans read one file or a few and never need another process.
    import multiprocessing

    from planner.sources.shared_reading import SharedReading

    if "fork" not in multiprocessing.get_all_start_methods():
        return  # spawn would re-import the planner in each helper: not worth it
    if units[0].compiled:
        # Imported before the fork, so that the helpers inherit it instead of each paying it.
        import planner.sources.yaml_compiled  # noqa: F401

    reading = SharedReading(
        units, [size is not None for size in sizes],
        # With other threads here the compiled parser will not run in this process: the
        # helpers read every file then (one helper when PLANNER_JOBS=1).
        helpers=max(readers, 1) if needs_a_process else readers - 1,
        parent_reads=not needs_a_process,
        read=lambda unit: _read_unit(unit, stdin, max_file_bytes),
        helper_read=lambda unit: _read_in_helper(unit, max_file_bytes),
        receive=lambda part: part.unpack() if isinstance(part, _Shipped) else part)
    try:
        yield from reading.results()
    except OSError:  # no semaphores, no process support, fork failed
        return


def _helper_size(unit: _Unit) -> int | None:
    """The size of a file a helper process may read, or ``None`` to read ``unit`` here: stdin
    and pipes cannot be handed over, kustomize runs its own process anyway, and a helper's
    stdin is ``/dev/null``, so ``-f /dev/stdin`` redirected from a file must be read here."""
    if unit.kind is not _Kind.FILE:
        return None
    try:
        info = os.stat(unit.path)
    except OSError:
        return None  # the serial read reports why
    try:
        is_stdin = os.path.samestat(info, os.fstat(0))
    except OSError:
        is_stdin = False  # stdin is closed
    return info.st_size if stat.S_ISREG(info.st_mode) and not is_stdin else None


def _compiled_needs_a_process(units: list[_Unit], sizes: list[int | None]) -> bool:
    """Whether a load meant for the compiled parser must go to helper processes to get it:
    this process runs other threads, so the parser will not run here (see the module doc)."""
    return (bool(units) and units[0].compiled and threading.active_count() > 1
            and any(size is not None for size in sizes))


def _readers(sizes: list[int]) -> int:
    """How many processes (this one and helpers) to read files of ``sizes`` with; under 2
    means this one alone."""
    if len(sizes) < 2 or sum(sizes) < PARALLEL_MIN_BYTES:
        return 1
    readers = min(len(sizes), os.cpu_count() or 1)
    try:
        jobs = int(os.environ.get(JOBS_ENV, ""))
    except ValueError:
        return readers
    return min(readers, jobs) if jobs >= 1 else readers


def _read_unit(unit: _Unit, stdin: BinaryIO | None, max_file_bytes: int) -> LoadResult:
    """Everything in one unit."""
    reader = _Reader(stdin=stdin, max_file_bytes=max_file_bytes)
    reader.read(unit)
    return reader.result


def _read_in_helper(unit: _Unit, max_file_bytes: int) -> LoadResult | _Shipped:
    """Everything in one file, read by a helper process, in the form it is best sent back in:
    pickling tens of thousands of nested dicts (and unpickling them in the parent) cost more
    than parsing them, where orjson writes and reads them as JSON in a fraction of that."""
    reader = _Reader(stdin=None, max_file_bytes=max_file_bytes)
    reader.read(unit)
    if not reader.json_exact:
        return reader.result
    return _Shipped.pack(unit.path, reader.result) or reader.result


@value_class
class _Shipped:
    """A :class:`LoadResult` of one file on its way from a helper: its documents as one orjson
    text. Only for documents that orjson itself read: orjson writes back exactly what it read
    (it reads no infinity or NaN, which it would write as null; no integer it cannot write;
    no string it cannot encode), so the parent gets the same values and types."""

    file: str
    documents: bytes  # [[body, doc, item, line], ...]
    diagnostics: list[Diagnostic]
    invalid: int

    @classmethod
    def pack(cls, file: str, result: LoadResult) -> _Shipped | None:
        """``result`` of ``file`` as shipped, or ``None`` when orjson cannot write it (nested
        too deeply for it): pickle it then."""
        if any(doc.source.file != file for doc in result.documents):
            return None
        try:
            documents = orjson.dumps([[doc.body, *doc.source[1:]] for doc in result.documents])
        except orjson.JSONEncodeError:
            return None
        return cls(file, documents, result.diagnostics, result.invalid)

    def unpack(self) -> LoadResult:
        """The :class:`LoadResult` this was packed from."""
        file = self.file
        return LoadResult([RawDocument(Source(file, doc, item, line), body)
                           for body, doc, item, line in orjson.loads(self.documents)],
                          self.diagnostics, self.invalid)


class _Reader:
    """Reads one unit into a :class:`LoadResult`."""

    def __init__(self, *, stdin: BinaryIO | None, max_file_bytes: int) -> None:
        self.result = LoadResult()
        self._stdin = stdin
        self._max_bytes = max_file_bytes
        self._compiled = False
        #: Whether every document was read by orjson (see :class:`_Shipped`).
        self.json_exact = True

    def error(self, source: Source, message: str) -> None:
        """Record one invalid file or document."""
        self.result.diagnostics.append(Diagnostic(source, Severity.ERROR, message))
        self.result.invalid += 1

    def read(self, unit: _Unit) -> None:
        """Add the objects of one unit, or its diagnostics."""
        self._compiled = unit.compiled
        try:
            data = self._bytes(unit)
        except _Invalid as exc:
            self.error(Source(unit.path, 0), str(exc))
            return
        if _is_json(unit, data):
            # One JSON value, the usual `kubectl get -o json` export: orjson reads it faster
            # and needs no decoded copy. Anything it refuses (a stream of values, NaN,
            # a syntax error, bad UTF-8) is read below, which reports what is wrong.
            try:
                body = orjson.loads(data)
            except orjson.JSONDecodeError:
                pass
            else:
                if not _may_repeat_keys(data, body):
                    self._add_document(unit.path, 1, body, _first_line(data))
                    return
                # orjson keeps the last of a repeated key; the careful reader names it.
        try:
            text = _decode(data)
        except _Invalid as exc:
            self.error(Source(unit.path, 0), str(exc))
            return
        if _is_json(unit, text):
            self._add_json(unit.path, text)
        else:
            self._add_yaml(unit.path, text)
        if unit.kind is _Kind.KUSTOMIZATION:
            # Lines of kubectl kustomize's output point at nothing in the user's files.
            self.result.documents = [RawDocument(d.source._replace(line=0), d.body)
                                     for d in self.result.documents]

    def _bytes(self, unit: _Unit) -> bytes:
        if unit.kind is _Kind.STDIN:
            return self._bounded_read(self._stdin or sys.stdin.buffer)
        if unit.kind is _Kind.KUSTOMIZATION:
            return self._kustomize(unit.path)
        try:
            info = os.stat(unit.path)
            if stat.S_ISREG(info.st_mode):
                if info.st_size > self._max_bytes:
                    raise _Invalid(f"file is {info.st_size} bytes, over the limit of "
                                   f"{self._max_bytes} bytes")
                with open(unit.path, "rb") as stream:
                    return self._bounded_read(stream)
            if unit.listed:
                raise _Invalid("not a regular file")
            return self._special(unit.path, info)
        except OSError as exc:
            # ``ls`` lists a link that leads nowhere: say so rather than "no such file".
            raise _Invalid(_broken_link(unit.path) or f"cannot read: {_reason(exc)}") from exc

    def _special(self, path: str, info: os.stat_result) -> bytes:
        """A path the user named that is no regular file. A pipe is read (``-f <(kubectl get
        ...)`` names one), but opened without waiting for a writer: a FIFO nothing writes to
        would block forever, and is refused instead. Devices and sockets are refused, except
        the terminal or file that is this process's stdin (``-f /dev/stdin``)."""
        if stat.S_ISFIFO(info.st_mode):
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            with open(fd, "rb") as stream:
                # Blocking again: a writer that is still writing is waited for. A FIFO that no
                # process holds open for writing reads as end of file at once.
                os.set_blocking(fd, True)
                data = self._bounded_read(stream)
            if not data:
                raise _Invalid("a FIFO that nothing writes to: refused rather than waited on")
            return data
        try:
            is_stdin = os.path.samestat(info, os.fstat(0))
        except OSError:
            is_stdin = False
        if not is_stdin:
            what = ("character device" if stat.S_ISCHR(info.st_mode) else "block device"
                    if stat.S_ISBLK(info.st_mode) else "socket" if stat.S_ISSOCK(info.st_mode)
                    else "special file")
            raise _Invalid(f"not a regular file but a {what}: refused")
        with open(path, "rb") as stream:
            return self._bounded_read(stream)

    def _bounded_read(self, stream: BinaryIO) -> bytes:
        # Pipes have no size to stat: read one byte past the limit to notice the overflow.
        data = stream.read(self._max_bytes + 1)
        if len(data) > self._max_bytes:
            raise _Invalid(f"input is over the limit of {self._max_bytes} bytes")
        return data

    def _kustomize(self, directory: str) -> bytes:
        import shutil  # here: it loads compression modules no other scan needs
        import subprocess

        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise _Invalid("cannot render this kustomization: kubectl is not on PATH (install "
                           "it, or render the directory with `kustomize build` first)")
        try:
            done = subprocess.run([kubectl, "kustomize", directory], capture_output=True,
                                  timeout=KUSTOMIZE_TIMEOUT_SECONDS, check=False)
        except subprocess.TimeoutExpired as exc:
            raise _Invalid(
                f"kubectl kustomize did not finish in {KUSTOMIZE_TIMEOUT_SECONDS} s") from exc
        except OSError as exc:
            raise _Invalid(f"cannot run kubectl kustomize: {_reason(exc)}") from exc
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = _KLOG_HEADER.sub("", lines[0]) if lines else f"exit code {done.returncode}"
            raise _Invalid(f"kubectl kustomize failed: {detail}")
        if len(done.stdout) > self._max_bytes:
            raise _Invalid(f"kustomize output is over the limit of {self._max_bytes} bytes")
        return done.stdout

    def _add_json(self, file: str, text: str) -> None:
        # A stream of JSON values, as kubectl accepts; a syntax error ends the file.
        import json  # orjson reads single JSON values; streams and errors come here

        self.json_exact = False

        decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)
        doc = 0
        position = _skip_json_space(text, 0)
        counted = line = 1
        while position < len(text):
            doc += 1
            line += text.count("\n", counted, position)
            counted = position
            try:
                body, position = decoder.raw_decode(text, position)
            except json.JSONDecodeError as exc:
                self.error(Source(file, doc), f"JSON syntax error at line {exc.lineno}: {exc.msg}")
                return
            except RecursionError:
                self.error(Source(file, doc), "JSON is nested too deeply")
                return
            except _DuplicateKey:
                # As kubectl does: the document is refused, naming the key and its object.
                pairs, position = json.JSONDecoder(object_pairs_hook=_Pairs).raw_decode(
                    text, position)
                key, where = _repeated_key(pairs) or ("?", "an object")
                self.error(Source(file, doc, 0, line),
                           f"duplicate key {key!r} in {where} (kubectl refuses duplicate keys)")
                position = _skip_json_space(text, position)
                continue
            # Items of a JSON List share its line: a JSON stream keeps no node positions.
            self._add_document(file, doc, body, line)
            position = _skip_json_space(text, position)

    def _add_yaml(self, file: str, text: str) -> None:
        templated = "{{" in text
        if templated and _HELM_ACTION.search(text):
            self._warn_helm(file)
            return
        # Imported here: a scan of JSON needs no YAML parser, whose import is not free.
        documents: Sequence[Parsed | Problem] | None = None
        if self._compiled or (len(text) >= COMPILED_MIN_BYTES and _compiled_allowed()):
            from planner.sources.yaml_compiled import compiled_documents

            documents = compiled_documents(text)
        if documents is None:
            from planner.sources.yaml_stream import parse_yaml

            self.json_exact = False
            documents = parse_yaml(text, max_alias_nodes=MAX_ALIAS_NODES)
        problems = [entry for entry in documents if isinstance(entry, Problem)]
        if problems and templated and _failed_on_template(text, problems):
            self._warn_helm(file)
            return
        for entry in documents:
            if isinstance(entry, Problem):
                self.error(Source(file, entry.doc), entry.message)
            else:
                self._add_document(file, entry.doc, entry.body, entry.line, entry.items)

    def _warn_helm(self, file: str) -> None:
        self.result.diagnostics.append(Diagnostic(Source(file, 0), Severity.WARNING, _HELM_HINT))

    def _add_document(self, file: str, doc: int, body: Any, line: int = 0,
                      item_lines: tuple[int, ...] = ()) -> None:
        if body is None:
            return
        if isinstance(body, dict) and _is_list(body):
            if (problem := kind_problem(body["kind"])) is not None:
                self.error(Source(file, doc, 0, line), problem)
                return
            items = body["items"]
            if not isinstance(items, list):
                self.error(Source(file, doc, 0, line),
                           f"{body['kind']} has `items` that is not a list")
                return
            for index, item in enumerate(items, start=1):
                at = item_lines[index - 1] if index <= len(item_lines) else line
                self._add_object(Source(file, doc, index, at), item)
        else:
            self._add_object(Source(file, doc, 0, line), body)

    def _add_object(self, source: Source, body: Any) -> None:
        problem = _object_problem(body)
        if problem is None:
            self.result.documents.append(RawDocument(source, body))
        else:
            self.error(source, problem)


class _DuplicateKey(Exception):
    """A key given twice in one JSON object."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _DuplicateKey
    return found


class _Pairs(list[tuple[str, Any]]):
    """One JSON object's members as the text gives them, a repeated key included."""


def _repeated_key(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first key given twice in one object of ``value`` (read with :class:`_Pairs`) and
    where that object is (``items[3].metadata``), depth first."""
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, _ in value:
            if key in seen:
                return key, path or "the top-level object"
            seen.add(key)
        children = ((f"{path}.{key}" if path else key, item) for key, item in value)
    elif isinstance(value, list):
        children = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    else:
        return None
    for where, item in children:
        if (found := _repeated_key(item, where)) is not None:
            return found
    return None


def _may_repeat_keys(data: bytes, body: Any) -> bool:
    """Whether the JSON text ``data`` may give a key twice in one object, which orjson reads
    as its last value without a word. Outside strings a colon only follows a key, and orjson
    never escapes one, so written back the value has as many colons as the text exactly when
    no member was dropped. A text that escapes a colon (``\\u003a``) or that orjson cannot
    write back (nested too deeply) goes the careful way too."""
    if b"\\u003a" in data or b"\\u003A" in data:
        return True
    try:
        return data.count(b":") != orjson.dumps(body).count(b":")
    except orjson.JSONEncodeError:
        return True


def _first_line(data: bytes) -> int:
    """The 1-based line of the first non-blank byte (where a single JSON value starts)."""
    position = 0
    while position < len(data) and data[position] in b" \t\r\n":
        position += 1
    return data.count(b"\n", 0, position) + 1


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise _Invalid("binary file (contains NUL bytes), not a manifest")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _Invalid(f"not UTF-8 text (invalid byte at line {line})") from exc


def _is_json(unit: _Unit, content: str | bytes) -> bool:
    """YAML by extension (.yaml, .yml); anything else, ``.json`` files included, is JSON when
    it starts with ``{`` or ``[``, as kubectl's decoder sniffs it."""
    if unit.kind is _Kind.FILE and unit.path.endswith((".yaml", ".yml")):
        return False
    # A .json file is sniffed too: kubectl reads YAML whatever the extension.
    start = _JSON_START.match(content) if isinstance(content, str) else (
        _JSON_START_BYTES.match(content))
    return unit.kind is not _Kind.KUSTOMIZATION and start is not None


def _skip_json_space(text: str, position: int) -> int:
    match = _JSON_SPACE.match(text, position)
    return match.end() if match else position


def _failed_on_template(text: str, problems: list[Problem]) -> bool:
    """Whether a YAML error comes from template actions: one starts a line, or sits on the
    line where parsing failed (``name: {{ .name }}-x`` is not YAML)."""
    if _TEMPLATE_LINE.search(text):
        return True
    lines = text.splitlines()
    return any(0 < problem.line <= len(lines) and "{{" in lines[problem.line - 1]
               for problem in problems)


def _is_list(body: dict[Any, Any]) -> bool:
    kind = body.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and "items" in body


def _object_problem(body: Any) -> str | None:
    """What stops ``kubectl apply`` from taking ``body``, or ``None``: its shape, then the
    API server's naming rules (:mod:`planner.domain.object_names`), so that no name or kind
    larger than Kubernetes allows reaches a table, a report or a graph node."""
    if not isinstance(body, dict):
        kind = _TYPE_NAMES.get(type(body), type(body).__name__)
        return f"document is not a mapping (a Kubernetes object) but {kind}"
    for key in ("apiVersion", "kind"):
        value = body.get(key)
        if not isinstance(value, str) or not value:
            return f"missing {key}" if value is None else f"{key} is not a non-empty string"
    kind = body["kind"]
    if (problem := kind_problem(kind)) is not None:
        return problem
    metadata = body.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if name is not None and not isinstance(name, str):
        # YAML reads an unquoted 2001-01-01 as a date and 0123 as a number: say so, and how.
        type_name = _TYPE_NAMES.get(type(name), type(name).__name__)
        return f"{kind} metadata.name is {type_name}, not a string: quote it"
    if not isinstance(name, str) or not name:
        hint = (" (generateName is not enough for kubectl apply)"
                if isinstance(metadata, dict) and "generateName" in metadata else "")
        return f"{kind} has no metadata.name{hint}"
    if (problem := name_problem(kind, name)) is not None:
        return f"metadata.name: {problem}"
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if isinstance(namespace, str) and namespace and (
            problem := namespace_problem(namespace)) is not None:
        return f"metadata.namespace: {problem}"
    return None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


#: A namespace name: an RFC 1123 label.
_NAMESPACE_NAME: Final = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")


def folder_namespaces(roots: Sequence[str], documents: Sequence[RawDocument]) -> dict[str, str]:
    """Source file -> namespace for ``--namespace-per-folder``: a file under an immediate
    subfolder of a directory in ``roots`` gets that subfolder's name (at any depth below it);
    files directly in the directory keep the default.

    Raises ``InputError`` naming the folder when its name is not a valid namespace name."""
    dirs = [os.path.normpath(r) for r in roots if r != "-" and os.path.isdir(r)]
    found: dict[str, str] = {}
    for file in sorted({doc.source.file for doc in documents}):
        path = os.path.normpath(file)
        for root in dirs:
            rel = os.path.relpath(path, root)
            parts = rel.split(os.sep)
            if rel.startswith(os.pardir) or len(parts) < 2:
                continue
            if not _NAMESPACE_NAME.fullmatch(parts[0]):
                raise InputError(
                    f"--namespace-per-folder: folder {os.path.join(root, parts[0])!r} is not a "
                    "valid namespace name (lowercase letters, digits and '-', at most 63 "
                    "characters, starting and ending with a letter or digit)")
            found[file] = parts[0]
            break
    return found
