"""Fault injection for the test API server: 403, 410 on continue, 429 with Retry-After, 5xx,
delays, and malformed list items, matched by verb, resource and namespace."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.kubeapi.store import ApiError, ObjectStore, Route


@dataclass
class Fault:
    """A failure the server injects into matching requests.

    ``resource`` is ``plural`` or ``plural.group`` (None: every request, discovery included);
    ``verb`` is one of the :class:`RequestRecord` verbs (None: any); ``times`` counts down on
    every injection (None: forever). ``only_continue`` restricts the fault to list requests
    that carry a ``continue`` token. ``delay`` seconds are slept before answering; with
    ``status`` 0 the request is then served normally.
    """

    status: int = 0
    resource: str | None = None
    verb: str | None = None
    namespace: str | None = None
    times: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    only_continue: bool = False
    reason: str | None = None
    message: str | None = None

    def matches(self, rec_verb: str, resource: str | None, namespace: str | None,
                has_continue: bool) -> bool:
        """Whether this fault applies to a request (ignoring how many times are left)."""
        if self.times is not None and self.times <= 0:
            return False
        if self.resource is not None and self.resource != resource:
            return False
        if self.verb is not None and self.verb != rec_verb:
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        return not (self.only_continue and not has_continue)


class FaultInjection(ObjectStore):
    """The faults half of :class:`~tests.kubeapi.server.KubeAPIServer`."""

    user: str
    _faults: list[Fault]

    def add_fault(self, fault: Fault) -> Fault:
        """Inject ``fault``; the first matching fault wins. Returns it (``times`` counts down)."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault and extra item."""
        with self._lock:
            self._faults.clear()
            self._extra_items.clear()

    def forbid(self, resource: str, *, verb: str | None = "list",
               namespace: str | None = None) -> Fault:
        """Answer 403 Forbidden to ``verb`` (None: all verbs) on ``resource``."""
        return self.add_fault(Fault(status=403, resource=resource, verb=verb,
                                    namespace=namespace))

    def expire_continue(self, resource: str, *, times: int = 1) -> Fault:
        """Answer 410 Gone (reason Expired) to the next ``times`` list pages that carry a
        ``continue`` token for ``resource``."""
        return self.add_fault(Fault(status=410, resource=resource, verb="list",
                                    only_continue=True, times=times))

    def throttle(self, resource: str | None = None, *, times: int = 1, retry_after: int = 1,
                 verb: str | None = None) -> Fault:
        """Answer 429 TooManyRequests with ``Retry-After`` to the next ``times`` requests."""
        return self.add_fault(Fault(status=429, resource=resource, verb=verb, times=times,
                                    retry_after=retry_after))

    def fail(self, resource: str | None = None, *, times: int = 1, status: int = 500,
             verb: str | None = None) -> Fault:
        """Answer ``status`` (5xx) to the next ``times`` matching requests."""
        return self.add_fault(Fault(status=status, resource=resource, verb=verb, times=times))

    def slow(self, seconds: float, resource: str | None = None, *, times: int | None = None,
             verb: str | None = None) -> Fault:
        """Delay matching responses by ``seconds`` (then answer normally)."""
        return self.add_fault(Fault(delay=seconds, resource=resource, verb=verb, times=times))

    def inject_items(self, resource: str, items: list[Any]) -> None:
        """Append raw ``items`` (malformed ones too) to the last page of every list of
        ``resource``; they are not stored."""
        self._type_named(resource)
        with self._lock:
            self._extra_items.setdefault(resource, []).extend(copy.deepcopy(items))

    def _take_fault(self, verb: str, resource: str | None, namespace: str | None,
                    has_continue: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(verb, resource, namespace, has_continue):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def fault_error(self, fault: Fault, route: Route | None, verb: str) -> ApiError:
        """The error an injected ``fault`` answers a request with."""
        rt = route.rt if route else None
        if fault.status == 403:
            what = rt.qualified if rt else "resource"
            if route and route.name:
                what += f' "{route.name}"'
            scope = (f'in the namespace "{route.namespace}"' if route and route.namespace
                     else "at the cluster scope")
            message = fault.message or (
                f'{what} is forbidden: User "{self.user}" cannot {verb} resource '
                f'"{rt.plural if rt else ""}" in API group "{rt.group if rt else ""}" {scope}')
            return ApiError(403, "Forbidden", message,
                            {"group": rt.group if rt else "", "kind": rt.plural if rt else ""})
        if fault.status == 410:
            return ApiError(410, "Expired", fault.message or (
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter."))
        if fault.status == 429:
            seconds = 1 if fault.retry_after is None else fault.retry_after
            headers = {"Retry-After": str(seconds)}
            return ApiError(429, "TooManyRequests", fault.message or
                            "Too many requests, please try again later.",
                            {"retryAfterSeconds": seconds}, headers)
        reasons = {500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
                   409: "Conflict", 404: "NotFound"}
        return ApiError(fault.status, fault.reason or reasons.get(fault.status, "InternalError"),
                        fault.message or "Internal error occurred: injected by the test")
