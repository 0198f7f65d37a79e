"""An overall deadline for one subscription's discovery, enforced around every blocking read and child process.

Per-read timeouts are no deadline: a registry that answers one byte every few seconds never trips them. The
deadline in force is a context variable set by `within()`; the HTTP transport of the registry client and of
the chart index fetch bounds every connect, read and write by it, `run_process` kills a child's whole process
group at it, and `sleep` never waits past it. Code outside any `within()` runs unbounded, as before.
"""

from __future__ import annotations

import contextvars
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import httpcore
import httpx

from kargo_actions.errors import FailedError
from kargo_actions.struct import struct

TIMEOUT_ENV = "KARGO_ACTIONS_DISCOVERY_TIMEOUT"
_HOW_TO_RAISE = f"raise Settings discoveryTimeout, `discover --timeout` or {TIMEOUT_ENV} if it is only slow"

P = ParamSpec("P")
R = TypeVar("R")


def shown(seconds: float) -> str:
    """A duration as Go prints the short ones: 3s, 1.5s, 5m0s."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:g}s"


class DeadlineExceededError(FailedError):
    """A subscription's discovery did not finish within its deadline; what it waited for was stopped."""

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        super().__init__(
            f"{what} gave no complete answer within the discovery deadline of {shown(seconds)}; "
            f"stopped waiting ({_HOW_TO_RAISE})"
        )


@struct
class Deadline:
    """When one subscription's discovery must be done (time.monotonic), and what it waits for."""

    what: str  # "registry 127.0.0.1:5000 (web)", "git remote https://...": named in messages
    seconds: float
    expires: float

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def error(self) -> DeadlineExceededError:
        return DeadlineExceededError(self.what, self.seconds)

    def bound(self, timeout: float | None) -> float:
        """`timeout` cut to what is left; the deadline's error when nothing is."""
        left = self.remaining()
        if left <= 0:
            raise self.error()
        return left if timeout is None else min(timeout, left)


_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("discovery_deadline", default=None)


@contextmanager
def within(seconds: float, what: str) -> Iterator[Deadline]:
    """Run the block under a deadline `seconds` from now (in this thread; `carry` takes it to others)."""
    deadline = Deadline(what, seconds, time.monotonic() + seconds)
    token = _CURRENT.set(deadline)
    try:
        yield deadline
    finally:
        _CURRENT.reset(token)


def current() -> Deadline | None:
    return _CURRENT.get()


def bounded(timeout: float | None) -> float | None:
    """`timeout` cut to the deadline in force (unchanged without one); the deadline's error when it passed."""
    deadline = _CURRENT.get()
    return timeout if deadline is None else deadline.bound(timeout)


def carry(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` running under the caller's deadline in whatever thread calls it (a pool's workers start bare)."""
    deadline = _CURRENT.get()
    if deadline is None:
        return fn

    def under_deadline(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _CURRENT.set(deadline)
        try:
            return fn(*args, **kwargs)
        finally:
            _CURRENT.reset(token)

    return under_deadline


def sleep(seconds: float, sleeper: Callable[[float], None] = time.sleep) -> None:
    """Wait `seconds` (a retry's backoff), or fail at the deadline rather than sleep past it."""
    deadline = _CURRENT.get()
    if deadline is not None and seconds >= deadline.remaining():
        sleeper(max(deadline.remaining(), 0.0))
        raise deadline.error()
    sleeper(seconds)


# The HTTP transport: every socket operation is bounded by the deadline of the calling thread.


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _deadline_as_error():
            return self._inner.read(max_bytes, bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _deadline_as_error():
            self._inner.write(buffer, bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        with _deadline_as_error():
            return _Stream(self._inner.start_tls(ssl_context, server_hostname, bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        with _deadline_as_error():
            stream = self._inner.connect_tcp(host, port, bounded(timeout), local_address, socket_options)
        return _Stream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        with _deadline_as_error():
            return _Stream(self._inner.connect_unix_socket(path, bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        sleep(seconds)


@contextmanager
def _deadline_as_error() -> Iterator[None]:
    # A socket timeout cut short by the deadline is the deadline's error, not a timeout to retry.
    try:
        yield
    except httpcore.TimeoutException:
        deadline = _CURRENT.get()
        if deadline is not None and deadline.remaining() <= 0:
            raise deadline.error() from None
        raise


def http_transport(*, verify: bool, limits: httpx.Limits | None = None) -> httpx.HTTPTransport:
    """httpx's transport on a network backend that bounds every connect, read and write by the deadline."""
    limits = limits or httpx.Limits()
    transport = httpx.HTTPTransport(verify=verify, limits=limits)
    # HTTPTransport takes no network backend: its pool is rebuilt with the same settings and ours
    # (tests/discovery/test_deadline.py fails if a future httpx renames `_pool`).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_Backend(),
    )
    return transport


# Child processes are killed with everything they started at the deadline.


def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """subprocess.run(capture_output, text) in its own process group, killed as a group at the timeout or
    the deadline, whichever comes first (git's transport helpers would otherwise outlive git and hold the
    pipes open); the deadline's error when it was the deadline, else subprocess.TimeoutExpired.
    """
    limit = bounded(timeout)
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(input, timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            deadline = _CURRENT.get()
            if deadline is not None and deadline.remaining() <= 0:
                raise deadline.error() from None
            raise
        except BaseException:
            _kill_group(process)
            raise
    return subprocess.CompletedProcess(list(argv), process.returncode, out, err)


def _kill_group(process: subprocess.Popen[str]) -> None:
    with suppress(ProcessLookupError):  # it ended by itself
        os.killpg(process.pid, signal.SIGKILL)


__all__ = [
    "TIMEOUT_ENV",
    "Deadline",
    "DeadlineExceededError",
    "bounded",
    "carry",
    "current",
    "http_transport",
    "run_process",
    "shown",
    "sleep",
    "within",
]
