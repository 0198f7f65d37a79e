"""The Deployment per promotion and the kargo/verified, kargo/gate statuses promote posts, against the test
server; the promotion PR body; repository URLs."""

from __future__ import annotations

import pytest

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.deployments import finish_deployment, freight_payload, start_deployment
from kargo_actions.github.prbody import RenderedDiff, promotion_body
from kargo_actions.github.repourl import repository_from_url, web_base
from kargo_actions.github.statuses import gate_pull_request, gate_status, mark_verified, pull_request_location
from kargo_actions.github.text import BODY_LIMIT
from kargo_actions.model.freight import Freight
from tests.github.helpers import bare, git_out, seed_promotion_branch
from tests.support.github_fixtures import FAST, TOKEN
from tests.support.github_server import GitHubServer

FREIGHT = Freight.model_validate(
    {
        "metadata": {"name": "a" * 40},
        "alias": "brave-fox",
        "origin": {"kind": "Warehouse", "name": "app"},
        "images": [{"repoURL": "ghcr.io/acme/app", "tag": "v2"}],
        "commits": [{"repoURL": "https://github.com/acme/src.git", "id": "2" * 40}],
        "charts": [{"repoURL": "https://charts.acme.io", "name": "app", "version": "1.2.0"}],
    }
)
PREVIOUS = Freight.model_validate(
    {
        "metadata": {"name": "b" * 40},
        "origin": {"kind": "Warehouse", "name": "app"},
        "images": [{"repoURL": "ghcr.io/acme/app", "tag": "v1"}],
        "commits": [{"repoURL": "https://github.com/acme/src.git", "id": "1" * 40}],
        "charts": [{"repoURL": "https://charts.acme.io", "name": "app", "version": "1.1.0"}],
    }
)
TAG = "kargo/freight/app/" + "a" * 40


def _tagged(github: GitHubServer) -> str:
    main, _ = seed_promotion_branch(github)
    git_out(bare(github), "tag", TAG, main)
    return main


@pytest.mark.parametrize(
    ("phase", "state"),
    [("Succeeded", "success"), ("Failed", "failure"), ("Errored", "error"), ("Aborted", "error")],
)
def test_a_deployment_per_promotion(
    github: GitHubServer, github_client: GitHubClient, phase: str, state: str
) -> None:
    main = _tagged(github)
    log = "https://github.com/acme/app/actions/runs/7"
    started = start_deployment(
        github_client, "prod", FREIGHT, f"refs/tags/{TAG}", log, promotion="prod.01j.aaaaaaa"
    )
    [deployment] = github_client.list_deployments(environment="prod")
    assert (deployment.id, deployment.ref, deployment.sha, deployment.environment) == (
        started.id,
        TAG,
        main,
        "prod",
    )
    assert deployment.payload == freight_payload(FREIGHT, "prod.01j.aaaaaaa")
    assert deployment.payload["freight"]["metadata"]["name"] == "a" * 40  # type: ignore[index]
    sent = github.requests("POST", "/deployments$")[0].request_body
    assert b'"auto_merge": false' in sent and b'"required_contexts": []' in sent  # noqa: PT018
    finish_deployment(github_client, started, phase, message=f"promotion {phase}")
    statuses = github_client.deployment_statuses(started.id)  # newest first
    assert [(s.state, s.log_url) for s in statuses] == [(state, log), ("in_progress", log)]


def test_finish_refuses_a_phase_that_is_not_final(github_client: GitHubClient) -> None:
    with pytest.raises(ValueError, match="'Running' is not a finished promotion phase"):
        finish_deployment(github_client, 1, "Running")


def test_verified_and_gate_statuses(github: GitHubServer, github_client: GitHubClient) -> None:
    main, head = seed_promotion_branch(github)
    mark_verified(github_client, "staging", main, freight=FREIGHT)
    gate_status(github_client, head, "prod", FREIGHT, available=False, reason="not verified in staging")
    verified = github_client.combined_status(main).get("kargo/verified/staging")
    assert verified is not None
    assert (verified.state, verified.description) == ("success", "Freight brave-fox verified in staging")
    gate = github_client.combined_status(head).get("kargo/gate")
    assert gate is not None
    assert (gate.state, gate.description) == (
        "failure",
        "Freight brave-fox is not available to prod: not verified in staging",
    )
    gate_status(github_client, head, "prod", FREIGHT, available=True)
    gate = github_client.combined_status(head).get("kargo/gate")
    assert gate is not None
    assert (gate.state, gate.description) == ("success", "Freight brave-fox is available to prod")


def test_body_shows_old_to_new_for_every_artifact() -> None:
    body = promotion_body(stage="prod", freight=FREIGHT, previous=PREVIOUS, promotion="prod.01j.aaaaaaa")
    assert (
        "| `ghcr.io/acme/app` | [`v1`](https://ghcr.io/acme/app) | [`v2`](https://ghcr.io/acme/app) |" in body
    )
    assert "| `https://charts.acme.io/app` | `1.1.0` | `1.2.0` |" in body
    compare = f"[1111111...2222222](https://github.com/acme/src/compare/{'1' * 40}...{'2' * 40})"
    assert compare in body
    assert f"[`1111111`](https://github.com/acme/src/commit/{'1' * 40})" in body
    assert body.startswith("Promotes Freight `brave-fox` (aaaaaaa) into Stage `prod`.")
    assert "<!-- promotion: prod.01j.aaaaaaa -->" in body


@pytest.mark.parametrize("patch_size", [10, 70_000, 500_000])
def test_body_keeps_the_freight_and_cuts_the_diff(patch_size: int) -> None:
    patch = "".join(f"+line {i:07d}\n" for i in range(patch_size // 14 + 1))
    rendered = RenderedDiff(stat=" a.yaml | 9 +++\n 1 file changed\n", patch=patch)
    body = promotion_body(stage="prod", freight=FREIGHT, description="Custom text.", rendered=rendered)
    assert len(body) <= BODY_LIMIT
    assert body.startswith("Custom text.")
    assert "| `ghcr.io/acme/app` | - | [`v2`](https://ghcr.io/acme/app) |" in body
    assert "1 file changed" in body
    assert ("left out" in body) == (len(patch) > BODY_LIMIT - 3000)


@pytest.mark.parametrize(
    ("url", "repository", "web"),
    [
        ("https://github.com/acme/app.git", "acme/app", "https://github.com/acme/app"),
        ("https://github.com/acme/app", "acme/app", "https://github.com/acme/app"),
        ("https://ghe.example.com/acme/app/", "acme/app", "https://ghe.example.com/acme/app"),
        ("http://127.0.0.1:8080/acme/app.git", "acme/app", "http://127.0.0.1:8080/acme/app"),
        ("git@github.com:acme/app.git", "acme/app", "https://github.com/acme/app"),
    ],
)
def test_repository_urls(url: str, repository: str, web: str) -> None:
    assert repository_from_url(url) == repository
    assert web_base(url) == web


@pytest.mark.parametrize("url", ["https://github.com/acme", "not a url", "file:///srv/app.git"])
def test_urls_without_owner_and_name_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="expected https://HOST/OWNER/REPO"):
        repository_from_url(url)


def test_gate_on_a_pull_request_by_its_url(github: GitHubServer, github_client: GitHubClient) -> None:
    _, head = seed_promotion_branch(github)
    pr = github_client.open_pull_request(title="Promote brave-fox to prod", head="promote/dev", base="main")
    env = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN}
    gate_pull_request(pr.html_url, "prod", FREIGHT, available=True, env=env, options=FAST)
    gate = github_client.combined_status(head).get("kargo/gate")
    assert gate is not None
    assert (gate.state, gate.description) == ("success", "Freight brave-fox is available to prod")


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("https://github.com/acme/app/pull/7", ("acme/app", 7)),
        ("http://127.0.0.1:9/acme/app/pull/12/", ("acme/app", 12)),
        ("https://github.com/acme/app/issues/7", None),
        ("https://github.com/acme/app", None),
    ],
)
def test_pull_request_urls(url: str, where: tuple[str, int] | None) -> None:
    if where is None:
        with pytest.raises(ValueError, match="is not a pull request URL"):
            pull_request_location(url)
    else:
        assert pull_request_location(url) == where
