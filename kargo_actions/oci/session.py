"""One run's registry access: the options (pacing, paging, plain-HTTP hosts), shared HTTP clients, a rate
limiter per host, bearer tokens and the metadata cache; `repository()` hands out a client per repository."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from types import TracebackType

import httpx

from kargo_actions import deadline
from kargo_actions.cache_home import CACHE_ENV
from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.model.settings import SettingsSpec
from kargo_actions.oci.auth import TokenCache
from kargo_actions.oci.cache import AuthHint, MetadataCache
from kargo_actions.oci.client import RepositoryClient
from kargo_actions.oci.ratelimit import DEFAULT_IN_FLIGHT, DEFAULT_RATE, RateLimiter, RetryPolicy
from kargo_actions.oci.references import DOCKER_HUB_API, parse_repo_url
from kargo_actions.struct import struct

INSECURE_ENV = "KARGO_ACTIONS_INSECURE_REGISTRIES"
RATE_ENV = "KARGO_ACTIONS_REGISTRY_RATE"
IN_FLIGHT_ENV = "KARGO_ACTIONS_REGISTRY_IN_FLIGHT"
MAX_PAGES_ENV = "KARGO_ACTIONS_REGISTRY_MAX_PAGES"


# Token realms of the big public registries, so that even a first run with an empty cache sends a token
# with its first request instead of learning the realm from a 401. A registry that changes its realm
# answers 401 with the new challenge, which is then learned as for any other registry.
WELL_KNOWN_AUTH = {
    hint.host: hint
    for hint in (
        AuthHint(host="ghcr.io", scheme="bearer", realm="https://ghcr.io/token", service="ghcr.io"),
        AuthHint(
            host=DOCKER_HUB_API,
            scheme="bearer",
            realm="https://auth.docker.io/token",
            service="registry.docker.io",
        ),
        AuthHint(host="quay.io", scheme="bearer", realm="https://quay.io/v2/auth", service="quay.io"),
    )
}


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 and ::1 (with or without a port) are reached over plain HTTP, as Docker does."""
    hostname = urllib.parse.urlsplit(f"//{host}").hostname or ""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def insecure_registries_from_env(env: Mapping[str, str] | None = None) -> frozenset[str]:
    env = os.environ if env is None else env
    return frozenset(h.strip().lower() for h in env.get(INSECURE_ENV, "").split(",") if h.strip())


@struct
class RegistryOptions:
    """Knobs of one discovery run: pacing, paging, retries and which hosts speak plain HTTP."""

    rate: float = DEFAULT_RATE
    in_flight: int = DEFAULT_IN_FLIGHT
    page_size: int = 1000
    max_pages: int = 100
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 30.0
    insecure_registries: frozenset[str] = frozenset()  # plain HTTP, like Docker's insecure-registries
    tls_registries: frozenset[str] = frozenset()  # loopback hosts that speak HTTPS (a local TLS proxy)
    # Files read for credentials after the docker config (same format): helm's registry config for charts.
    more_auth_configs: tuple[Path, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RegistryOptions:
        """Defaults, with KARGO_ACTIONS_REGISTRY_RATE / _IN_FLIGHT / _MAX_PAGES where set."""

        def number(name: str, default: float, convert: Callable[[str], float]) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = convert(raw)
            except ValueError:
                value = 0
            if value <= 0:
                raise InvalidInputError([Problem(path=name, message=f"{raw!r} is not a positive number")])
            return value

        return cls(
            rate=number(RATE_ENV, DEFAULT_RATE, float),
            in_flight=int(number(IN_FLIGHT_ENV, DEFAULT_IN_FLIGHT, int)),
            max_pages=int(number(MAX_PAGES_ENV, cls.max_pages, int)),
        )

    def scheme(self, host: str) -> str:
        if host in self.tls_registries:
            return "https"
        if host in self.insecure_registries or is_loopback(host):
            return "http"
        return "https"


@struct(frozen=False)
class RequestStats:
    """Client-side counters of one session, for progress and diagnostics (benchmarks count server-side)."""

    by_kind: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str) -> None:
        with self._lock:
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def get(self, kind: str) -> int:
        return self.by_kind.get(kind, 0)


class RegistrySession:
    """One run's registry access: shared HTTP clients, one limiter per host, tokens, the disk cache."""

    def __init__(
        self,
        options: RegistryOptions | None = None,
        *,
        cache: MetadataCache | None = None,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`sleep` waits between retries (tests pass a recorder); pacing always uses real time."""
        self.env: Mapping[str, str] = dict(os.environ if env is None else env)
        base = options or RegistryOptions.from_env(self.env)
        extra = insecure_registries_from_env(self.env)
        self.options = dataclasses.replace(base, insecure_registries=base.insecure_registries | extra)
        self.cache = cache if cache is not None else MetadataCache()
        self.tokens = TokenCache()
        self.stats = RequestStats()
        self.warnings: list[str] = []
        self._sleep = sleep
        self._clients: dict[bool, httpx.Client] = {}
        self._limiters: dict[str, RateLimiter] = {}
        self._hints: dict[str, AuthHint] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: SettingsSpec | None, *, env: Mapping[str, str] | None = None
    ) -> RegistrySession:
        """A session as the project is configured: KARGO_ACTIONS_* over the Settings manifest over defaults.

        Pass `Settings.resolved(env, **flags)` to let command-line flags win as well.
        """
        env = dict(os.environ if env is None else env)
        options = RegistryOptions.from_env(env)
        cache_dir = env.get(CACHE_ENV) or (settings.cache_dir if settings is not None else None)
        if settings is not None and settings.insecure_registries and INSECURE_ENV not in env:
            # As Settings.resolved does: the variable, when set, replaces the file's list.
            listed = frozenset(h.strip().lower() for h in settings.insecure_registries if h.strip())
            options = dataclasses.replace(options, insecure_registries=listed)
        cache = MetadataCache(Path(cache_dir).expanduser() if cache_dir else None)
        return cls(options, cache=cache, env=env)

    def __enter__(self) -> RegistrySession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def http(self, verify: bool) -> httpx.Client:
        with self._lock:
            client = self._clients.get(verify)
            if client is None:
                # Each host's limiter caps its requests in flight; a pool-wide cap would let a stalled host
                # hold connections other hosts wait for.
                limits = httpx.Limits(max_connections=None, max_keepalive_connections=self.options.in_flight)
                client = httpx.Client(
                    transport=deadline.http_transport(verify=verify, limits=limits),
                    timeout=self.options.timeout,
                    headers={"User-Agent": "kargo-actions"},
                )
                self._clients[verify] = client
            return client

    def limiter(self, host: str) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.get(host)
            if limiter is None:
                limiter = RateLimiter(self.options.rate, self.options.in_flight)
                self._limiters[host] = limiter
            return limiter

    def auth_hint(self, host: str) -> AuthHint | None:
        with self._lock:
            hint = self._hints.get(host)
        if hint is None:
            hint = self.cache.auth_hint(host) or WELL_KNOWN_AUTH.get(host)
            if hint is not None:
                with self._lock:
                    self._hints[host] = hint
        return hint

    def remember_auth(self, hint: AuthHint) -> None:
        with self._lock:
            known = self._hints.get(hint.host)
            self._hints[hint.host] = hint
        if known != hint:
            self.cache.put_auth_hint(hint)

    def repository(
        self, repo_url: str, *, insecure_skip_tls_verify: bool = False, push: bool = False
    ) -> RepositoryClient:
        """A client for one repository; `push` asks tokens for push access too (oci-push)."""
        return RepositoryClient(
            self, parse_repo_url(repo_url), verify=not insecure_skip_tls_verify, push=push
        )

    def sleep(self, seconds: float) -> None:
        deadline.sleep(seconds, self._sleep)
