"""pytest fixtures for the GitHub test server: import them into a conftest.py to use them.

    from tests.support.github_fixtures import github, github_client, github_contract  # noqa: F401

`github` fails the test when any answer the server gave breaks GitHub's OpenAPI description.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kargo_actions.github.client import ClientOptions, GitHubClient
from tests.support.github_contract import OCTOKIT_OPENAPI_VERSION, GitHubContract, ensure_spec
from tests.support.github_server import Exchange, GitHubServer, serve_github

TOKEN = "ghs_test_token_all"
REPOSITORY = "acme/app"
# no pacing and short waits: the server is local
FAST = ClientOptions(
    poll_interval=0.05,
    seconds_between_requests=0,
    seconds_between_writes=0,
    backoff=0.05,
    secondary_wait=0.2,
    max_delay=5,
)


@pytest.fixture(scope="session")
def github_contract() -> GitHubContract:
    """GitHub's OpenAPI description, loaded once per session (per xdist worker)."""
    path = ensure_spec()
    if path is None:
        message = f"@octokit/openapi@{OCTOKIT_OPENAPI_VERSION} is missing: run scripts/fetch-github-openapi.sh (needs npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return GitHubContract(path)


def start_checked(
    root: Path, contract: GitHubContract, prefix: str = "", git_http: bool = False
) -> Iterator[GitHubServer]:
    """A server whose every exchange is checked against the contract; fails at teardown on any breach."""
    with serve_github(root, prefix=prefix, git_http=git_http) as server:
        problems = server.contract_problems
        one_at_a_time = threading.Lock()  # answers to concurrent requests are checked in turn

        def check(exchange: Exchange) -> None:
            # runs in the server's thread: an exception here must become a finding, not a dropped answer
            try:
                with one_at_a_time:
                    problems.extend(contract.problems(exchange))
            except Exception as err:
                problems.append(
                    f"{exchange.method} {exchange.path}: the contract check itself failed: {err!r}"
                )

        server.on_exchange = check
        server.add_token(TOKEN)
        server.add_repo(*REPOSITORY.split("/"))
        yield server
    if problems:
        pytest.fail(
            "the GitHub test server broke GitHub's API contract:\n" + "\n".join(problems), pytrace=False
        )


@pytest.fixture
def github(tmp_path: Path, github_contract: GitHubContract) -> Iterator[GitHubServer]:
    """A GitHub test server with repository acme/app (empty) and token TOKEN (GITHUB_TOKEN's permissions)."""
    yield from start_checked(tmp_path / "github", github_contract)


def client_for(server: GitHubServer, token: str = TOKEN, options: ClientOptions = FAST) -> GitHubClient:
    env = {"GITHUB_API_URL": server.url, "GITHUB_TOKEN": token, "GITHUB_REPOSITORY": REPOSITORY}
    return GitHubClient.from_env(env=env, options=options)


@pytest.fixture
def github_client(github: GitHubServer) -> GitHubClient:
    return client_for(github)
