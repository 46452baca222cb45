"""Reading files in this process and in forked helpers at once, with results in file order.

A process pool leaves the parent idle while it waits (its only work is to take the results
in) and adds a thread, beside which the compiled YAML parser will not run
(:mod:`planner.sources.yaml_compiled`). Here the parent reads too: helper processes take files
from the front of the list, and the parent, whenever the next result it needs has not come
yet, reads a file from the back. The two ends meet in the middle, so however the work falls,
every file is read once; the parent hands the results on in file order, so the load is the
same as reading one file after another.

A helper that dies, or a result that cannot be sent, leaves its file to the parent: the load
still completes, in order, with the same results.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Generator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")

#: What a helper sends for a task it could not send the result of: the parent reads it.
_SKIPPED = None


class _Ends:
    """The two ends of the list of shareable tasks, in memory the processes share: helpers
    take from the front, the parent from the back; ``front > back`` once all are taken."""

    def __init__(self, context: Any, count: int) -> None:
        self.lock = context.Lock()
        self.front = context.RawValue("q", 0)
        self.back = context.RawValue("q", count - 1)

    def take_front(self) -> int | None:
        with self.lock:
            position = self.front.value
            if position > self.back.value:
                return None
            self.front.value = position + 1
            return int(position)

    def take_back(self) -> int | None:
        with self.lock:
            position = self.back.value
            if position < self.front.value:
                return None
            self.back.value = position - 1
            return int(position)


def _widen(connection: Connection) -> None:
    """Give the pipe the largest buffer the system allows (Linux: 1 MiB by default, against
    64 KiB): a helper then goes on reading while its results wait for the parent, which
    takes them in between files of its own."""
    try:
        import fcntl

        with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as limit:
            size = int(limit.read())
        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError, ValueError):
        pass  # not Linux, or not allowed: the default buffer works, with more waiting


class SharedReading(Generic[Task, Result]):
    """Run ``helper_read`` on tasks in ``helpers`` forked processes and ``read`` here, results
    in task order (see the module docstring).

    ``shareable[i]`` says whether task ``i`` may go to a helper (stdin, for one, may not).
    ``helper_read`` runs in a helper and returns something picklable; ``receive`` turns it into
    a result here (``None`` from a helper: read the task here). Requires the ``fork`` start
    method: helpers inherit the tasks and the functions instead of importing the planner."""

    def __init__(self, tasks: Sequence[Task], shareable: Sequence[bool], *, helpers: int,
                 read: Callable[[Task], Result], helper_read: Callable[[Task], Any],
                 receive: Callable[[Any], Result], parent_reads: bool = True) -> None:
        self.tasks = tasks
        self.parent_reads = parent_reads
        self.read = read
        self.helper_read = helper_read
        self.receive = receive
        self.helpers = helpers
        #: The tasks helpers may take, by index; the ends of :class:`_Ends` are positions here.
        self.shared = [i for i, ok in enumerate(shareable) if ok]

    def results(self) -> Generator[Result, None, None]:
        """The result of every task, in order. Raises ``OSError`` before the first result when
        no helper can be started (the caller then reads everything itself)."""
        context = multiprocessing.get_context("fork")
        ends = _Ends(context, len(self.shared))
        processes, connections = [], []
        try:
            for _ in range(self.helpers):
                receiving, sending = context.Pipe(duplex=False)
                process = context.Process(target=self._helper, args=(ends, sending),
                                          daemon=True)
                _widen(sending)
                process.start()
                sending.close()
                processes.append(process)
                connections.append(receiving)
            yield from self._in_order(ends, connections)
        finally:
            for process in processes:
                if process.is_alive():
                    process.kill()
                process.join()
            for connection in connections:
                connection.close()

    def _helper(self, ends: _Ends, sending: Connection) -> None:
        """A helper's life: take tasks from the front, send each result back."""
        try:
            while (position := ends.take_front()) is not None:
                index = self.shared[position]
                try:
                    payload = self.helper_read(self.tasks[index])
                    sending.send((index, payload))
                except Exception:  # unpicklable, too big, ...: the parent reads it
                    sending.send((index, _SKIPPED))
        finally:
            sending.close()
            # No interpreter teardown: the parent's objects (inherited) need no clean-up.
            os._exit(0)

    def _in_order(self, ends: _Ends, connections: list[Connection]
                  ) -> Generator[Result, None, None]:
        ready: dict[int, Result] = {}
        open_connections = list(connections)
        shared = frozenset(self.shared)
        for index in range(len(self.tasks)):
            if index not in shared:
                yield self.read(self.tasks[index])
                continue
            while index not in ready:
                if self.parent_reads:
                    if self._collect(open_connections, ready, block=False):
                        continue
                    behind = ends.take_back()
                    if behind is not None:
                        ready[self.shared[behind]] = self.read(self.tasks[self.shared[behind]])
                        continue
                if not open_connections:
                    # Every helper is gone and this task never came: read it here.
                    ready[index] = self.read(self.tasks[index])
                else:
                    self._collect(open_connections, ready, block=True)
            yield ready.pop(index)

    def _collect(self, connections: list[Connection], ready: dict[int, Result],
                 *, block: bool) -> bool:
        """Take in what the helpers sent; False when nothing came."""
        came = False
        for connection in wait(connections, timeout=None if block else 0):
            assert isinstance(connection, Connection)
            try:
                index, payload = connection.recv()
            except (EOFError, OSError):
                connections.remove(connection)  # the helper finished or died
                continue
            came = True
            ready[index] = (self.read(self.tasks[index]) if payload is _SKIPPED
                            else self.receive(payload))
        return came
