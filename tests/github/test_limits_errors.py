"""Rate limits (primary and secondary), retries, and errors that name the missing permission."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from kargo_actions.errors import KargoActionsError
from kargo_actions.github.client import GitHubClient
from kargo_actions.github.errors import (
    GitHubNotFoundError,
    GitHubPermissionError,
    GitHubRateLimitError,
    GitHubUnavailableError,
)
from kargo_actions.github.models import EnvironmentSpec
from tests.github.helpers import REPO, seed_promotion_branch
from tests.support.github_fixtures import FAST, client_for
from tests.support.github_server import GITHUB_TOKEN_PERMISSIONS, GitHubServer

SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


@pytest.mark.slow
def test_secondary_rate_limit_with_retry_after_is_waited_out(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    github.fail_next("POST", "/statuses/", 403, SECONDARY, {"retry-after": "1"})
    started = time.monotonic()
    github_client.set_gate_status(sha, state="success", description="ok")
    assert time.monotonic() - started >= 1.0
    assert [e.status for e in github.requests("POST", "/statuses/")] == [403, 201]


def test_secondary_rate_limit_without_retry_after_backs_off(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    github.fail_next("POST", "/statuses/", 403, SECONDARY)
    github_client.set_gate_status(sha, state="success", description="ok")
    assert [e.status for e in github.requests("POST", "/statuses/")] == [403, 201]


def test_429_without_retry_after_backs_off(github: GitHubServer, github_client: GitHubClient) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    github.fail_next("POST", "/statuses/", 429, "Too many requests", times=2)
    github_client.set_gate_status(sha, state="success", description="ok")
    assert [e.status for e in github.requests("POST", "/statuses/")] == [429, 429, 201]


@pytest.mark.slow
def test_used_up_quota_waits_for_the_reset_instead_of_hitting_403(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    github.set_rate_limit(remaining=1, reset_in=2)
    reset = github.rate.reset
    github_client.combined_status(sha)  # answered with x-ratelimit-remaining: 0
    assert github.exchanges[-1].response_headers["x-ratelimit-remaining"] == "0"
    github_client.combined_status(sha)
    assert time.time() >= reset  # the second request waited for the reset
    # no 403: the second asks with the first answer's ETag, and nothing changed (304)
    assert [e.status for e in github.exchanges] == [200, 304]


def test_a_quota_reset_too_far_away_fails_clearly(github: GitHubServer) -> None:
    client = client_for(github, options=replace(FAST, max_rate_limit_wait=1))
    sha = github.commit_files(REPO, "main", {"a": "1"})
    github.set_rate_limit(remaining=0, reset_in=3600)
    with pytest.raises(GitHubRateLimitError, match=r"rate limit is used up until \d\d:\d\d:\d\d UTC"):
        client.combined_status(sha)
    assert len(github.exchanges) == 1  # the dropped requests got no answer


def test_server_errors_are_retried_on_reads_only(github: GitHubServer, github_client: GitHubClient) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    github.fail_next("GET", "/status$", 502, "Server Error")
    assert github_client.combined_status(sha).sha == sha
    github.fail_next("POST", "/statuses/", 502, "Server Error")
    with pytest.raises(
        GitHubUnavailableError, match="could not create commit statuses in acme/app: GitHub answered 502"
    ):
        github_client.set_gate_status(sha, state="success", description="ok")
    assert len(github.requests("POST", "/statuses/")) == 1


def _without(resource: str) -> dict[str, str]:
    return {k: v for k, v in GITHUB_TOKEN_PERMISSIONS.items() if k != resource}


Call = Callable[[GitHubClient, str], object]

UNDER_SCOPED: list[tuple[str, Call, str, str]] = [
    (
        "deployments",
        lambda c, sha: c.create_deployment(ref=sha, environment="dev", payload={}),
        "the token cannot create deployments in acme/app: it needs `deployments: write`",
        "",
    ),
    (
        "statuses",
        lambda c, sha: c.set_verified_status(sha, "dev", state="success"),
        "the token cannot create commit statuses in acme/app: it needs `statuses: write`",
        "",
    ),
    (
        "pull_requests",
        lambda c, sha: c.open_pull_request(title="t", head="promote/dev", base="main"),
        "the token cannot open pull requests in acme/app: it needs `pull_requests: write`",
        "",
    ),
    (
        "actions",
        lambda c, sha: c.dispatch_workflow("promote.yml", ref="main"),
        "the token cannot dispatch workflows in acme/app: it needs `actions: write`",
        "",
    ),
    (
        "contents",
        lambda c, sha: c.commit_files("main", [], "x"),
        "the token cannot commit through the API in acme/app: it needs `contents: write`",
        "",
    ),
    (
        "administration",
        lambda c, sha: c.put_environment("dev", EnvironmentSpec()),
        "the token cannot create or update environments in acme/app: it needs `administration: write`",
        "GITHUB_TOKEN can never have it",
    ),
]


@pytest.mark.parametrize(
    ("missing", "call", "message", "hint"), UNDER_SCOPED, ids=[row[0] for row in UNDER_SCOPED]
)
def test_an_under_scoped_token_gets_a_message_naming_the_permission(
    github: GitHubServer, missing: str, call: Call, message: str, hint: str
) -> None:
    _, sha = seed_promotion_branch(github)
    github.add_workflow(REPO, ".github/workflows/promote.yml")
    github.add_token("ghs_narrow", _without(missing))
    with pytest.raises(GitHubPermissionError) as raised:
        call(client_for(github, "ghs_narrow"), sha)
    assert message in str(raised.value)
    assert "Resource not accessible by integration" in str(raised.value)
    assert hint in str(raised.value)


def test_a_classic_token_without_scope_gets_404_with_the_permission_named(github: GitHubServer) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    github.add_token("ghp_classic", _without("deployments"), login="someone", kind="classic")
    with pytest.raises(GitHubNotFoundError) as raised:
        client_for(github, "ghp_classic").create_deployment(ref=sha, environment="dev", payload={})
    text = str(raised.value)
    assert "could not create deployments in acme/app: not found" in text
    assert "it needs `deployments: write` (a classic token needs the `repo_deployment` scope)" in text


@pytest.mark.parametrize("token", ["ghs_wrong", ""])
def test_bad_or_missing_token(github: GitHubServer, token: str) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    if not token:
        with pytest.raises(GitHubPermissionError, match="no GitHub credentials: set GITHUB_TOKEN"):
            client_for(github, token)
        return
    with pytest.raises(
        GitHubPermissionError, match=r"it is missing, expired or invalid .*Bad credentials"
    ) as raised:
        client_for(github, token).combined_status(sha)
    assert isinstance(raised.value, KargoActionsError)
    assert raised.value.exit_code == 1


def test_an_api_outage_is_a_clear_retryable_error(github: GitHubServer) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    client = client_for(github, options=replace(FAST, retries=2))
    assert client.combined_status(sha).sha == sha
    github.down = True
    with pytest.raises(
        GitHubUnavailableError, match="could not read commit statuses in acme/app: GitHub did not answer"
    ):
        client.combined_status(sha)
    assert len(github.exchanges) == 1  # the dropped requests got no answer
