"""A small OCI distribution client over httpx: auth, tag paging, manifests and blobs, pacing and retries."""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from kargo_actions import deadline
from kargo_actions.errors import FailedError, InvalidInputError, Problem, RetryableError
from kargo_actions.github.output import mask_secret
from kargo_actions.model.settings import SettingsSpec
from kargo_actions.oci.auth import (
    DOCKER_HUB_NAMES,
    Challenge,
    Credentials,
    CredentialsError,
    TokenCache,
    TokenKey,
    credentials_for,
    parse_challenge,
)
from kargo_actions.oci.cache import (
    CACHE_ENV,
    AuthHint,
    ChildManifest,
    ConfigInfo,
    ManifestInfo,
    MetadataCache,
    Platform,
)
from kargo_actions.oci.ratelimit import (
    DEFAULT_IN_FLIGHT,
    DEFAULT_RATE,
    RateLimiter,
    RetryPolicy,
    parse_hub_quota,
    parse_retry_after,
)

log = logging.getLogger(__name__)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})

INSECURE_ENV = "KARGO_ACTIONS_INSECURE_REGISTRIES"
RATE_ENV = "KARGO_ACTIONS_REGISTRY_RATE"
IN_FLIGHT_ENV = "KARGO_ACTIONS_REGISTRY_IN_FLIGHT"
MAX_PAGES_ENV = "KARGO_ACTIONS_REGISTRY_MAX_PAGES"
DOCKER_HUB_API = "registry-1.docker.io"


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


class ImageDiscoveryError(FailedError):
    """Discovery of one image subscription failed; the message names the repoURL and the cause."""

    def __init__(self, repo_url: str, cause: str, hint: str = "") -> None:
        self.repo_url = repo_url
        self.cause = cause
        self.hint = hint
        super().__init__(f"image {repo_url}: {cause}" + (f" ({hint})" if hint else ""))


def timed_out_cause(what: str, err: Exception) -> str:
    """`registry timed out`, with httpx's detail only when it adds one (its usual text is `timed out`)."""
    detail = str(err).strip()
    return f"{what} timed out" + (f": {detail}" if detail and "timed out" not in detail else "")


class RegistryUnreachableError(ImageDiscoveryError, RetryableError):
    """The registry did not answer: connection refused, reset or timed out. A later run may succeed."""


class DnsError(RegistryUnreachableError):
    """The registry's host name does not resolve."""


class TlsError(ImageDiscoveryError):
    """The TLS handshake failed: bad certificate, or HTTPS spoken to a plain-HTTP server."""


class AuthenticationError(ImageDiscoveryError):
    """401: credentials missing or rejected."""


class ForbiddenError(ImageDiscoveryError):
    """403: the credentials are valid but may not read this repository."""


class RepositoryNotFoundError(ImageDiscoveryError):
    """404 on the repository."""


class ManifestNotFoundError(ImageDiscoveryError):
    """404 on one tag or digest of an existing repository."""


class MalformedResponseError(ImageDiscoveryError):
    """The registry answered something that is not the distribution API's JSON."""


class RateLimitedError(ImageDiscoveryError, RetryableError):
    """429 after every retry, or Docker Hub's pull quota used up."""


class RegistryServerError(ImageDiscoveryError, RetryableError):
    """5xx after every retry, or another unexpected status."""


class NoTagsError(ImageDiscoveryError):
    """The repository lists no tags at all."""


class NoMatchingTagError(ImageDiscoveryError):
    """Tags exist but none passes the subscription's filters, constraint and platform."""


@dataclass(frozen=True)
class ImageRepository:
    """A repoURL split as docker reads it: registry host (API host for Docker Hub) and repository name."""

    repo_url: str
    host: str
    name: str


_HOST_PART = re.compile(r"[.:]|^localhost$")


def parse_repo_url(repo_url: str) -> ImageRepository:
    """`nginx` -> registry-1.docker.io/library/nginx; `127.0.0.1:5000/a/b` -> host 127.0.0.1:5000, name a/b."""
    text = repo_url.strip()
    if not text or "@" in text or text != text.strip("/"):
        raise ImageDiscoveryError(repo_url, "repoURL is not an image repository", "e.g. ghcr.io/org/app")
    first, sep, rest = text.partition("/")
    if sep and _HOST_PART.search(first):
        host, name = first.lower(), rest
    else:
        host, name = "docker.io", text
    if ":" in name.rsplit("/", 1)[-1]:
        raise ImageDiscoveryError(repo_url, "repoURL must not carry a tag", "put the tag rules in constraint")
    if host in DOCKER_HUB_NAMES:
        host = DOCKER_HUB_API
        if "/" not in name:
            name = f"library/{name}"
    return ImageRepository(repo_url=repo_url, host=host, name=name)


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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class ManifestHead:
    """What a HEAD on a manifest tells: its digest and media type."""

    digest: str
    media_type: str


@dataclass(frozen=True)
class FetchedManifest:
    digest: str
    media_type: str
    body: bytes


@dataclass(frozen=True)
class TagList:
    """Every tag listed (or as many as the page cap allowed) and how many pages it took."""

    tags: tuple[str, ...]
    pages: int
    truncated: bool


@dataclass
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


def _classify_connect_error(err: Exception) -> tuple[type[ImageDiscoveryError], str]:
    chain: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " | ".join(str(e) for e in chain)
    if any(isinstance(e, socket.gaierror) for e in chain) or re.search(
        r"Name or service not known|nodename nor servname|Temporary failure in name resolution|"
        r"No address associated|getaddrinfo failed",
        text,
    ):
        return DnsError, f"DNS lookup failed: {chain[-1]}"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSL" in text or "CERTIFICATE" in text:
        return TlsError, f"TLS handshake failed: {chain[-1]}"
    return RegistryUnreachableError, f"registry unreachable: {chain[-1] or type(chain[-1]).__name__}"


def _error_codes(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        return ", ".join(str(e.get("code", "")) for e in data.get("errors", []) if isinstance(e, dict))
    except (ValueError, AttributeError):
        return ""


def _next_link(header: str) -> str | None:
    """The target of `Link: <...>; rel="next"` (distribution and ghcr.io send it relative)."""
    for part in header.split(","):
        m = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
        if m and re.search(r'rel\s*=\s*"?next"?', m[2]):
            return m[1]
    return None


class RepositoryClient:
    """Requests against one repository of one registry, with auth, pacing, retries and typed errors."""

    def __init__(
        self, session: RegistrySession, repo: ImageRepository, *, verify: bool, push: bool = False
    ) -> None:
        self.session = session
        self.repo = repo
        self.verify = verify
        self.base = f"{session.options.scheme(repo.host)}://{repo.host}"
        self.scope = f"repository:{repo.name}:{'pull,push' if push else 'pull'}"
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self._fetched: dict[str, FetchedManifest] = {}
        self._lock = threading.Lock()

    def _fail(self, kind: type[ImageDiscoveryError], cause: str, hint: str = "") -> ImageDiscoveryError:
        return kind(self.repo.repo_url, cause, hint)

    @property
    def credentials(self) -> Credentials | None:
        if not self._credentials_loaded:
            host = self.repo.host
            try:
                self._credentials = credentials_for(
                    host, self.session.env, more_configs=self.session.options.more_auth_configs
                )
            except CredentialsError as err:
                raise self._fail(AuthenticationError, str(err), "fix or remove that entry") from err
            self._credentials_loaded = True
        return self._credentials

    # -- auth -------------------------------------------------------------------------------------

    def _authorization(self, hint: AuthHint | None) -> str | None:
        if hint is None or hint.scheme == "none":
            return None
        if hint.scheme == "basic":
            creds = self.credentials
            return creds.basic() if creds and not creds.identity_token else None
        if hint.scheme == "bearer":
            return f"Bearer {self._token(hint)}"
        return None

    def _token(self, hint: AuthHint) -> str:
        key = TokenKey(hint.realm, hint.service, self.scope)
        tokens = self.session.tokens
        token = tokens.get(key)
        if token is not None:
            return token
        with tokens.fetch_lock:
            token = tokens.get(key)
            if token is None:
                token, expires_in = self._fetch_token(hint)
                tokens.put(key, token, expires_in)
            return token

    def _fetch_token(self, hint: AuthHint) -> tuple[str, float | None]:
        params = {"scope": self.scope}
        if hint.service:
            params["service"] = hint.service
        headers = {}
        creds = self.credentials
        form: dict[str, str] | None = None
        if creds is not None and creds.identity_token:
            # Docker's token spec (OAuth2): a refresh token is exchanged by POST, never sent as Basic.
            form = {**params, "grant_type": "refresh_token", "refresh_token": creds.password}
            form["client_id"] = "kargo-actions"
        elif creds is not None:
            headers["Authorization"] = creds.basic()
        realm = urllib.parse.urlsplit(hint.realm)
        if realm.scheme not in ("http", "https") or not realm.netloc:
            raise self._fail(MalformedResponseError, f"token realm {hint.realm!r} is not an http(s) URL")
        policy = self.session.options.retry
        for attempt in range(1, policy.attempts + 1):
            self.session.stats.add("token")
            try:
                with self.session.limiter(realm.netloc).slot():
                    client = self.session.http(self.verify)
                    resp = (
                        client.post(hint.realm, data=form)
                        if form is not None
                        else client.get(hint.realm, params=params, headers=headers)
                    )
            except httpx.TimeoutException as err:
                if attempt < policy.attempts:
                    self.session.sleep(policy.delay(attempt, None))
                    continue
                raise self._fail(RegistryUnreachableError, f"token service {hint.realm} timed out") from err
            except httpx.TransportError as err:
                kind, cause = _classify_connect_error(err)
                raise self._fail(kind, f"token service {hint.realm}: {cause}") from err
            if (resp.status_code == 429 or resp.status_code >= 500) and attempt < policy.attempts:
                self.session.sleep(policy.delay(attempt, parse_retry_after(resp.headers.get("retry-after"))))
                continue
            break
        if resp.status_code == 429:
            raise self._fail(RateLimitedError, f"token service {hint.realm} answered 429", "try again later")
        if resp.status_code in (401, 403):
            raise self._auth_error(resp.status_code, f"token service {hint.realm} refused")
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"token service {hint.realm} answered {resp.status_code}")
        try:
            data = resp.json()
            token = data.get("token") or data.get("access_token")
            expires = data.get("expires_in")
        except (ValueError, AttributeError) as err:
            raise self._fail(MalformedResponseError, f"token service {hint.realm} sent no JSON") from err
        if not isinstance(token, str) or not token:
            raise self._fail(MalformedResponseError, f"token service {hint.realm} sent no token")
        mask_secret(token, self.session.env)
        return token, float(expires) if isinstance(expires, int | float) else None

    def _auth_error(self, status: int, what: str) -> ImageDiscoveryError:
        creds = self.credentials
        if status == 403:
            who = f" for {creds.username} ({creds.source})" if creds else ""
            return self._fail(ForbiddenError, f"{what}: 403 forbidden{who}", "grant that user pull access")
        if creds is None:
            return self._fail(
                AuthenticationError,
                f"{what}: 401 unauthorized and no credentials for {self.repo.host}",
                "add the registry to docker config.json (DOCKER_CONFIG)"
                + (" or set GITHUB_TOKEN" if self.repo.host == "ghcr.io" else ""),
            )
        return self._fail(
            AuthenticationError,
            f"{what}: 401 unauthorized: credentials of {creds.username} from {creds.source} were rejected",
            "check the password or token, or that the repository exists",
        )

    def _learn_challenge(self, resp: httpx.Response) -> AuthHint | None:
        challenge: Challenge | None = parse_challenge(resp.headers.get("www-authenticate", ""))
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            return None
        hint = AuthHint(
            host=self.repo.host,
            scheme=challenge.scheme,
            realm=challenge.param("realm"),
            service=challenge.param("service"),
        )
        if hint.scheme == "bearer" and not hint.realm:
            raise self._fail(MalformedResponseError, "bearer challenge without a realm")
        return hint

    # -- requests ---------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        accept: str,
        kind: str,
        *,
        content: bytes | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request with auth, pacing, retries of 429/5xx, and errors mapped to typed ones."""
        session = self.session
        limiter = session.limiter(self.repo.host)
        policy = session.options.retry
        attempt = 0
        authed_after_challenge = False
        while True:
            attempt += 1
            if limiter.quota_exhausted():
                q = limiter.quota
                window = f" for a window of {q.window_seconds}s" if q and q.window_seconds else ""
                raise self._fail(
                    RateLimitedError,
                    f"registry pull quota used up (ratelimit-remaining 0{window})",
                    "wait for the window to pass or log in for a larger quota",
                )
            headers = {"Accept": accept} if accept else {}
            headers.update(extra_headers or {})
            auth = self._authorization(session.auth_hint(self.repo.host))
            if auth:
                headers["Authorization"] = auth
            session.stats.add(kind)
            try:
                with limiter.slot():
                    resp = session.http(self.verify).request(
                        method, url, headers=headers, content=content, follow_redirects=(kind == "blob")
                    )
            except httpx.TimeoutException as err:
                if attempt < policy.attempts:
                    session.sleep(policy.delay(attempt, None))
                    continue
                raise self._fail(RegistryUnreachableError, timed_out_cause("registry", err)) from err
            except httpx.TransportError as err:
                kind_, cause = _classify_connect_error(err)
                raise self._fail(kind_, cause) from err
            limiter.note_quota(parse_hub_quota(resp.headers.get("ratelimit-remaining")))
            status = resp.status_code
            if status == 401 and not authed_after_challenge:
                hint = self._learn_challenge(resp)
                known = session.auth_hint(self.repo.host)
                if hint is not None and (hint != known or not auth):
                    if hint.scheme == "basic" and self.credentials is None:
                        raise self._auth_error(401, f"{method} {url}")
                    session.remember_auth(hint)
                    authed_after_challenge = True
                    attempt -= 1  # answering a challenge is not a retry
                    continue
                if hint is not None and known == hint and auth and hint.scheme == "bearer":
                    # A cached token may have been revoked early: drop it and ask once more.
                    session.tokens.drop(TokenKey(hint.realm, hint.service, self.scope))
                    authed_after_challenge = True
                    attempt -= 1
                    continue
            if status == 401 or status == 403:
                raise self._auth_error(status, f"{method} {urllib.parse.urlsplit(url).path}")
            if status == 429 or status >= 500:
                if attempt < policy.attempts:
                    wait = policy.delay(attempt, parse_retry_after(resp.headers.get("retry-after")))
                    log.info("%s answered %s; retry %d in %.1fs", url, status, attempt, wait)
                    session.sleep(wait)
                    continue
                kind_err = RateLimitedError if status == 429 else RegistryServerError
                raise self._fail(
                    kind_err,
                    f"{method} {urllib.parse.urlsplit(url).path} answered {status} after {attempt} attempts",
                    "try again later",
                )
            if status == 200 and session.auth_hint(self.repo.host) is None:
                session.remember_auth(AuthHint(host=self.repo.host, scheme="none"))
            return resp

    # -- API --------------------------------------------------------------------------------------

    def list_tags(self) -> TagList:
        """Every tag: n=page_size, Link rel="next" paging, a `last` fallback, capped at max_pages."""
        opts = self.session.options
        path = f"/v2/{self.repo.name}/tags/list"
        url: str | None = f"{self.base}{path}?n={opts.page_size}"
        tags: list[str] = []
        seen: set[str] = set()
        pages = 0
        truncated = False
        while url is not None:
            if pages >= opts.max_pages:
                truncated = True
                msg = (
                    f"image {self.repo.repo_url}: tag list cut at {pages} pages ({len(tags)} tags); "
                    "newer tags may be missed (narrow the repository or raise the page cap)"
                )
                log.warning(msg)
                self.session.warnings.append(msg)
                break
            resp = self._send("GET", url, "application/json", "tags")
            pages += 1
            if resp.status_code == 404:
                codes = _error_codes(resp)
                raise self._fail(
                    RepositoryNotFoundError,
                    f"repository {self.repo.name} not found on {self.repo.host}"
                    + (f" ({codes})" if codes else ""),
                    "check repoURL",
                )
            if resp.status_code != 200:
                raise self._fail(RegistryServerError, f"GET {path} answered {resp.status_code}")
            page = self._tags_of(resp)
            fresh = [t for t in page if t not in seen]
            if pages > 1 and not fresh:
                break  # the server ignored `last` and sent the same page again
            tags.extend(fresh)
            seen.update(fresh)
            link = _next_link(resp.headers.get("link", ""))
            if link is not None:
                url = urllib.parse.urljoin(self.base + path, link)
                if urllib.parse.urlsplit(url).netloc != self.repo.host:
                    # Our Authorization header goes with every request: never follow it to another host.
                    raise self._fail(MalformedResponseError, f"tag list Link points to another host: {url}")
            elif len(page) == opts.page_size and page:
                # A full page and no Link: ask for what follows the last tag (distribution's `last`).
                url = f"{self.base}{path}?" + urllib.parse.urlencode({"n": opts.page_size, "last": page[-1]})
            else:
                url = None
        return TagList(tags=tuple(tags), pages=pages, truncated=truncated)

    def _tags_of(self, resp: httpx.Response) -> list[str]:
        try:
            data = resp.json()
        except ValueError as err:
            raise self._fail(MalformedResponseError, f"tag list is not JSON: {err}") from err
        tags = data.get("tags") if isinstance(data, dict) else None
        if tags is None and isinstance(data, dict) and "tags" in data:
            return []  # distribution sends "tags": null for an empty repository
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise self._fail(MalformedResponseError, "tag list JSON has no `tags` array of strings")
        return tags

    def _manifest_url(self, ref: str) -> str:
        return f"{self.base}/v2/{self.repo.name}/manifests/{urllib.parse.quote(ref, safe=':')}"

    def _not_found(self, resp: httpx.Response, ref: str) -> ImageDiscoveryError:
        codes = _error_codes(resp)
        if "NAME_UNKNOWN" in codes:
            return self._fail(
                RepositoryNotFoundError, f"repository {self.repo.name} not found on {self.repo.host}"
            )
        return self._fail(ManifestNotFoundError, f"no manifest for {ref!r}", "the tag may have been deleted")

    def head_manifest(self, ref: str) -> ManifestHead:
        """Digest of a tag by HEAD (Docker-Content-Digest); falls back to a GET when the header is absent."""
        resp = self._send("HEAD", self._manifest_url(ref), MANIFEST_ACCEPT, "head")
        if resp.status_code == 404:
            raise self._not_found(resp, ref)
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"HEAD manifest {ref!r} answered {resp.status_code}")
        digest = resp.headers.get("docker-content-digest", "")
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if not digest:
            fetched = self.get_manifest(ref)
            with self._lock:
                self._fetched[fetched.digest] = fetched  # the GET by digest that follows needs no request
            return ManifestHead(fetched.digest, fetched.media_type)
        return ManifestHead(digest, media_type)

    def get_manifest(self, ref: str) -> FetchedManifest:
        with self._lock:
            kept = self._fetched.pop(ref, None)
        if kept is not None:
            return kept
        resp = self._send("GET", self._manifest_url(ref), MANIFEST_ACCEPT, "manifest")
        if resp.status_code == 404:
            raise self._not_found(resp, ref)
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"GET manifest {ref!r} answered {resp.status_code}")
        body = resp.content
        computed = "sha256:" + hashlib.sha256(body).hexdigest()
        if ref.startswith("sha256:") and computed != ref:
            raise self._fail(
                MalformedResponseError, f"manifest {ref} has digest {computed}: content mismatch"
            )
        digest = ref if ref.startswith("sha256:") else resp.headers.get("docker-content-digest") or computed
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        return FetchedManifest(digest=digest, media_type=media_type, body=body)

    def get_blob(self, digest: str) -> bytes:
        resp = self._send("GET", f"{self.base}/v2/{self.repo.name}/blobs/{digest}", "", "blob")
        if resp.status_code == 404:
            raise self._fail(ManifestNotFoundError, f"blob {digest} not found")
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"GET blob {digest} answered {resp.status_code}")
        body = resp.content
        if digest.startswith("sha256:") and "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise self._fail(MalformedResponseError, f"blob {digest}: content does not match its digest")
        return body

    # -- upload (oci-push) -------------------------------------------------------------------------

    def blob_exists(self, digest: str) -> bool:
        """Whether the repository has the blob already (HEAD), so a copy can skip it."""
        resp = self._send("HEAD", f"{self.base}/v2/{self.repo.name}/blobs/{digest}", "", "blob")
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"HEAD blob {digest} answered {resp.status_code}")
        return True

    def put_blob(self, data: bytes) -> str:
        """Upload one blob monolithically (POST an upload session, PUT the bytes); returns its digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = self._send("POST", f"{self.base}/v2/{self.repo.name}/blobs/uploads/", "", "upload")
        if start.status_code not in (201, 202):
            raise self._upload_error(start, f"starting the upload of blob {digest}")
        location = start.headers.get("location", "")
        if not location:
            raise self._fail(MalformedResponseError, "upload session without a Location header")
        url = urllib.parse.urljoin(self.base + "/", location)
        if urllib.parse.urlsplit(url).netloc != self.repo.host:
            # Our Authorization header goes with every request: never send it to another host.
            raise self._fail(MalformedResponseError, f"upload Location points to another host: {url}")
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        done = self._send(
            "PUT",
            url,
            "",
            "upload",
            content=data,
            extra_headers={"Content-Type": "application/octet-stream"},
        )
        if done.status_code not in (201, 204):
            raise self._upload_error(done, f"uploading blob {digest}")
        return digest

    def put_manifest(self, ref: str, body: bytes, media_type: str) -> str:
        """Store a manifest (or index) under a tag or its digest; returns its digest."""
        resp = self._send(
            "PUT",
            self._manifest_url(ref),
            "",
            "upload",
            content=body,
            extra_headers={"Content-Type": media_type},
        )
        if resp.status_code not in (200, 201):
            raise self._upload_error(resp, f"storing manifest {ref!r}")
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def _upload_error(self, resp: httpx.Response, what: str) -> ImageDiscoveryError:
        codes = _error_codes(resp)
        detail = f" ({codes})" if codes else ""
        if resp.status_code == 404:
            return self._fail(RepositoryNotFoundError, f"{what}: 404{detail}")
        if resp.status_code in (400, 405):
            return self._fail(
                MalformedResponseError, f"{what}: the registry refused it ({resp.status_code}){detail}"
            )
        return self._fail(RegistryServerError, f"{what}: answered {resp.status_code}{detail}")

    # -- parsing ----------------------------------------------------------------------------------

    def _json(self, body: bytes, what: str) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except ValueError as err:
            raise self._fail(MalformedResponseError, f"{what} is not JSON: {err}") from err
        if not isinstance(data, dict):
            raise self._fail(MalformedResponseError, f"{what} is not a JSON object")
        return data

    def parse_manifest(self, fetched: FetchedManifest) -> ManifestInfo:
        data = self._json(fetched.body, f"manifest {fetched.digest}")
        media_type = str(data.get("mediaType") or fetched.media_type)
        annotations = _string_pairs(data.get("annotations"))
        if media_type in INDEX_TYPES or "manifests" in data:
            children = []
            for entry in data.get("manifests") or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
                    raise self._fail(
                        MalformedResponseError, f"index {fetched.digest} has an entry without digest"
                    )
                plat = entry.get("platform")
                platform = (
                    Platform(
                        os=str(plat.get("os", "")),
                        architecture=str(plat.get("architecture", "")),
                        variant=str(plat.get("variant", "")),
                    )
                    if isinstance(plat, dict)
                    else None
                )
                children.append(
                    ChildManifest(
                        digest=entry["digest"],
                        media_type=str(entry.get("mediaType", "")),
                        platform=platform,
                        annotations=_string_pairs(entry.get("annotations")),
                    )
                )
            return ManifestInfo(
                digest=fetched.digest,
                media_type=media_type or OCI_INDEX,
                annotations=annotations,
                children=tuple(children),
            )
        config = data.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
            raise self._fail(MalformedResponseError, f"manifest {fetched.digest} has no config digest")
        return ManifestInfo(
            digest=fetched.digest,
            media_type=media_type or OCI_MANIFEST,
            annotations=annotations,
            config_digest=config["digest"],
        )

    def parse_config(self, digest: str, body: bytes) -> ConfigInfo:
        data = self._json(body, f"image config {digest}")
        inner = data.get("config") if isinstance(data.get("config"), dict) else {}
        assert isinstance(inner, dict)
        os_, arch = data.get("os"), data.get("architecture")
        platform = (
            Platform(os=os_, architecture=arch, variant=str(data.get("variant", "")))
            if isinstance(os_, str) and isinstance(arch, str)
            else None
        )
        created = data.get("created")
        return ConfigInfo(
            digest=digest,
            created=created if isinstance(created, str) else "",
            platform=platform,
            labels=_string_pairs(inner.get("Labels")),
        )


def _string_pairs(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))
