"""Per-registry request pacing: a rate (requests/s), a cap on requests in flight, and retry delays."""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kargo_actions import deadline
from kargo_actions.struct import struct

DEFAULT_RATE = 20.0
DEFAULT_IN_FLIGHT = 20


@struct
class RetryPolicy:
    """How 429 and 5xx answers are retried: attempts, exponential backoff, and the longest wait taken."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `attempt` (1-based); Retry-After wins when the server sent it."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@struct
class HubQuota:
    """Docker Hub's `ratelimit-remaining: 97;w=21600` header: pulls left in a window of w seconds."""

    remaining: int
    window_seconds: int


_QUOTA = re.compile(r"^\s*(-?\d+)\s*(?:;\s*w\s*=\s*(\d+))?")


def parse_hub_quota(value: str | None) -> HubQuota | None:
    if not value:
        return None
    m = _QUOTA.match(value)
    if m is None:
        return None
    return HubQuota(remaining=int(m[1]), window_seconds=int(m[2] or 0))


class RateLimiter:
    """Spaces request starts to `rate` per second and holds at most `in_flight` requests at once."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        in_flight: int = DEFAULT_IN_FLIGHT,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or in_flight <= 0:
            raise ValueError("rate and in_flight must be positive")
        self.rate = rate
        self.in_flight = in_flight
        self._clock = clock
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(in_flight)
        self._lock = threading.Lock()
        self._capacity = max(float(rate), 1.0)  # one second's worth, and at least one request
        self._tokens = self._capacity
        self._last = clock()
        self.quota: HubQuota | None = None

    def _wait_turn(self) -> None:
        # A token bucket holding one second's worth: a burst starts at once, then `rate` per second.
        # Tokens may go negative: each waiter books its own future start time under the lock.
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0
            delay = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if delay > 0:
            self._sleep(delay)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for a start time and an in-flight slot; release the slot when the request is done."""
        bound = deadline.current()
        if bound is None:
            self._slots.acquire()
        elif not self._slots.acquire(timeout=max(bound.remaining(), 0.0)):
            raise bound.error()  # the host's slots stayed taken until the deadline
        try:
            self._wait_turn()
            yield
        finally:
            self._slots.release()

    def note_quota(self, quota: HubQuota | None) -> None:
        """Remember the registry's own quota so callers can stop before it refuses them."""
        if quota is not None:
            with self._lock:
                self.quota = quota

    def quota_exhausted(self) -> bool:
        return self.quota is not None and self.quota.remaining <= 0
