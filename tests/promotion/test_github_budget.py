"""What a reported promotion costs of the token's rate limit (docs/github.md, "The API budget"), counted by the
GitHub test server: 4 requests when the promotion makes its own Deployment, 1 when the promote job's
environment makes it (KARGO_ACTIONS_DEPLOYMENTS=job, as the generated workflow sets it), and never a read of
the repository. A test fails as soon as a promotion costs more than docs/github.md says."""

from __future__ import annotations

from pathlib import Path

from tests.ledger.helpers import make_freight
from tests.promotion.test_github_reporting import bare_commit, github_env, record, tag_of
from tests.promotion.test_github_reporting import gh as gh  # the fixture
from tests.promotion.test_github_reporting import repo as repo  # the fixture
from tests.promotion.test_service import run
from tests.support.github_fixtures import REPOSITORY, client_for
from tests.support.github_fixtures import github_contract as github_contract  # the fixture
from tests.support.github_server import GitHubServer


def _charged(server: GitHubServer, since: int) -> list[str]:
    """`METHOD path` of every request after `since` that counts against the rate limit (a 304 does not)."""
    prefix = f"/repos/{REPOSITORY}"
    return [f"{e.method} {e.path.removeprefix(prefix)}" for e in server.exchanges[since:] if e.status != 304]


def test_a_promotion_making_its_own_deployment_costs_4_requests(gh: GitHubServer, repo: Path) -> None:
    item = record(repo, make_freight(1, alias="f-1"))
    before = len(gh.exchanges)
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q", env=github_env(gh))
    assert code == 0, err
    charged = _charged(gh, before)
    [deployment] = client_for(gh).list_deployments()
    assert charged == [
        "POST /deployments",
        f"POST /deployments/{deployment.id}/statuses",  # in_progress, with the run's link while it runs
        f"POST /deployments/{deployment.id}/statuses",  # success
        f"POST /statuses/{bare_commit(gh, f'refs/tags/{tag_of(item)}')}",  # kargo/verified/dev
    ]


def test_a_promotion_whose_job_makes_the_deployment_costs_1_request(gh: GitHubServer, repo: Path) -> None:
    item = record(repo, make_freight(1, alias="f-1"))
    before = len(gh.exchanges)
    env = github_env(gh, KARGO_ACTIONS_DEPLOYMENTS="job")
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q", env=env)
    assert code == 0, err
    tag_commit = bare_commit(gh, f"refs/tags/{tag_of(item)}")
    assert _charged(gh, before) == [f"POST /statuses/{tag_commit}"]  # kargo/verified/dev, as without it
    client = client_for(gh)
    assert client.list_deployments() == ()
    [status] = client.combined_status(tag_commit).statuses
    assert (status.context, status.state) == ("kargo/verified/dev", "success")


def test_under_act_which_makes_no_job_deployments_the_promotion_makes_its_own(
    gh: GitHubServer, repo: Path
) -> None:
    item = record(repo, make_freight(1, alias="f-1"))
    env = github_env(gh, KARGO_ACTIONS_DEPLOYMENTS="job", ACT="true")
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q", env=env)
    assert code == 0, err
    [deployment] = client_for(gh).list_deployments()
    assert deployment.ref == tag_of(item)


def test_a_failed_promotion_whose_job_makes_the_deployment_costs_nothing(
    gh: GitHubServer, repo: Path
) -> None:
    record(repo, make_freight(1, alias="f-1"))
    before = len(gh.exchanges)
    env = github_env(gh, KARGO_ACTIONS_DEPLOYMENTS="job")
    code, _out, err = run(repo, "promote", "--stage", "broken", "--freight", "f-1", "-q", env=env)
    assert code == 1, err  # the job fails, so GitHub ends the job's deployment in failure itself
    assert _charged(gh, before) == []


def test_a_pull_request_promotion_reads_the_pull_request_once(gh: GitHubServer, repo: Path) -> None:
    """git-open-pr reads both branches, finds, opens and reads the pull request; kargo/gate reads its head
    again, conditionally (the ETag of git-open-pr's read: a free 304), then posts the status."""
    item = record(repo, make_freight(1, alias="f-1"))
    head = gh.commit_files(REPOSITORY, "promo/review", {"env/review.yaml": "image: v1\n"})
    before = len(gh.exchanges)
    env = github_env(gh, KARGO_ACTIONS_DEPLOYMENTS="job")
    code, _out, err = run(repo, "promote", "--stage", "review", "--freight", "f-1", "-q", env=env)
    assert code == 0, err
    [pull] = gh.repo(REPOSITORY).pulls.values()
    assert _charged(gh, before) == [
        "GET /git/ref/heads/main",  # git-open-pr: both branches exist
        "GET /git/ref/heads/promo/review",
        "GET /pulls",
        "POST /pulls",
        f"GET /pulls/{pull.number}",
        f"POST /statuses/{head}",  # kargo/gate
        f"POST /statuses/{bare_commit(gh, f'refs/tags/{tag_of(item)}')}",  # kargo/verified/review
    ]
    assert [e.status for e in gh.exchanges[before:] if e.path.endswith(f"/pulls/{pull.number}")] == [200, 304]
