"""The kargo-actions/github-checks plugin provider and kargo/verified/<stage> against the GitHub test server
(every answer checked against GitHub's OpenAPI description)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.github.client import GitHubClient
from kargo_actions.ledger import Ledger
from kargo_actions.model.freight import Freight
from kargo_actions.verification.phases import Phase, RunResult
from kargo_actions.verification.providers.base import MeasureContext
from kargo_actions.verification.runner import RunOptions, run_analysis
from tests.github.helpers import seed_promotion_branch
from tests.ledger.helpers import make_repo
from tests.support.github_fixtures import REPOSITORY, TOKEN
from tests.support.github_server import GitHubServer
from tests.verification.helpers import FakeClock, plan_of


def env(github: GitHubServer) -> dict[str, str]:
    return {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPOSITORY}


def freight(sha: str) -> Freight:
    return Freight.model_validate(
        {
            "metadata": {"name": "a" * 40},
            "alias": "brave-fox",
            "origin": {"kind": "Warehouse", "name": "app"},
            "commits": [{"repoURL": f"https://github.com/{REPOSITORY}.git", "id": sha}],
        }
    )


def checks_metric(**config: Any) -> dict[str, Any]:
    return {
        "name": "ci",
        "provider": {"plugin": {"kargo-actions/github-checks": {"pollInterval": "1s", **config}}},
    }


def measure(github: GitHubServer, sha: str, metric: dict[str, Any], sleep: Any = None) -> RunResult:
    ctx = MeasureContext(freight=freight(sha), env=env(github), sleep=sleep)
    return run_analysis(plan_of([metric]), RunOptions(clock=FakeClock(), context=ctx))


def test_checks_of_the_freight_commit_succeed(github: GitHubServer, github_client: GitHubClient) -> None:
    main, _ = seed_promotion_branch(github)
    github.add_check_run(REPOSITORY, main, "build", "success")
    github_client.create_status(main, state="success", context="lint", description="ok")
    github_client.create_status(main, state="failure", context="kargo/verified/dev", description="ours")
    result = measure(github, main, checks_metric())
    assert result.phase is Phase.SUCCESSFUL, result.message
    assert result.metrics[0].measurements[0].result == {
        "state": "success",
        "checks": {"lint": "success", "build": "success"},  # this project's own kargo/ statuses left out
        "failed": [],
        "pending": [],
    }


@pytest.mark.parametrize("kind", ["status", "check run"])
def test_waits_for_pending_checks(github: GitHubServer, github_client: GitHubClient, kind: str) -> None:
    main, _ = seed_promotion_branch(github)
    if kind == "status":
        github_client.create_status(main, state="pending", context="deploy-check", description="running")
    else:
        github.add_check_run(REPOSITORY, main, "deploy-check", None)  # in progress: conclusion null
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if kind == "status":
            github_client.create_status(main, state="success", context="deploy-check", description="done")
        else:
            github.add_check_run(REPOSITORY, main, "deploy-check", "success")  # the re-run that finished

    result = measure(github, main, checks_metric(), sleep)
    assert result.phase is Phase.SUCCESSFUL, result.message
    assert polls == [1.0]


@pytest.mark.parametrize(
    ("runs", "config", "phase", "message"),
    [
        ([("build", "failure")], {}, Phase.FAILED, "failed (1) > failureLimit (0)"),
        ([("build", "success"), ("e2e", "failure")], {"checks": ["build"]}, Phase.SUCCESSFUL, ""),
        (
            [("build", "success")],
            {"checks": ["build", "deploy"], "timeout": "0s"},
            Phase.INCONCLUSIVE,
            "inconclusive",
        ),
    ],
)
def test_failed_selected_and_timed_out_checks(
    github: GitHubServer, runs: list[tuple[str, str]], config: dict[str, Any], phase: Phase, message: str
) -> None:
    main, _ = seed_promotion_branch(github)
    for name, conclusion in runs:
        github.add_check_run(REPOSITORY, main, name, conclusion)
    result = measure(github, main, checks_metric(**config))
    assert result.phase is phase, result.message
    assert message in result.message


def test_a_freight_without_a_commit_of_the_repository_is_bad_input(github: GitHubServer) -> None:
    from kargo_actions.errors import InvalidInputError

    item = Freight.model_validate(
        {
            "metadata": {"name": "b" * 40},
            "origin": {"kind": "Warehouse", "name": "app"},
            "images": [{"repoURL": "x/y", "tag": "1"}],
        }
    )
    ctx = MeasureContext(freight=item, env=env(github))
    with pytest.raises(InvalidInputError, match="has no commit of acme/app"):
        run_analysis(plan_of([checks_metric()]), RunOptions(clock=FakeClock(), context=ctx))


@pytest.mark.parametrize(
    ("phase", "state"), [(Phase.SUCCESSFUL, "success"), (Phase.FAILED, "failure"), (Phase.ERROR, "error")]
)
def test_kargo_verified_status_through_the_reporter(
    github: GitHubServer, github_client: GitHubClient, tmp_path: Path, phase: Phase, state: str
) -> None:
    from kargo_actions.manifests import load_project
    from kargo_actions.verification.service import VerificationOutcome, report_verified
    from kargo_actions.verification.templates import AnalysisPlan

    main, _ = seed_promotion_branch(github)
    folder = tmp_path / "kargo"
    folder.mkdir()
    (folder / "stage.yaml").write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata: {name: app}\nspec:\n  subscriptions:\n"
        "  - image: {repoURL: ghcr.io/acme/app}\n---\napiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\n"
        "metadata: {name: dev}\nspec:\n  requestedFreight:\n  - origin: {kind: Warehouse, name: app}\n"
        "    sources: {direct: true}\n"
    )
    stage = load_project(folder).stages["dev"]
    item = freight(main)
    outcome = VerificationOutcome(
        stage="dev",
        freight=item,
        record_id="x",
        run=RunResult(phase=phase),
        plan=AnalysisPlan(stage="dev", templates=(), metrics=()),
    )
    with Ledger(make_repo(tmp_path / "repo")) as ledger:
        report_verified(stage, item, ledger, outcome, env(github), None)
    combined = github_client.combined_status(main)
    got = combined.get("kargo/verified/dev")
    assert got is not None
    assert got.state == state
    assert "brave-fox" in got.description
