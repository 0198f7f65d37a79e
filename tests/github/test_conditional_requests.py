"""Conditional requests on the polled GETs (pull request, workflow run, commit statuses, check runs): the
second ask carries the first answer's ETag, the server answers 304 as GitHub does (no body, nothing taken
from the rate limit), the kept copy answers, and a change is seen at once. The copies outlive the client
(KARGO_ACTIONS_CACHE), so the next job's first poll is free too."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kargo_actions.github.client import GitHubClient
from tests.github.helpers import REPO, seed_promotion_branch
from tests.support.github_fixtures import client_for
from tests.support.github_server import GitHubServer


def _statuses(github: GitHubServer, path: str) -> list[int]:
    return [e.status for e in github.requests("GET", path)]


def test_polling_an_open_pull_request_costs_one_request(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    seed_promotion_branch(github)
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    # open_pull_request read it once (200): every poll after is Not Modified
    remaining, saved = github.rate.remaining, github_client.etags.saved if github_client.etags else -1
    for _ in range(5):
        assert not github_client.get_pull_request(pr.number).merged
    assert _statuses(github, rf"/pulls/{pr.number}$") == [200, 304, 304, 304, 304, 304]
    assert github.rate.remaining == remaining  # the five 304s cost nothing
    assert github_client.etags is not None
    assert github_client.etags.saved == saved + 5
    assert github.exchanges[-1].response_body == b""  # no body, as GitHub
    github_client.merge_pull_request(pr.number, timeout=10)
    assert github_client.wait_for_pull_request(pr.number, timeout=5).merged  # the change is seen
    assert _statuses(github, rf"/pulls/{pr.number}$")[-1] == 200


def test_without_the_cache_every_poll_is_charged(github: GitHubServer, github_client: GitHubClient) -> None:
    seed_promotion_branch(github)
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    github_client.etags = None
    for _ in range(3):
        github_client.get_pull_request(pr.number)
    assert _statuses(github, rf"/pulls/{pr.number}$") == [200, 200, 200, 200]
    assert all("if-none-match" not in e.request_headers for e in github.requests("GET", r"/pulls/"))


def test_a_workflow_run_is_polled_conditionally_until_it_completes(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    github.commit_files(REPO, "main", {"a": "1"})
    github.add_workflow(REPO, ".github/workflows/kargo-promote.yml", "promote")
    run = github_client.dispatch_workflow("kargo-promote.yml", ref="main")
    # the server's run moves on as it is polled: every change is a 200, then nothing changes any more
    assert github_client.wait_for_workflow_run(run.id, timeout=5).completed
    for _ in range(3):
        assert github_client.get_workflow_run(run.id).completed
    statuses = _statuses(github, rf"/actions/runs/{run.id}$")
    assert statuses[-3:] == [304, 304, 304]
    assert 200 in statuses


@pytest.mark.parametrize(
    ("path", "read", "change"),
    [
        (
            r"/status$",
            lambda c, sha: [s.context for s in c.combined_status(sha).statuses],
            lambda gh, c, sha: c.create_status(sha, state="success", context="ci/build"),
        ),
        (
            r"/check-runs$",
            lambda c, sha: [r.name for r in c.check_runs(sha)],
            lambda gh, c, sha: gh.add_check_run(REPO, sha, "build"),
        ),
    ],
)
def test_commit_statuses_and_check_runs_are_asked_conditionally(
    github: GitHubServer,
    github_client: GitHubClient,
    path: str,
    read: Callable[[GitHubClient, str], list[str]],
    change: Callable[[GitHubServer, GitHubClient, str], object],
) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    assert read(github_client, sha) == read(github_client, sha) == []
    change(github, github_client, sha)
    assert len(read(github_client, sha)) == 1
    assert _statuses(github, path) == [200, 304, 200]


def test_the_next_client_starts_with_the_kept_etags(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    seed_promotion_branch(github)
    pr = github_client.open_pull_request(title="Promote", head="promote/dev", base="main")
    github_client.get_pull_request(pr.number)
    later = client_for(github)  # another job, the cache restored (the same KARGO_ACTIONS_CACHE)
    assert later.get_pull_request(pr.number).number == pr.number
    assert _statuses(github, rf"/pulls/{pr.number}$") == [200, 304, 304]
