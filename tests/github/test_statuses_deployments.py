"""Commit statuses (kargo/verified/<stage>, kargo/gate) and Deployments with their statuses."""

from __future__ import annotations

import pytest

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.errors import GitHubValidationError
from tests.github.helpers import REPO
from tests.support.github_server import GitHubServer


@pytest.mark.parametrize(
    ("states", "combined"),
    [
        ({"kargo/verified/dev": "success"}, "success"),
        ({"kargo/verified/dev": "success", "kargo/gate": "pending"}, "pending"),
        ({"kargo/verified/dev": "failure", "kargo/gate": "success"}, "failure"),
        ({"kargo/gate": "error"}, "failure"),
    ],
)
def test_statuses_combine_like_github(
    github: GitHubServer, github_client: GitHubClient, states: dict[str, str], combined: str
) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    for context, state in states.items():
        if context.startswith("kargo/verified/"):
            github_client.set_verified_status(sha, "dev", state=state, target_url="https://ci.example/run/1")  # type: ignore[arg-type]
        else:
            github_client.set_gate_status(sha, state=state, description=f"gate {state}")  # type: ignore[arg-type]
    result = github_client.combined_status("main")
    assert (result.sha, result.state) == (sha, combined)
    assert {s.context: s.state for s in result.statuses} == states


def test_the_latest_status_of_a_context_wins(github: GitHubServer, github_client: GitHubClient) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    github_client.set_gate_status(sha, state="pending", description="waiting for dev")
    github_client.set_gate_status(sha, state="success", description="x" * 300)
    gate = github_client.combined_status(sha).get("kargo/gate")
    assert gate is not None
    assert gate.state == "success"
    assert len(gate.description) == 140
    assert gate.description.endswith("…")


def test_status_on_an_unknown_commit_is_refused(github: GitHubServer, github_client: GitHubClient) -> None:
    github.commit_files(REPO, "main", {"a": "1"})
    with pytest.raises(GitHubValidationError, match="No commit found"):
        github_client.set_gate_status("0" * 40, state="success", description="x")


def test_deployment_per_promotion_with_statuses(github: GitHubServer, github_client: GitHubClient) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    github_client.create_branch("placeholder", sha)  # refs through the API, like the ledger's tags
    payload = {"freight": {"name": "f1", "alias": "wonky-wombat"}, "stage": "dev"}
    first = github_client.create_deployment(
        ref="placeholder", environment="dev", payload=payload, description="f1 to dev"
    )
    assert (first.sha, first.environment, first.payload) == (sha, "dev", payload)
    github_client.create_deployment_status(first.id, state="in_progress", log_url="https://ci.example/run/7")
    github_client.create_deployment_status(first.id, state="success", log_url="https://ci.example/run/7")
    second = github_client.create_deployment(ref=sha, environment="dev", payload=payload)
    github_client.create_deployment_status(
        second.id, state="failure", log_url="https://ci.example/run/8", description="step failed"
    )

    statuses = github_client.deployment_statuses(first.id)
    assert [s.state for s in statuses] == ["success", "in_progress"]
    assert statuses[0].log_url == "https://ci.example/run/7"
    assert [s.state for s in github_client.deployment_statuses(second.id)] == ["failure"]
    assert [d.id for d in github_client.list_deployments(environment="dev")] == [second.id, first.id]
    assert github_client.list_deployments(environment="prod") == ()
    sent = github.requests("POST", r"/deployments$")[0]
    assert b'"auto_merge": false' in sent.request_body
    assert b'"required_contexts": []' in sent.request_body
    assert "dev" in github.repo(REPO).environments  # GitHub creates the environment on first deployment


def test_a_new_success_makes_the_previous_deployment_inactive(
    github: GitHubServer, github_client: GitHubClient
) -> None:
    sha = github.commit_files(REPO, "main", {"a": "1"})
    old = github_client.create_deployment(ref=sha, environment="prod", payload={})
    github_client.create_deployment_status(old.id, state="success")
    new = github_client.create_deployment(ref=sha, environment="prod", payload={})
    github_client.create_deployment_status(new.id, state="success")
    assert github_client.deployment_statuses(old.id)[0].state == "inactive"
