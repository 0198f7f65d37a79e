"""A typed GitHub client over PyGithub: every operation the product needs, returning frozen values.

Rate limits are read from each answer's headers and respected before the next request; secondary rate
limits (403/429 with retry-after) are retried with backoff; failures become typed errors whose messages
name the permission a token lacks.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from github import Github, GithubException
from github.GithubObject import NotSet
from github.PullRequest import PullRequest as GhPullRequest
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
    MergeBlockedError,
    PullRequestClosedError,
    RefMovedError,
)
from kargo_actions.github.etags import EtagCache, default_root, request_key
from kargo_actions.github.models import (
    GATE_CONTEXT,
    BranchPattern,
    CheckRun,
    CombinedStatus,
    CommitStatus,
    Deployment,
    DeploymentState,
    DeploymentStatus,
    DispatchedRun,
    Environment,
    EnvironmentSpec,
    FileChange,
    GitCommit,
    MergeMethod,
    MergeResult,
    PullRequest,
    RateLimit,
    Repository,
    Ruleset,
    RulesetSpec,
    StatusState,
    WorkflowRun,
    verified_context,
)
from kargo_actions.github.permissions import PERMISSIONS, Op
from kargo_actions.github.text import fit_body, fit_status_description
from kargo_actions.github.wire import (
    deployment_from,
    deployment_status_from,
    environment_from,
    pattern_from,
    pull_from,
    run_from,
    status_from,
)

T = TypeVar("T")

MAX_DISPATCH_INPUTS = 25
PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
FAILING_STATES = frozenset({"failure", "error"})


@dataclass(frozen=True)
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


class GitHubClient:
    """One repository's GitHub API, as the product uses it."""

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
    ) -> GitHubClient:
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
    ) -> GitHubClient:
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

    # -- calls, retries and errors --------------------------------------------------------------------------------

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

    # -- repository and rate limit --------------------------------------------------------------------------------

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

    # -- pull requests -----------------------------------------------------------------------------------------------

    def open_pull_request(
        self,
        *,
        title: str,
        head: str,
        base: str,
        body: str = "",
        labels: Sequence[str] = (),
        draft: bool = False,
    ) -> PullRequest:
        """Open head -> base, or update the open pull request that already exists for them (re-runs are safe)."""
        body = fit_body(body)
        existing = self._find_pull(head, base, "open", Op.OPEN_PULL_REQUEST)
        if existing is not None:
            pr = self._call(Op.OPEN_PULL_REQUEST, lambda: self._repo.get_pull(existing), idempotent=True)
            self._call(Op.OPEN_PULL_REQUEST, lambda: pr.edit(title=title, body=body), idempotent=True)
        else:
            pr = self._call(
                Op.OPEN_PULL_REQUEST,
                lambda: self._repo.create_pull(base=base, head=head, title=title, body=body, draft=draft),
            )
        if labels:
            # the object form: GitHub's API description does not admit PyGithub's bare list
            self._request(
                Op.LABEL_PULL_REQUEST,
                "POST",
                f"{self._path}/issues/{pr.number}/labels",
                body={"labels": list(labels)},
            )
        return self.get_pull_request(pr.number)

    def get_pull_request(self, number: int) -> PullRequest:
        return pull_from(self._get(Op.READ_PULL_REQUEST, f"{self._path}/pulls/{number}"))

    def _get_pull(self, number: int) -> GhPullRequest:
        return self._call(Op.READ_PULL_REQUEST, lambda: self._repo.get_pull(number), idempotent=True)

    def find_pull_request(self, *, head: str, base: str, state: str = "open") -> PullRequest | None:
        number = self._find_pull(head, base, state, Op.READ_PULL_REQUEST)
        return None if number is None else self.get_pull_request(number)

    def _find_pull(self, head: str, base: str, state: str, op: Op) -> int | None:
        owner = self.repository.split("/")[0]
        params = {"head": f"{owner}:{head}", "base": base, "state": state}
        items = self._paged(op, f"{self._path}/pulls", parameters=params)
        return int(items[0]["number"]) if items else None

    def close_pull_request(self, number: int) -> PullRequest:
        pr = self._get_pull(number)
        self._call(Op.OPEN_PULL_REQUEST, lambda: pr.edit(state="closed"), idempotent=True)
        return self.get_pull_request(number)

    def wait_for_pull_request(
        self, number: int, *, timeout: float, poll_interval: float | None = None
    ) -> PullRequest:
        """The pull request once merged; PullRequestClosedError when it is closed without merging."""

        def probe() -> PullRequest | None:
            pr = self.get_pull_request(number)
            if pr.merged:
                return pr
            if pr.closed_unmerged:
                raise PullRequestClosedError(
                    f"pull request #{number} ({pr.html_url}) was closed without being merged: the promotion it "
                    "carries is abandoned; reopen and merge it, or promote again"
                )
            return None

        return self._poll(f"pull request #{number} was not merged", timeout, poll_interval, probe)

    def update_pull_request_branch(self, number: int, *, expected_head_sha: str = "") -> None:
        """Merge the base branch into the pull request's branch (GitHub's "Update branch")."""
        body = {"expected_head_sha": expected_head_sha} if expected_head_sha else {}
        self._request(Op.OPEN_PULL_REQUEST, "PUT", f"{self._path}/pulls/{number}/update-branch", body=body)

    def required_checks(self, branch: str) -> tuple[str, ...]:
        """Status check contexts required on `branch`: by the active rulesets, then by branch protection."""
        rules = self._paged(Op.READ_RULESETS, f"{self._path}/rules/branches/{quote(branch, safe='')}")
        contexts: list[str] = []
        for rule in rules:
            if rule.get("type") != "required_status_checks":
                continue
            for check in (rule.get("parameters") or {}).get("required_status_checks") or []:
                if check["context"] not in contexts:
                    contexts.append(check["context"])
        # "Get a branch" shows its protection's required checks to any reader (the protection endpoint
        # itself needs administration, which GITHUB_TOKEN never has)
        try:
            data = self._request(Op.READ_CONTENTS, "GET", f"{self._path}/branches/{quote(branch, safe='')}")
        except GitHubNotFoundError:
            data = None  # no such branch (yet): only rulesets can require anything of it
        required = ((data.get("protection") or {}).get("required_status_checks") or {}) if data else {}
        if data and data.get("protected") and required.get("enforcement_level") != "off":
            named = [c["context"] for c in required.get("checks") or []] or required.get("contexts") or []
            contexts += [c for c in named if c not in contexts]
        return tuple(contexts)

    def check_states(self, sha: str, contexts: Sequence[str]) -> tuple[list[str], list[str]]:
        """(missing or pending, failing) among `contexts` on sha, each as `context` (state)."""
        pending: list[str] = []
        failing: list[str] = []
        for context, state in self.check_report(sha, contexts):
            if state in ("expected", "pending", "queued", "in_progress", "waiting", "requested"):
                pending.append(f"`{context}` ({state})")
            elif state not in PASSING_CONCLUSIONS:
                failing.append(f"`{context}` ({state})")
        return pending, failing

    def check_report(self, sha: str, contexts: Sequence[str]) -> list[tuple[str, str]]:
        """(context, state) per required check on sha: a commit status's state, else the newest check run's
        conclusion (or its status while it runs); `expected` when neither reported yet, as GitHub says."""
        combined = self.combined_status(sha)
        runs = self.check_runs(sha)
        report: list[tuple[str, str]] = []
        for context in contexts:
            status = combined.get(context)
            if status is not None:
                report.append((context, status.state))
                continue
            # a re-run adds a check run of the same name: the newest one counts
            named = sorted((r for r in runs if r.name == context), key=lambda r: r.id)
            if not named:
                report.append((context, "expected"))
            elif named[-1].status != "completed":
                report.append((context, named[-1].status or "pending"))
            else:
                report.append((context, named[-1].conclusion or "pending"))
        return report

    def merge_pull_request(
        self,
        number: int,
        *,
        method: MergeMethod = "merge",
        commit_title: str = "",
        commit_message: str = "",
        timeout: float = 600.0,
        poll_interval: float | None = None,
    ) -> MergeResult:
        """Merge once GitHub knows it is mergeable and every required check passed; refuse on conflicts or failures."""
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(deadline - time.monotonic(), 0.0)

        def mergeable() -> GhPullRequest | None:
            gh_pr = self._get_pull(number)
            pr = pull_from(gh_pr.raw_data)
            if pr.merged or pr.closed_unmerged or pr.mergeable is not None:
                return gh_pr
            return None

        gh_pr = self._poll(
            f"GitHub did not compute whether pull request #{number} is mergeable",
            left(),
            poll_interval,
            mergeable,
        )
        pr = pull_from(gh_pr.raw_data)
        if pr.merged:
            return MergeResult(number, pr.merge_commit_sha or "", method)
        if pr.closed_unmerged:
            raise PullRequestClosedError(
                f"pull request #{number} ({pr.html_url}) is closed without being merged: reopen it first"
            )
        if pr.mergeable is False:
            raise MergeBlockedError(
                f"pull request #{number} ({pr.html_url}) cannot be merged into {pr.base_ref}: it conflicts with "
                f"{pr.base_ref} ({pr.mergeable_state}); update the branch or resolve the conflicts"
            )
        if pr.mergeable_state == "behind":
            raise MergeBlockedError(
                f"pull request #{number} ({pr.html_url}) cannot be merged: its branch is not up to date with "
                f"{pr.base_ref}, which the rules require; update the branch (update_pull_request_branch) and let "
                "the checks run again"
            )
        required = self.required_checks(pr.base_ref)
        if required:
            gh_pr = self._wait_for_checks(gh_pr, required, deadline, timeout, poll_interval)
        head = pull_from(gh_pr.raw_data).head_sha

        def merge() -> Any:
            return gh_pr.merge(
                merge_method=method,
                sha=head,
                commit_title=commit_title or NotSet,
                commit_message=commit_message or NotSet,
            )

        try:
            result = self._call(Op.MERGE_PULL_REQUEST, merge)
        except GitHubError as err:
            if err.status == 405:
                raise MergeBlockedError(f"GitHub refused to merge pull request #{number}: {err}") from err
            if err.status == 409:
                raise RefMovedError(
                    f"pull request #{number}'s head moved while merging; retry: {err}"
                ) from err
            raise
        return MergeResult(number, str(result.sha), method)

    def _wait_for_checks(
        self,
        gh_pr: GhPullRequest,
        required: Sequence[str],
        deadline: float,
        timeout: float,
        poll_interval: float | None,
    ) -> GhPullRequest:
        """The pull request once every required check passes on its current head (which may move meanwhile)."""
        interval = self.options.poll_interval if poll_interval is None else poll_interval
        while True:
            pr = pull_from(gh_pr.raw_data)
            pending, failing = self.check_states(pr.head_sha, required)
            if failing:
                plural = "s" if len(failing) > 1 else ""
                raise MergeBlockedError(
                    f"pull request #{pr.number} ({pr.html_url}) cannot be merged: required check{plural} "
                    f"{', '.join(failing)} failed on {pr.head_sha[:12]}"
                )
            if not pending:
                return gh_pr
            if time.monotonic() + interval > deadline:
                plural = "s" if len(pending) > 1 else ""
                waited = f" after {timeout:g} s" if timeout > 0 else ""
                raise GitHubTimeoutError(
                    f"waiting for required check{plural} {', '.join(pending)} on pull request #{pr.number}{waited}"
                )
            self._sleep(interval)
            gh_pr = self._get_pull(pr.number)

    # -- commit statuses and checks ------------------------------------------------------------------------------------

    def create_status(
        self, sha: str, *, state: StatusState, context: str, description: str = "", target_url: str = ""
    ) -> CommitStatus:
        body: dict[str, Any] = {
            "state": state,
            "context": context,
            "description": fit_status_description(description),
        }
        if target_url:
            body["target_url"] = target_url
        data = self._request(Op.CREATE_STATUS, "POST", f"{self._path}/statuses/{sha}", body=body)
        return status_from(data)

    def set_verified_status(
        self, sha: str, stage: str, *, state: StatusState, description: str = "", target_url: str = ""
    ) -> CommitStatus:
        """`kargo/verified/<stage>` on a Freight's commit."""
        if not description and state == "success":
            description = f"Freight verified in {stage}"
        return self.create_status(
            sha, state=state, context=verified_context(stage), description=description, target_url=target_url
        )

    def set_gate_status(
        self, sha: str, *, state: StatusState, description: str, target_url: str = ""
    ) -> CommitStatus:
        """`kargo/gate` on a promotion pull request's head."""
        return self.create_status(
            sha, state=state, context=GATE_CONTEXT, description=description, target_url=target_url
        )

    def combined_status(self, ref: str) -> CombinedStatus:
        data = self._get(
            Op.READ_STATUSES,
            f"{self._path}/commits/{quote(ref, safe='')}/status",
            parameters={"per_page": 100},
        )
        return CombinedStatus(
            sha=data["sha"], state=data["state"], statuses=tuple(status_from(s) for s in data["statuses"])
        )

    def check_runs(self, ref: str) -> tuple[CheckRun, ...]:
        runs = self._paged(
            Op.READ_CHECK_RUNS, f"{self._path}/commits/{quote(ref, safe='')}/check-runs", key="check_runs"
        )
        return tuple(CheckRun(int(r["id"]), r["name"], r["status"], r.get("conclusion")) for r in runs)

    # -- deployments ------------------------------------------------------------------------------------------------------

    def create_deployment(
        self,
        *,
        ref: str,
        environment: str,
        payload: Mapping[str, Any],
        description: str = "",
        task: str = "deploy",
        production: bool | None = None,
    ) -> Deployment:
        """A Deployment of ref to environment; no auto-merge, no required contexts (gates live elsewhere)."""
        extra: dict[str, Any] = {}
        if production is not None:
            extra["production_environment"] = production
        deployment = self._call(
            Op.CREATE_DEPLOYMENT,
            lambda: self._repo.create_deployment(
                ref=ref,
                task=task,
                auto_merge=False,
                required_contexts=[],
                payload=dict(payload),
                environment=environment,
                description=fit_status_description(description),
                **extra,
            ),
        )
        return deployment_from(deployment.raw_data)

    def create_deployment_status(
        self,
        deployment_id: int,
        *,
        state: DeploymentState,
        log_url: str = "",
        description: str = "",
        environment_url: str = "",
    ) -> DeploymentStatus:
        body: dict[str, Any] = {
            "state": state,
            "description": fit_status_description(description),
            "auto_inactive": True,
        }
        if log_url:
            body["log_url"] = log_url
        if environment_url:
            body["environment_url"] = environment_url
        data = self._request(
            Op.CREATE_DEPLOYMENT, "POST", f"{self._path}/deployments/{deployment_id}/statuses", body=body
        )
        return deployment_status_from(deployment_id, data)

    def list_deployments(
        self, *, environment: str = "", ref: str = "", sha: str = ""
    ) -> tuple[Deployment, ...]:
        params = {k: v for k, v in (("environment", environment), ("ref", ref), ("sha", sha)) if v}
        return tuple(
            deployment_from(d)
            for d in self._paged(Op.READ_DEPLOYMENTS, f"{self._path}/deployments", parameters=params)
        )

    def deployment_statuses(self, deployment_id: int) -> tuple[DeploymentStatus, ...]:
        """Newest first, as GitHub lists them."""
        items = self._paged(Op.READ_DEPLOYMENTS, f"{self._path}/deployments/{deployment_id}/statuses")
        return tuple(deployment_status_from(deployment_id, s) for s in items)

    # -- workflows --------------------------------------------------------------------------------------------------------

    def dispatch_workflow(
        self, workflow: str | int, *, ref: str, inputs: Mapping[str, str] | None = None
    ) -> DispatchedRun:
        """workflow_dispatch `workflow` (file name or id) on ref; the run it started, in one request: GitHub
        names the run in its answer (`return_run_details`) and takes the file name where the id goes."""
        inputs = dict(inputs or {})
        if len(inputs) > MAX_DISPATCH_INPUTS:
            raise InvalidInputError(
                [
                    Problem(
                        path="inputs",
                        message=f"{len(inputs)} inputs given; a workflow_dispatch takes at most {MAX_DISPATCH_INPUTS}",
                    )
                ]
            )
        url = f"{self._path}/actions/workflows/{quote(str(workflow), safe='')}"
        started = time.time()
        body = {"ref": ref, "inputs": inputs, "return_run_details": True}
        details = self._request(Op.DISPATCH_WORKFLOW, "POST", f"{url}/dispatches", body=body)
        if details and "workflow_run_id" in details:
            return DispatchedRun(int(details["workflow_run_id"]), str(details.get("html_url") or ""))
        # servers from before `return_run_details` answer 204: the newest dispatch run of this workflow on ref
        branch = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")

        def newest() -> DispatchedRun | None:
            runs = self._get(
                Op.READ_WORKFLOW_RUNS,
                f"{url}/runs",
                parameters={"event": "workflow_dispatch", "branch": branch, "per_page": 10},
            )["workflow_runs"]
            fresh = [r for r in runs if _epoch(r["created_at"]) >= started - 5]
            return DispatchedRun(int(fresh[0]["id"]), str(fresh[0]["html_url"])) if fresh else None

        return self._poll(f"the run of {workflow} dispatched on {ref} did not appear", 60.0, None, newest)

    def get_workflow_run(self, run_id: int) -> WorkflowRun:
        return run_from(self._get(Op.READ_WORKFLOW_RUNS, f"{self._path}/actions/runs/{run_id}"))

    def wait_for_workflow_run(
        self, run_id: int, *, timeout: float, poll_interval: float | None = None
    ) -> WorkflowRun:
        """The run once completed (whatever its conclusion)."""

        def probe() -> WorkflowRun | None:
            run = self.get_workflow_run(run_id)
            return run if run.completed else None

        return self._poll(f"workflow run {run_id} did not complete", timeout, poll_interval, probe)

    # -- environments -----------------------------------------------------------------------------------------------------

    def get_environment(self, name: str) -> Environment | None:
        try:
            data = self._request(
                Op.READ_ENVIRONMENTS, "GET", f"{self._path}/environments/{quote(name, safe='')}"
            )
        except GitHubNotFoundError:
            return None
        patterns: tuple[BranchPattern, ...] = ()
        policy = data.get("deployment_branch_policy")
        if policy and policy.get("custom_branch_policies"):
            patterns = tuple(pattern_from(p) for p in self._branch_policies(name))
        return environment_from(data, patterns)

    def _branch_policies(self, name: str) -> list[dict[str, Any]]:
        url = f"{self._path}/environments/{quote(name, safe='')}/deployment-branch-policies"
        return self._paged(Op.READ_ENVIRONMENTS, url, key="branch_policies")

    def put_environment(self, name: str, spec: EnvironmentSpec) -> Environment:
        """Create or update the environment to match spec, custom branch policies included (idempotent)."""
        url = f"{self._path}/environments/{quote(name, safe='')}"
        body: dict[str, Any] = {
            "wait_timer": spec.wait_timer,
            "prevent_self_review": spec.prevent_self_review,
            "reviewers": [{"type": r.type, "id": r.id} for r in spec.reviewers],
            "deployment_branch_policy": None,
        }
        if spec.branch_policy is not None:
            body["deployment_branch_policy"] = {
                "protected_branches": spec.branch_policy.protected_branches,
                "custom_branch_policies": not spec.branch_policy.protected_branches,
            }
        self._request(Op.WRITE_ENVIRONMENTS, "PUT", url, body=body)
        if spec.branch_policy is not None and not spec.branch_policy.protected_branches:
            existing = {
                (p["name"], p.get("type", "branch")): int(p["id"]) for p in self._branch_policies(name)
            }
            wanted = {(p.name, p.type) for p in spec.branch_policy.patterns}
            for key, policy_id in existing.items():
                if key not in wanted:
                    self._request(
                        Op.WRITE_ENVIRONMENTS, "DELETE", f"{url}/deployment-branch-policies/{policy_id}"
                    )
            for pattern in spec.branch_policy.patterns:
                if (pattern.name, pattern.type) not in existing:
                    self._request(
                        Op.WRITE_ENVIRONMENTS,
                        "POST",
                        f"{url}/deployment-branch-policies",
                        body={"name": pattern.name, "type": pattern.type},
                    )
        env = self.get_environment(name)
        assert env is not None, "an environment just written must exist"
        return env

    # -- rulesets -------------------------------------------------------------------------------------------------------

    def list_rulesets(self) -> tuple[Ruleset, ...]:
        """Every ruleset of the repository, with its rules (the list endpoint omits them)."""
        items = self._paged(Op.READ_RULESETS, f"{self._path}/rulesets")
        return tuple(self.get_ruleset(int(item["id"])) for item in items)

    def get_ruleset(self, ruleset_id: int) -> Ruleset:
        data = self._request(Op.READ_RULESETS, "GET", f"{self._path}/rulesets/{ruleset_id}")
        return Ruleset(int(data["id"]), RulesetSpec.from_api(data))

    def create_ruleset(self, spec: RulesetSpec) -> Ruleset:
        data = self._request(Op.WRITE_RULESETS, "POST", f"{self._path}/rulesets", body=spec.to_api())
        return Ruleset(int(data["id"]), RulesetSpec.from_api(data))

    def update_ruleset(self, ruleset_id: int, spec: RulesetSpec) -> Ruleset:
        data = self._request(
            Op.WRITE_RULESETS, "PUT", f"{self._path}/rulesets/{ruleset_id}", body=spec.to_api()
        )
        return Ruleset(int(data["id"]), RulesetSpec.from_api(data))

    def apply_ruleset(self, spec: RulesetSpec) -> tuple[Ruleset, bool]:
        """Create or update the ruleset named spec.name; (ruleset, changed). Nothing is written when it matches."""
        for ruleset in self.list_rulesets():
            if ruleset.spec.name == spec.name:
                if ruleset.spec == spec:
                    return ruleset, False
                return self.update_ruleset(ruleset.id, spec), True
        return self.create_ruleset(spec), True

    # -- commits through the git database API (GitHub signs them: "Verified") ------------------------------------------

    def branch_head(self, branch: str) -> str | None:
        return self._branch_head(branch, Op.READ_CONTENTS)

    def _branch_head(self, branch: str, op: Op) -> str | None:
        try:
            data = self._request(op, "GET", f"{self._path}/git/ref/heads/{quote(branch)}")
        except GitHubNotFoundError:
            return None
        return str(data["object"]["sha"])

    def create_branch(self, branch: str, sha: str) -> None:
        self._request(
            Op.WRITE_CONTENTS,
            "POST",
            f"{self._path}/git/refs",
            body={"ref": f"refs/heads/{branch}", "sha": sha},
        )

    def move_branch(self, branch: str, sha: str, *, force: bool = False) -> None:
        """Point an existing branch at sha; without force only a fast-forward (else RefMovedError)."""
        try:
            self._request(
                Op.WRITE_CONTENTS,
                "PATCH",
                f"{self._path}/git/refs/heads/{quote(branch)}",
                body={"sha": sha, "force": force},
            )
        except GitHubValidationError as err:
            if "fast forward" in str(err).lower():
                raise RefMovedError(f"branch {branch!r} is not an ancestor of {sha[:12]}: {err}") from err
            raise

    def commit_files(
        self, branch: str, changes: Sequence[FileChange], message: str, *, expected_head: str = ""
    ) -> GitCommit:
        """One commit on branch with changes, made by GitHub (so it is signed and shows as verified).

        RefMovedError when the branch is not at expected_head or moves before the ref update (re-read, retry).
        """
        head = self._branch_head(branch, Op.WRITE_CONTENTS)
        if head is None:
            raise GitHubNotFoundError(
                f"cannot commit to {self.repository}: branch {branch!r} does not exist", 404
            )
        if expected_head and head != expected_head:
            raise RefMovedError(
                f"branch {branch!r} is at {head[:12]}, not {expected_head[:12]}: re-read and retry"
            )
        commit = self.create_commit(head, changes, message)
        try:
            self._request(
                Op.WRITE_CONTENTS,
                "PATCH",
                f"{self._path}/git/refs/heads/{quote(branch)}",
                body={"sha": commit.sha, "force": False},
            )
        except GitHubValidationError as err:
            if "fast forward" in str(err).lower():
                raise RefMovedError(
                    f"branch {branch!r} moved while committing; re-read and retry ({err})"
                ) from err
            raise
        return commit

    def create_commit(
        self, parent: str, changes: Sequence[FileChange], message: str, *, parent_tree: str = ""
    ) -> GitCommit:
        """A commit of `changes` on top of `parent`, made by GitHub (signed, verified), that no ref points at
        yet: chain several, then move a branch once (move_branch / create_branch). parent_tree saves a read."""
        if not parent_tree:
            parent_tree = self._request(Op.WRITE_CONTENTS, "GET", f"{self._path}/git/commits/{parent}")[
                "tree"
            ]["sha"]
        entries: list[dict[str, Any]] = []
        for change in changes:
            mode = "100755" if change.executable else "100644"
            if change.content is None:
                entries.append({"path": change.path, "mode": mode, "type": "blob", "sha": None})
                continue
            blob = self._request(
                Op.WRITE_CONTENTS,
                "POST",
                f"{self._path}/git/blobs",
                body={"content": base64.b64encode(change.content).decode(), "encoding": "base64"},
            )
            entries.append({"path": change.path, "mode": mode, "type": "blob", "sha": blob["sha"]})
        tree = self._request(
            Op.WRITE_CONTENTS,
            "POST",
            f"{self._path}/git/trees",
            body={"base_tree": parent_tree, "tree": entries},
        )
        commit = self._request(
            Op.WRITE_CONTENTS,
            "POST",
            f"{self._path}/git/commits",
            body={"message": message, "tree": tree["sha"], "parents": [parent]},
        )
        return GitCommit(
            sha=commit["sha"],
            tree=commit["tree"]["sha"],
            parents=tuple(p["sha"] for p in commit["parents"]),
            message=commit["message"],
            verified=bool(commit["verification"]["verified"]),
            html_url=commit["html_url"],
        )


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


def _epoch(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
