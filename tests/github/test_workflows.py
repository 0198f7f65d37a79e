"""workflow_dispatch with inputs, and waiting for the run's conclusion."""

from __future__ import annotations

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.github.client import GitHubClient
from kargo_actions.github.errors import GitHubNotFoundError, GitHubTimeoutError
from tests.github.helpers import REPO
from tests.support.github_server import GitHubServer


def test_dispatch_is_recorded_with_inputs_and_the_run_completes(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    wf = github.add_workflow(REPO, ".github/workflows/kargo-promote.yml", "promote")
    dispatched = github_client.dispatch_workflow(
        "kargo-promote.yml", ref="main", inputs={"stage": "uat", "freight": "f1"}
    )
    run = github_client.get_workflow_run(dispatched.id)
    assert dispatched.html_url == run.html_url
    assert (run.workflow_id, run.head_sha, run.event, run.completed) == (
        wf.id,
        sha,
        "workflow_dispatch",
        False,
    )
    [dispatch] = github.repo(REPO).dispatches
    assert (dispatch.workflow_path, dispatch.ref, dispatch.inputs, dispatch.run_id) == (
        ".github/workflows/kargo-promote.yml",
        "main",
        {"stage": "uat", "freight": "f1"},
        run.id,
    )
    done = github_client.wait_for_workflow_run(run.id, timeout=10)
    assert done.succeeded


def test_a_failed_run_is_reported_as_completed_with_its_conclusion(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    github.commit_files(REPO, "main", {"a": "1"})
    wf = github.add_workflow(REPO, ".github/workflows/smoke.yml")
    wf.script = [("in_progress", None), ("completed", "failure")]
    run = github_client.dispatch_workflow(wf.id, ref="main")
    done = github_client.wait_for_workflow_run(run.id, timeout=10)
    assert (done.completed, done.succeeded, done.conclusion) == (True, False, "failure")


def test_a_run_that_never_ends_times_out(github: GitHubServer, github_client: GitHubClient) -> None:
    github.commit_files(REPO, "main", {"a": "1"})
    wf = github.add_workflow(REPO, ".github/workflows/slow.yml")
    wf.script = [("in_progress", None)]
    run = github_client.dispatch_workflow("slow.yml", ref="main")
    with pytest.raises(GitHubTimeoutError, match=f"workflow run {run.id} did not complete within 0.3 s"):
        github_client.wait_for_workflow_run(run.id, timeout=0.3)


def test_servers_without_run_details_still_yield_the_run(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    github.commit_files(REPO, "main", {"a": "1"})
    wf = github.add_workflow(REPO, ".github/workflows/old.yml")
    wf.returns_run_details = False
    before = len(github.exchanges)
    run = github_client.dispatch_workflow("old.yml", ref="main", inputs={"stage": "dev"})
    assert run.id == github.repo(REPO).dispatches[0].run_id
    assert run.html_url.endswith(f"/actions/runs/{run.id}")
    # the 204 costs one look at the workflow's runs, by its file name (no lookup of the workflow)
    assert [(e.method, e.path.rsplit("/", 1)[-1]) for e in github.exchanges[before:]] == [
        ("POST", "dispatches"),
        ("GET", "runs"),
    ]


def test_a_dispatch_is_one_request(github: GitHubServer, github_client: GitHubClient) -> None:
    # the budget docs/github.md states: the run's id and URL come in the dispatch's own answer
    github.commit_files(REPO, "main", {"a": "1"})
    github.add_workflow(REPO, ".github/workflows/kargo-promote.yml", "promote")
    before = len(github.exchanges)
    run = github_client.dispatch_workflow("kargo-promote.yml", ref="main", inputs={"stage": "dev"})
    [exchange] = github.exchanges[before:]
    assert (exchange.method, exchange.status) == ("POST", 200)
    assert exchange.path.endswith("/actions/workflows/kargo-promote.yml/dispatches")
    assert run.id == github.repo(REPO).dispatches[0].run_id


def test_more_than_25_inputs_are_refused_before_calling(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    github.commit_files(REPO, "main", {"a": "1"})
    github.add_workflow(REPO, ".github/workflows/promote.yml")
    with pytest.raises(InvalidInputError, match="26 inputs given; a workflow_dispatch takes at most 25"):
        github_client.dispatch_workflow("promote.yml", ref="main", inputs={f"i{n}": "x" for n in range(26)})
    assert github.repo(REPO).dispatches == []


def test_unknown_workflow(github: GitHubServer, github_client: GitHubClient) -> None:
    github.commit_files(REPO, "main", {"a": "1"})
    with pytest.raises(GitHubNotFoundError, match="could not dispatch workflows in acme/app: not found"):
        github_client.dispatch_workflow("nope.yml", ref="main")
