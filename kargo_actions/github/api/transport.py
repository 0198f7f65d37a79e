"""The GitHub client's transport over PyGithub: requests for one repository, rate limits read from each answer's
headers and respected before the next request, secondary rate limits (403/429 with retry-after) retried with
backoff, failures turned into typed errors whose messages name the permission a token lacks, and polling."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Self, TypeVar
from urllib.parse import quote

from github import Github, GithubException
from github.Repository import Repository as GhRepository
from requests import RequestException

from kargo_actions.errors import InvalidInputError, KargoActionsError, Problem
from kargo_actions.github.auth import GitHubSettings
from kargo_actions.github.errors import (
    GitHubConflictError,
    GitHubError,
    GitHubNotFoundError,
    GitHubPermissionError,
    GitHubRateLimitError,
    GitHubTimeoutError,
    GitHubUnavailableError,
    GitHubValidationError,
)
from kargo_actions.github.etags import EtagCache, default_root, request_key
from kargo_actions.github.models import RateLimit, Repository
from kargo_actions.github.permissions import PERMISSIONS, Op
from kargo_actions.struct import struct

T = TypeVar("T")


@struct
class ClientOptions:
    """Pacing, retries and polling. Defaults follow GitHub's guidance for integrations."""

    poll_interval: float = 5.0
    max_rate_limit_wait: float = 900.0  # wait this long for a used-up quota to reset, else fail
    retries: int = 5
    backoff: float = 1.0  # first retry delay for 5xx and network errors, doubling
    secondary_wait: float = (
        60.0  # GitHub asks for at least a minute when a secondary limit gives no retry-after
    )
    max_delay: float = 300.0
    seconds_between_requests: float = 0.25
    seconds_between_writes: float = 1.0
    timeout: int = 30


class GitHubTransport:
    """One repository's GitHub API: requests, pacing, retries, typed errors and polling; the resource classes of
    github/api/ build on it and github/client.py's GitHubClient combines them."""

    def __init__(
        self,
        gh: Github,
        repository: str,
        options: ClientOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
        etags: EtagCache | None = None,
    ) -> None:
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise InvalidInputError(
                [
                    Problem(
                        path="repository",
                        message=f"{repository!r} is not OWNER/NAME",
                        hint="e.g. GITHUB_REPOSITORY",
                    )
                ]
            )
        self.repository = repository
        self.options = options or ClientOptions()
        self._gh = gh
        self._sleep = sleep
        self._path = f"/repos/{quote(owner)}/{quote(name)}"
        self._gh_repo: GhRepository | None = None
        self.etags = etags  # polled GETs go out conditional (github/etags.py)

    @classmethod
    def from_settings(
        cls, settings: GitHubSettings, repository: str, options: ClientOptions | None = None
    ) -> Self:
        opts = options or ClientOptions()
        owner, _, name = repository.partition("/")
        gh = Github(
            auth=settings.auth(owner, name),
            base_url=settings.api_url,
            timeout=opts.timeout,
            retry=None,  # retries are ours: they know secondary limits and which calls are safe to repeat
            per_page=100,
            seconds_between_requests=opts.seconds_between_requests or None,
            seconds_between_writes=opts.seconds_between_writes or None,
        )
        return cls(gh, repository, opts, etags=EtagCache(default_root()))

    @classmethod
    def from_env(
        cls, repository: str = "", env: Mapping[str, str] | None = None, options: ClientOptions | None = None
    ) -> Self:
        """The client for `repository` (default GITHUB_REPOSITORY) with credentials from the environment."""
        env = os.environ if env is None else env
        repository = repository or env.get("GITHUB_REPOSITORY", "")
        if not repository:
            raise InvalidInputError(
                [Problem(path="GITHUB_REPOSITORY", message="no repository given", hint="pass OWNER/NAME")]
            )
        return cls.from_settings(GitHubSettings.from_env(env), repository, options)

    @property
    def _repo(self) -> GhRepository:
        """PyGithub's repository object, made without a request (lazy): the call made on it checks access, and
        a promotion's Deployment costs no repository read (docs/github.md, "The API budget")."""
        if self._gh_repo is None:
            self._gh_repo = GhRepository(self._gh.requester.withLazy(True), url=self._path)
        return self._gh_repo

    def _call(self, op: Op, fn: Callable[[], T], *, idempotent: bool = False) -> T:
        attempt = 0
        while True:
            self._respect_quota(op)
            try:
                return fn()
            except GithubException as err:
                delay = self._retry_delay(op, err, attempt, idempotent)
                if delay is None:
                    raise self._error(op, err) from err
            except RequestException as err:
                if not idempotent or attempt >= self.options.retries:
                    raise GitHubUnavailableError(
                        f"could not {PERMISSIONS[op].action} in {self.repository}: GitHub did not answer ({err})"
                    ) from err
                delay = min(self.options.backoff * 2.0**attempt, self.options.max_delay)
            attempt += 1
            self._sleep(delay)

    def _respect_quota(self, op: Op) -> None:
        """Wait for the reset when the last answer said the quota is used up."""
        requester = self._gh.requester
        remaining, _ = requester.rate_limiting
        wait = requester.rate_limiting_resettime - time.time()
        if remaining != 0 or wait <= 0:
            return
        if wait > self.options.max_rate_limit_wait:
            raise GitHubRateLimitError(self._quota_message(op, requester.rate_limiting_resettime))
        self._sleep(wait + 0.5)

    def _quota_message(self, op: Op, reset: float) -> str:
        when = time.strftime("%H:%M:%S UTC", time.gmtime(reset))
        return (
            f"could not {PERMISSIONS[op].action} in {self.repository}: the token's API rate limit is used up "
            f"until {when}, longer than the {self.options.max_rate_limit_wait:.0f} s we wait; retry later or "
            "use a GitHub App token (higher limits)"
        )

    def _retry_delay(self, op: Op, err: GithubException, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait before retrying, or None when the error is final."""
        if attempt >= self.options.retries:
            return None
        headers: dict[str, str] = {str(k).lower(): str(v) for k, v in (err.headers or {}).items()}
        message = _message(err).lower()
        retry_after = headers.get("retry-after", "")
        if err.status in (403, 429):
            if retry_after.strip().isdigit():
                return min(float(retry_after), self.options.max_delay)
            if headers.get("x-ratelimit-remaining") == "0" or "rate limit" in message:
                reset = float(headers.get("x-ratelimit-reset") or 0)
                if headers.get("x-ratelimit-remaining") == "0" and reset > time.time():
                    wait = reset - time.time() + 0.5
                    if wait > self.options.max_rate_limit_wait:
                        raise GitHubRateLimitError(self._quota_message(op, reset)) from err
                    return wait
                return min(self.options.secondary_wait * 2.0**attempt, self.options.max_delay)
            if err.status == 429:
                return min(self.options.secondary_wait * 2.0**attempt, self.options.max_delay)
            return None
        if err.status >= 500 and idempotent:
            return min(self.options.backoff * 2.0**attempt, self.options.max_delay)
        return None

    def _error(self, op: Op, err: GithubException) -> KargoActionsError:
        perm = PERMISSIONS[op]
        message = _message(err)
        headers: dict[str, str] = {str(k).lower(): str(v) for k, v in (err.headers or {}).items()}
        answered = f"GitHub answered {err.status}: {message}" if message else f"GitHub answered {err.status}"
        if err.status == 401:
            return GitHubPermissionError(
                f"the token cannot {perm.action} in {self.repository}: it is missing, expired or invalid "
                f"({answered}); set GITHUB_TOKEN or the GitHub App credentials",
                err.status,
            )
        if err.status == 403:
            accepted = _accepted_permissions(headers.get("x-accepted-github-permissions", ""))
            needed = perm.needed
            if accepted and accepted != perm.needed:
                needed += f" (this request alone accepts {accepted})"
            hint = ""
            if not perm.github_token:
                hint = "; GITHUB_TOKEN can never have it: use a GitHub App installation token or a fine-grained personal access token"
            return GitHubPermissionError(
                f"the token cannot {perm.action} in {self.repository}: it needs {needed} ({answered}){hint}",
                err.status,
            )
        if err.status == 404:
            return GitHubNotFoundError(
                f"could not {perm.action} in {self.repository}: not found ({answered}); the repository or object "
                f"does not exist, or the token cannot see it: it needs {perm.needed} "
                f"(a classic token needs the `{perm.classic_scope}` scope)",
                err.status,
            )
        if err.status == 409:
            return GitHubConflictError(
                f"could not {perm.action} in {self.repository}: {answered}", err.status
            )
        if err.status == 422:
            return GitHubValidationError(
                f"could not {perm.action} in {self.repository}: {answered}", err.status
            )
        if err.status >= 500:
            return GitHubUnavailableError(f"could not {perm.action} in {self.repository}: {answered}")
        return GitHubError(f"could not {perm.action} in {self.repository}: {answered}", err.status)

    def _request(
        self,
        op: Op,
        verb: str,
        url: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        def call() -> Any:
            _, data = self._gh.requester.requestJsonAndCheck(
                verb, url, parameters=dict(parameters) if parameters else None, input=body
            )
            return data

        return self._call(op, call, idempotent=verb in ("GET", "PUT", "DELETE"))

    def _get(self, op: Op, url: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """A GET carrying the last answer's ETag when there is a cache (github/etags.py)."""
        if self.etags is None:
            return self._request(op, "GET", url, parameters=parameters)
        params = dict(parameters) if parameters else None
        requester = self._gh.requester

        def send(headers: dict[str, str] | None) -> tuple[dict[str, Any], Any]:
            call = lambda: requester.requestJsonAndCheck("GET", url, parameters=params, headers=headers)  # noqa: E731
            return self._call(op, call, idempotent=True)

        return self.etags.conditional_get(request_key(requester.base_url, url, params), send)

    def _paged(
        self, op: Op, url: str, key: str = "", parameters: Mapping[str, Any] | None = None
    ) -> list[Any]:
        items: list[Any] = []
        page = 1
        while True:
            data = self._get(op, url, parameters={**(parameters or {}), "per_page": 100, "page": page})
            batch = data.get(key, []) if key else data
            items.extend(batch)
            if len(batch) < 100:
                return items
            page += 1

    def _poll(
        self, what: str, timeout: float, poll_interval: float | None, probe: Callable[[], T | None]
    ) -> T:
        interval = self.options.poll_interval if poll_interval is None else poll_interval
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if result is not None:
                return result
            if time.monotonic() + interval > deadline:
                raise GitHubTimeoutError(f"{what} within {timeout:g} s")
            self._sleep(interval)

    def repository_info(self) -> Repository:
        data = self._request(Op.READ_REPOSITORY, "GET", self._path)
        return Repository(
            full_name=data["full_name"],
            default_branch=data["default_branch"],
            html_url=data["html_url"],
            clone_url=data["clone_url"],
            private=bool(data["private"]),
        )

    def rate_limit(self) -> RateLimit:
        data = self._request(Op.READ_REPOSITORY, "GET", "/rate_limit")
        core = data["resources"]["core"]
        return RateLimit(limit=core["limit"], remaining=core["remaining"], reset=core["reset"])

    def user_id(self, login: str) -> int:
        """The numeric id of a user (environment reviewers are given by id)."""
        return int(self._request(Op.READ_USERS, "GET", f"/users/{quote(login)}")["id"])

    def team_id(self, org: str, slug: str) -> int:
        """The numeric id of an organization's team, by its slug (environment reviewers are given by id)."""
        return int(self._request(Op.READ_TEAMS, "GET", f"/orgs/{quote(org)}/teams/{quote(slug)}")["id"])


def _message(err: GithubException) -> str:
    data = err.data
    if isinstance(data, dict):
        text = str(data.get("message") or "")
        details = [
            str(e.get("message") or e.get("code") or "")
            for e in data.get("errors") or []
            if isinstance(e, dict)
        ]
        details = [d for d in details if d]
        return text + (f" ({'; '.join(details)})" if details else "")
    return str(data or "")


def _accepted_permissions(header: str) -> str:
    """GitHub's `x-accepted-github-permissions`: sets separated by `;` are alternatives, `,` joins a set.

    `issues=write; pull_requests=write` -> "`issues: write` or `pull_requests: write`".
    """
    alternatives = []
    for chunk in header.split(";"):
        parts = [p.strip().partition("=") for p in chunk.split(",") if "=" in p]
        if parts:
            alternatives.append(
                " and ".join(f"`{name.strip()}: {level.strip()}`" for name, _, level in parts)
            )
    return " or ".join(alternatives)
