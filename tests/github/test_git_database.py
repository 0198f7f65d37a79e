"""Commits through the git database API (github-push): real objects in the bare repository, verified."""

from __future__ import annotations

import pytest
from github import GithubException

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.errors import GitHubNotFoundError, RefMovedError
from kargo_actions.github.models import FileChange
from tests.github.helpers import REPO, bare, git_out, raw_github
from tests.support.github_fixtures import TOKEN
from tests.support.github_server import GitHubServer


def test_api_commit_lands_in_the_bare_repository(github: GitHubServer, github_client: GitHubClient) -> None:
    parent = github.commit_files(
        REPO, "main", {"keep.txt": "keep\n", "old.txt": "old\n", "dir/x.yaml": "x: 1\n"}
    )
    commit = github_client.commit_files(
        "main",
        [
            FileChange("dir/x.yaml", b"x: 2\n"),
            FileChange("new/run.sh", b"#!/bin/sh\necho hi\n", executable=True),
            FileChange("old.txt", None),
            FileChange("bin.dat", bytes(range(256))),
        ],
        "promote: update dev",
        expected_head=parent,
    )
    repo = bare(github)
    assert git_out(repo, "rev-parse", "main") == commit.sha
    assert commit.parents == (parent,)
    assert commit.verified  # made by GitHub on the token's behalf, so signed
    assert git_out(repo, "show", "main:dir/x.yaml") == "x: 2"
    assert git_out(repo, "show", "main:keep.txt") == "keep"
    assert git_out(repo, "ls-tree", "main", "new/run.sh").split()[0] == "100755"
    assert "old.txt" not in git_out(repo, "ls-tree", "-r", "--name-only", "main").split()
    assert git_out(repo, "log", "-1", "--format=%s", "main") == "promote: update dev"


def test_a_moved_branch_is_reported_for_retry(github: GitHubServer, github_client: GitHubClient) -> None:
    first = github.commit_files(REPO, "main", {"a": "1"})
    second = github.commit_files(REPO, "main", {"a": "2"})
    with pytest.raises(RefMovedError, match=f"is at {second[:12]}, not {first[:12]}"):
        github_client.commit_files("main", [FileChange("a", b"3")], "x", expected_head=first)
    assert git_out(bare(github), "rev-parse", "main") == second


def test_missing_branch(github: GitHubServer, github_client: GitHubClient) -> None:
    github.commit_files(REPO, "main", {"a": "1"})
    with pytest.raises(GitHubNotFoundError, match="branch 'nope' does not exist"):
        github_client.commit_files("nope", [FileChange("a", b"3")], "x")


def test_the_server_refuses_a_non_fast_forward_ref_update(github: GitHubServer) -> None:
    first = github.commit_files(REPO, "main", {"a": "1"})
    second = github.commit_files(REPO, "main", {"a": "2"})
    ref = raw_github(github, TOKEN).get_repo(REPO).get_git_ref("heads/main")
    with pytest.raises(GithubException) as raised:
        ref.edit(sha=first)
    assert raised.value.status == 422
    assert raised.value.data["message"] == "Update is not a fast forward"
    assert git_out(bare(github), "rev-parse", "main") == second
    ref.edit(sha=first, force=True)
    assert git_out(bare(github), "rev-parse", "main") == first
