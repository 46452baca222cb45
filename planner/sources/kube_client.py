"""The Kubernetes API connection shared by the live scan (read-only) and the apply engine.

* :func:`connect` loads a kubeconfig (or the in-cluster service account) into a fresh
  ``ApiClient``; global client state is never touched and refreshed tokens are never written
  back. Configuration problems raise :class:`~planner.errors.ClusterError`.
* :class:`KubeApi` sends one request over it and returns the raw JSON answer: 429 and 5xx are
  retried with exponential backoff honouring ``Retry-After`` within one budget, 401 and
  unreachable servers raise ``ClusterError`` with one line that names the API server URL and
  never a credential. Every other status is returned for the caller to interpret.

The ``kubernetes`` package is imported inside functions only, so offline commands never load it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from planner.domain.value import value_class
from planner.errors import ClusterError, ClusterTimeout, NoKubeconfig
from planner.sources.kubeconfig import check_kubeconfig

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, Configuration

_USER_AGENT: Final = "meshplan"
_FIRST_BACKOFF_S: Final = 0.25
_MAX_BACKOFF_S: Final = 8.0
_MAX_RETRIES: Final = 10  # per request, as client-go; Retry-After: 0 must not loop forever
_RETRIED_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_IN_CLUSTER: Final = "in-cluster"


@value_class
class KubeTarget:
    """Which cluster to read: a kubeconfig (None: ``$KUBECONFIG`` or ``~/.kube/config``, else
    the in-cluster service account), a context (None: the current one) and a namespace (None:
    all namespaces)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None




# --- configuration ------------------------------------------------------------------------


class _Collect(logging.Handler):
    """Keeps the log records the kubernetes client emits while it is installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:  # the client logs plugin failures as errors
            self.messages.append(record.getMessage())


@contextmanager
def _exec_plugin_errors() -> Iterator[None]:
    """Turn the client's logged exec-plugin failures into one ClusterError line.

    The kubernetes client runs a kubeconfig ``exec`` credential plugin while loading (and again
    when its token expires), and on failure it does not raise: it logs the error on the root
    logger, plugin stderr included, and goes on without credentials. That stderr can hold a
    token, and the user would only see a puzzling 401 after it. So the records are kept here,
    never printed, and a failure becomes an error that keeps the exit code but drops what the
    plugin printed (as the rest of this module, it never shows credentials)."""
    root = logging.getLogger()
    collect = _Collect()
    saved = root.handlers[:]
    # Only our handler while the client runs: nothing it logs reaches stderr or a log file.
    root.handlers = [collect]
    try:
        yield
    finally:
        root.handlers = saved
    if collect.messages:
        raise ClusterError("the kubeconfig user's exec credential plugin failed: "
                           f"{_plugin_failure(collect.messages[0])}")


def _plugin_failure(message: str) -> str:
    """The part of a client exec error that is ours to show: never the plugin's stderr."""
    returned = re.match(r"exec: process returned -?\d+", message)
    if returned:
        return returned.group().removeprefix("exec: ")
    return first_line(message.removeprefix("exec: "), 120)


def _kubeconfig_paths(explicit: str | None) -> list[str]:
    if explicit is not None:
        return [explicit]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def connect(target: KubeTarget) -> tuple[ApiClient, str]:
    """A fresh ApiClient for ``target`` (global client state is never touched) and the name of
    the context, for sources and messages."""
    from kubernetes import client
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    # The loaders have no annotations; Any keeps mypy --strict quiet about untyped calls.
    config: Any = kube_config
    configuration = client.Configuration()
    paths = _kubeconfig_paths(target.kubeconfig)
    found = [p for p in paths if os.path.exists(p)]
    try:
        if found or target.kubeconfig is not None:
            if not found:
                raise ClusterError(f"kubeconfig {target.kubeconfig} does not exist")
            for path in found:
                check_kubeconfig(path)  # the loader's own errors would read as our bugs
            config_file = os.pathsep.join(found)
            context = target.context or current_context(config_file)
            # persist_config=False: refreshed exec/OIDC tokens must never be written back
            # into the user's kubeconfig by a read-only tool.
            with _exec_plugin_errors():
                config.load_kube_config(config_file=config_file, context=target.context,
                                        client_configuration=configuration,
                                        persist_config=False)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            if target.context is not None:
                raise ClusterError(f"no kubeconfig found for context {target.context!r} "
                                   f"(looked at {', '.join(paths)})")
            config.load_incluster_config(client_configuration=configuration)
            context = _IN_CLUSTER
        else:
            raise NoKubeconfig(f"no kubeconfig found (looked at {', '.join(paths)}) and not "
                               "running inside a cluster; pass --kubeconfig", tuple(paths))
    except ConfigException as exc:
        raise ClusterError(f"cannot load the Kubernetes configuration: "
                           f"{first_line(str(exc))}") from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        # A kubeconfig that is not YAML or lacks keys makes the loader raise plain errors.
        raise ClusterError(f"cannot load the Kubernetes configuration from "
                           f"{', '.join(found) or 'the cluster'}: {type(exc).__name__}: "
                           f"{first_line(str(exc))}") from None
    # Our own loop retries and reports; urllib3's silent retries would hide an unreachable
    # server behind several timeouts.
    configuration.retries = False
    api_client = client.ApiClient(configuration)
    api_client.user_agent = _USER_AGENT
    return api_client, context


def current_context(config_file: str) -> str:
    from kubernetes import config as kube_config

    config: Any = kube_config
    _, active = config.list_kube_config_contexts(config_file)
    return str((active or {}).get("name") or "default")


def first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line[:limit]


def public_url(host: str) -> str:
    """The server URL without any user:password part, for messages."""
    parts = urlsplit(host)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class Response:
    """One answer: the HTTP status, the parsed JSON body and the reason phrase."""

    status: int
    body: Any  # parsed JSON, or None when the body is not JSON
    reason: str


def _parse(data: bytes) -> Any:
    """An answer's JSON body (None when empty or not JSON). orjson parses a list page in about
    half of ``json``'s time; what it refuses (an integer beyond 64 bits) ``json`` reads."""
    import orjson

    if not data:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            return json.loads(data)
        except ValueError:
            return None


class KubeApi:
    """Requests with retries over one ApiClient; counts calls and spends one retry budget."""

    def __init__(self, api_client: ApiClient, timeout_s: float, max_retry_s: float) -> None:
        self.client = api_client
        self.configuration: Configuration = api_client.configuration
        self.url = public_url(str(self.configuration.host))
        self.timeout_s = timeout_s
        self.retry_budget_s = max_retry_s
        self.calls = 0
        # The scan lists several kinds at once: calls and the retry budget are shared.
        self._lock = threading.Lock()

    def get(self, path: str, query: dict[str, str], what: str) -> Response:
        """GET ``path``; see :meth:`request`."""
        return self.request("GET", path, query, what)

    def request(self, method: str, path: str, query: dict[str, str], what: str, *,
                body: Any = None, content_type: str | None = None) -> Response:
        """Send one request; 429/5xx are retried here, other statuses are returned. ``what``
        says what the call was for, in messages ("list pods"). ``body`` is sent as JSON
        (valid YAML too, so server-side apply bodies need no YAML encoder). Every write the
        planner sends is idempotent (apply, merge patch to fixed values, delete), so a retry
        after a 5xx cannot do a change twice."""
        attempt = 0
        while True:
            response, retry_after = self._once(method, path, query, body, content_type)
            if response.status not in _RETRIED_STATUSES:
                if response.status == 401:
                    raise ClusterError(
                        f"API server {self.url} rejected the credentials (401 Unauthorized) "
                        f"while trying to {what}; log in again or check the kubeconfig user")
                return response
            delay = retry_after if retry_after is not None else min(
                _FIRST_BACKOFF_S * 2**attempt, _MAX_BACKOFF_S)
            if delay > self.retry_budget_s or attempt >= _MAX_RETRIES:
                gave_up = ClusterTimeout if response.status == 504 else ClusterError
                raise gave_up(
                    f"API server {self.url} answered {response.status} {response.reason} to "
                    f"{what} {attempt + 1} time(s); gave up retrying")
            with self._lock:
                self.retry_budget_s -= delay
            time.sleep(delay)
            attempt += 1

    def _once(self, method: str, path: str, query: dict[str, str], body: Any,
              content_type: str | None) -> tuple[Response, float | None]:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        header_params = {"Accept": "application/json"}
        if content_type is not None:
            header_params["Content-Type"] = content_type
        # An expired exec-plugin token is refreshed here, by running the plugin again.
        with _exec_plugin_errors():
            verb, url, headers, payload, _ = self.client.param_serialize(
                method, path, query_params=list(query.items()), header_params=header_params,
                body=body, auth_settings=["BearerToken"])
        with self._lock:
            self.calls += 1
        dropped_once = False
        while True:
            try:
                raw: Any = self.client.call_api(verb, url, header_params=headers, body=payload,
                                                _request_timeout=(self.timeout_s,
                                                                  self.timeout_s))
                data = raw.read()
                break
            except urllib3.exceptions.ProtocolError as exc:
                # A pooled keep-alive connection the server closed: reconnect once.
                if dropped_once:
                    raise ClusterError(self._unreachable(exc)) from None
                dropped_once = True
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                # A read that timed out: the server took the request and did not answer in
                # time, so it is up and this one read is what failed (a connect timeout stays
                # a ClusterError: unreachable).
                timed_out = isinstance(exc, urllib3.exceptions.ReadTimeoutError) or isinstance(
                    getattr(exc, "reason", None), urllib3.exceptions.ReadTimeoutError)
                raise (ClusterTimeout if timed_out else ClusterError)(
                    self._unreachable(exc)) from None
            except ApiException as exc:  # the client wraps TLS failures as status 0
                raise ClusterError(f"cannot reach API server {self.url}: "
                                   f"{first_line(str(exc.reason))}") from None
        answer = _parse(data)
        retry_after: float | None = None
        header = raw.getheader("Retry-After")
        if header is not None:
            try:
                retry_after = max(0.0, float(header))
            except ValueError:
                retry_after = None
        return Response(raw.status, answer, str(raw.reason or "")), retry_after

    def _unreachable(self, exc: BaseException) -> str:
        import urllib3

        chain: list[BaseException] = []
        seen: BaseException | None = exc
        while seen is not None and seen not in chain:
            chain.append(seen)
            seen = seen.__cause__ or seen.__context__

        def has(*types: type[BaseException]) -> bool:
            return any(isinstance(e, types) for e in chain)

        errors = urllib3.exceptions
        # Order matters: urllib3's NewConnectionError subclasses ConnectTimeoutError, so a
        # refused connection also "is" a timeout.
        if has(ConnectionRefusedError):
            reason = "connection refused"
        elif has(errors.NameResolutionError):
            reason = "host name does not resolve"
        elif has(TimeoutError, errors.ReadTimeoutError) or any(
                isinstance(e, errors.ConnectTimeoutError)
                and not isinstance(e, errors.NewConnectionError) for e in chain):
            reason = f"no answer within {self.timeout_s:g}s"
        elif has(errors.ProtocolError):
            reason = "connection closed by the server"
        elif has(OSError):
            os_error = next(e for e in chain if isinstance(e, OSError))
            reason = os_error.strerror or type(os_error).__name__
        else:
            reason = "connection failed"
        return f"cannot reach API server {self.url}: {reason}"

