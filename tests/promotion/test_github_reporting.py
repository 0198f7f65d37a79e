"""`promote`, `promote --auto` and `rollback` report to GitHub: a Deployment per promotion (environment =
Stage, ref = the Freight's tag, in_progress then the outcome, with the run's log URL), kargo/verified/<stage>
and kargo/gate statuses. Against the GitHub test server (every exchange checked against GitHub's OpenAPI
description) whose bare repository is the pipeline repository's remote: the ledger and Freight tags are
pushed there, and GitHub resolves the Deployment's ref in it. A GitHub that fails never changes the ledger
record or the exit code; without GitHub settings nothing is asked of any API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.errors import FailedError
from kargo_actions.github.client import GitHubClient
from kargo_actions.ledger import Ledger, LedgerConfig
from kargo_actions.manifests import load_project
from kargo_actions.model.freight import Freight
from kargo_actions.promotion import github_reporting as reporting
from kargo_actions.promotion.engine import EngineOptions
from kargo_actions.promotion.result import StepRun
from kargo_actions.promotion.service import PromoteOptions, promote
from kargo_actions.promotion.steps.support import github_common
from tests.ledger.helpers import git, make_commit_freight, make_freight, make_repo
from tests.promotion.test_service import run, write
from tests.support.github_contract import GitHubContract
from tests.support.github_fixtures import FAST, REPOSITORY, TOKEN, client_for, start_checked
from tests.support.github_fixtures import github_contract as github_contract  # the fixture
from tests.support.github_server import GITHUB_TOKEN_PERMISSIONS, GitHubServer

SERVER_URL = "https://github.example"
RUN_ID = "4242"
LOG_URL = f"{SERVER_URL}/{REPOSITORY}/actions/runs/{RUN_ID}"
APP_URL = f"https://github.com/{REPOSITORY}.git"
STEP = [{"uses": "compose-output", "as": "out", "config": {"stage": "${{ ctx.stage }}"}}]


def _stage(name: str, sources: dict[str, Any], steps: list[dict[str, Any]] = STEP) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "app"}, "sources": sources}],
            "promotionTemplate": {"spec": {"steps": steps}},
        },
    }


def manifests(*, auto: bool = False) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "p"}},
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app"},
            "spec": {"subscriptions": [{"image": {"repoURL": "ghcr.io/example/app"}}]},
        },
        _stage("dev", {"direct": True}),
        _stage("staging", {"stages": ["dev"]}),
        _stage("broken", {"direct": True}, [{"uses": "fail", "config": {"message": "broken on purpose"}}]),
        _stage(
            "review",
            {"direct": True},
            [
                {
                    "uses": "git-open-pr",
                    "as": "open-pr",
                    "config": {"repoURL": APP_URL, "sourceBranch": "promo/review", "targetBranch": "main"},
                }
            ],
        ),
    ]
    if auto:
        docs.append(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "ProjectConfig",
                "metadata": {"name": "p"},
                "spec": {
                    "promotionPolicies": [
                        {"stageSelector": {"name": "regex:^(dev|staging)$"}, "autoPromotionEnabled": True}
                    ]
                },
            }
        )
    return docs


@pytest.fixture
def gh(
    tmp_path: Path, github_contract: GitHubContract, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GitHubServer]:
    """The GitHub test server, unpaced (it is local), GITHUB_* of the machine cleared."""
    monkeypatch.setattr(reporting, "CLIENT_OPTIONS", FAST)
    monkeypatch.setattr(github_common, "CLIENT_OPTIONS", FAST)
    for var in ("GITHUB_REPOSITORY", "GITHUB_API_URL", "GITHUB_RUN_ID", "GITHUB_SERVER_URL", "GITHUB_APP_ID"):
        monkeypatch.delenv(var, raising=False)
    yield from start_checked(tmp_path / "gh", github_contract)


@pytest.fixture
def repo(tmp_path: Path, gh: GitHubServer) -> Path:
    """The pipeline repository; its remote (ledger branch, Freight tags) is the server's bare acme/app."""
    path = make_repo(tmp_path / "repo", gh.repo(REPOSITORY).path)
    write(path, manifests())
    return path


def github_env(server: GitHubServer, token: str = TOKEN, **more: str) -> dict[str, str]:
    return {
        "GITHUB_API_URL": server.url,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_TOKEN": token,
        "GITHUB_SERVER_URL": SERVER_URL,
        "GITHUB_RUN_ID": RUN_ID,
        **more,
    }


def record(repo: Path, item: Freight) -> Freight:
    with Ledger(repo, LedgerConfig()) as ledger:
        return ledger.record_freight(item).freight


def tag_of(item: Freight) -> str:
    return f"kargo/freight/app/{item.name}"


def ledger_log(server: GitHubServer) -> list[str]:
    return git(server.repo(REPOSITORY).path, "log", "--format=%s", "kargo/ledger").splitlines()


def bare_commit(server: GitHubServer, ref: str) -> str:
    return git(server.repo(REPOSITORY).path, "rev-parse", f"{ref}^{{commit}}")


def statuses(client: GitHubClient, deployment_id: int) -> list[tuple[str, str]]:
    """(state, log_url) oldest first."""
    return [(s.state, s.log_url) for s in reversed(client.deployment_statuses(deployment_id))]


def verified(client: GitHubClient, sha: str, stage: str) -> list[str]:
    return [s.state for s in client.combined_status(sha).statuses if s.context == f"kargo/verified/{stage}"]


def test_a_promotion_is_a_deployment_in_progress_then_success_and_verified(
    gh: GitHubServer, repo: Path
) -> None:
    item = record(repo, make_freight(1, alias="f-1"))
    before = len(ledger_log(gh))
    code, out, err = run(
        repo, "-o", "json", "promote", "--stage", "dev", "--freight", "f-1", env=github_env(gh)
    )
    assert code == 0, err
    [promotion] = json.loads(out)
    assert len(ledger_log(gh)) == before + 2  # reporting writes nothing to the ledger
    client = client_for(gh)
    [deployment] = client.list_deployments()
    tag_commit = bare_commit(gh, f"refs/tags/{tag_of(item)}")
    assert (deployment.environment, deployment.ref, deployment.sha) == ("dev", tag_of(item), tag_commit)
    assert deployment.payload["promotion"] == promotion["name"]
    assert deployment.payload["freight"]["metadata"]["name"] == item.name
    assert statuses(client, deployment.id) == [("in_progress", LOG_URL), ("success", LOG_URL)]
    # an image-only Freight: kargo/verified goes on the commit its tag points at, as the Deployment shows
    assert verified(client, tag_commit, "dev") == ["success"]
    [status] = [s for s in client.combined_status(tag_commit).statuses if s.context == "kargo/verified/dev"]
    assert status.description == "Freight f-1 verified in dev"
    posts = [e.path.split("/repos/acme/app")[-1] for e in gh.requests("POST")]
    assert posts == [
        "/deployments",
        f"/deployments/{deployment.id}/statuses",
        f"/deployments/{deployment.id}/statuses",
        f"/statuses/{tag_commit}",
    ]


def test_a_failing_promotion_ends_its_deployment_in_failure_and_is_not_verified(
    gh: GitHubServer, repo: Path
) -> None:
    item = record(repo, make_freight(1, alias="f-1"))
    code, _out, err = run(repo, "promote", "--stage", "broken", "--freight", "f-1", "-q", env=github_env(gh))
    assert code == 1, err
    client = client_for(gh)
    [deployment] = client.list_deployments(environment="broken")
    assert statuses(client, deployment.id) == [("in_progress", LOG_URL), ("failure", LOG_URL)]
    assert "broken on purpose" in client.deployment_statuses(deployment.id)[0].description
    assert verified(client, bare_commit(gh, f"refs/tags/{tag_of(item)}"), "broken") == []


def test_a_freight_commit_of_this_repository_gets_the_verified_status(gh: GitHubServer, repo: Path) -> None:
    """The tag of this Freight points at the ledger commit (its commit URL is not the ledger remote's), yet
    the status goes on the Freight's own commit of acme/app, where the code is."""
    main = bare_commit(gh, "refs/heads/main")
    item = record(repo, make_commit_freight(APP_URL, main))
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", item.name, "-q", env=github_env(gh))
    assert code == 0, err
    client = client_for(gh)
    assert verified(client, main, "dev") == ["success"]
    assert verified(client, bare_commit(gh, f"refs/tags/{tag_of(item)}"), "dev") == []


def test_rollback_and_auto_promotion_are_deployments_too(gh: GitHubServer, repo: Path) -> None:
    write(repo, manifests(auto=True))
    f1 = record(repo, make_freight(1, alias="f-1"))
    env = github_env(gh)
    assert run(repo, "promote", "--auto", "-q", env=env)[0] == 0  # dev, then staging (verified in dev)
    f2 = record(repo, make_freight(2, alias="f-2"))
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-2", "-q", env=env)[0] == 0
    code, _out, err = run(repo, "rollback", "--stage", "dev", "-q", env=env)
    assert code == 0, err
    client = client_for(gh)
    dev = client.list_deployments(environment="dev")  # newest first
    assert [d.ref for d in dev] == [tag_of(f1), tag_of(f2), tag_of(f1)]
    assert [d.ref for d in client.list_deployments(environment="staging")] == [tag_of(f1)]
    # each succeeded; a newer success makes the environment's earlier Deployments inactive (GitHub's rule)
    assert [[state for state, _ in statuses(client, d.id)] for d in dev] == [
        ["in_progress", "success"],
        ["in_progress", "success", "inactive"],
        ["in_progress", "success", "inactive"],
    ]


def test_kargo_gate_is_posted_on_the_pull_request_git_open_pr_opened(gh: GitHubServer, repo: Path) -> None:
    record(repo, make_freight(1, alias="f-1"))
    head = gh.commit_files(REPOSITORY, "promo/review", {"env/review.yaml": "image: v1\n"})
    code, _out, err = run(repo, "promote", "--stage", "review", "--freight", "f-1", "-q", env=github_env(gh))
    assert code == 0, err
    [pull] = gh.repo(REPOSITORY).pulls.values()
    assert pull.head_sha == head
    [gate] = [s for s in client_for(gh).combined_status(head).statuses if s.context == "kargo/gate"]
    assert (gate.state, gate.description, gate.target_url) == (
        "success",
        "Freight f-1 is available to review",
        LOG_URL,
    )


@pytest.mark.parametrize(("stage", "exit_code", "phase"), [("dev", 0, "Succeeded"), ("broken", 1, "Failed")])
def test_github_down_is_a_warning_and_the_exit_code_is_the_promotions_own(
    gh: GitHubServer, repo: Path, stage: str, exit_code: int, phase: str
) -> None:
    record(repo, make_freight(1, alias="f-1"))
    gh.down = True
    env = github_env(gh, GITHUB_ACTIONS="true")
    code, out, err = run(repo, "-o", "json", "promote", "--stage", stage, "--freight", "f-1", env=env)
    assert code == exit_code, err
    assert json.loads(out)[0]["phase"] == phase
    assert "::warning title=kargo-actions GitHub report::GitHub: could not create the Deployment of " in err
    assert "GitHub did not answer" in err
    assert f" {phase} (by " in ledger_log(gh)[0]  # the final record, written while GitHub was down


def test_github_failing_mid_promotion_keeps_the_ledger_record(gh: GitHubServer, repo: Path) -> None:
    """The Deployment is created, then GitHub goes away during the steps: the promotion still succeeds, its
    final record is written, and what could not be reported is said."""
    item = record(repo, make_freight(1, alias="f-1"))
    lines: list[str] = []
    reporter = reporting.GitHubReporter(github_env(gh), options=FAST, echo=lines.append)

    def outage(run: StepRun) -> None:
        gh.down = True

    project = load_project(repo / ".kargo")
    options = PromoteOptions(reporter=reporter, engine=EngineOptions(on_step=outage))
    with Ledger(repo, LedgerConfig()) as ledger:
        outcome = promote(project, ledger, "dev", item.name, options=options)
        assert outcome.succeeded
        assert outcome.verified
        history = ledger.stage_history("dev").records
    assert [r.phase for r in history] == ["Succeeded"]
    assert ledger_log(gh)[0].startswith(f"promotion: {outcome.result.name} Succeeded")
    gh.down = False
    client = client_for(gh)
    [deployment] = client.list_deployments()
    assert statuses(client, deployment.id) == [("in_progress", LOG_URL)]
    assert [line.split(":")[0:3] for line in lines] == [
        ["warning", " GitHub", " could not finish the Deployment of " + outcome.result.name],
        ["warning", " GitHub", f" could not post kargo/verified/dev on {deployment.sha[:12]}"],
    ]


def test_a_missing_permission_is_one_error_naming_it_and_promotions_go_on(
    gh: GitHubServer, repo: Path
) -> None:
    write(repo, manifests(auto=True))
    record(repo, make_freight(1, alias="f-1"))
    gh.add_token(
        "ghs_no_deployments", {k: v for k, v in GITHUB_TOKEN_PERMISSIONS.items() if k != "deployments"}
    )
    env = github_env(gh, token="ghs_no_deployments")
    code, out, err = run(repo, "-o", "json", "promote", "--auto", "-q", env=env)
    assert code == 0, err
    assert [d["action"] for d in json.loads(out) if d["stage"] in ("dev", "staging")] == ["promoted"] * 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "the token cannot create deployments in acme/app: it needs `deployments: write`" in errors[0]
    assert "not tried again" in errors[0]
    assert "warning" not in err
    assert len(gh.requests("POST", "/deployments$")) == 1  # not asked again for staging
    client = client_for(gh)
    tag_commit = bare_commit(gh, "refs/tags/" + tag_of(make_freight(1)))
    assert verified(client, tag_commit, "dev") == verified(client, tag_commit, "staging") == ["success"]


@pytest.mark.parametrize(
    ("args", "drop"),
    [((), "GITHUB_REPOSITORY"), ((), "GITHUB_TOKEN"), (("--no-github",), "")],
    ids=["no-repository", "no-token", "no-github"],
)
def test_without_github_settings_no_api_is_called(
    gh: GitHubServer, repo: Path, args: tuple[str, ...], drop: str
) -> None:
    record(repo, make_freight(1, alias="f-1"))
    env = {k: v for k, v in github_env(gh).items() if k != drop}
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q", *args, env=env)
    assert code == 0, err
    assert gh.exchanges == []
    assert "GitHub" not in err


def test_github_forced_without_settings_is_bad_input_before_anything_is_recorded(
    gh: GitHubServer, repo: Path
) -> None:
    record(repo, make_freight(1, alias="f-1"))
    before = ledger_log(gh)
    env = {k: v for k, v in github_env(gh).items() if k != "GITHUB_TOKEN"}
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "--github", env=env)
    assert code == 2
    assert "--github: reporting to GitHub needs GITHUB_TOKEN" in err
    assert ledger_log(gh) == before
    assert gh.exchanges == []


def test_promote_without_github_never_imports_the_github_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    write(repo, manifests())
    record(repo, make_freight(1, alias="f-1"))
    script = (
        "import sys\n"
        "from kargo_actions.cli.main import main\n"
        "try:\n"
        f"    main(['--repo', {str(repo)!r}, 'promote', '--stage', 'dev', '--freight', 'f-1', '-q'])\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "print(code, sorted(m for m in sys.modules if m == 'github' or m.startswith('kargo_actions.github')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stderr


def test_a_final_record_that_cannot_be_written_ends_the_deployment_in_error(
    gh: GitHubServer, repo: Path, tmp_path: Path
) -> None:
    """The remote goes away during the steps: the command fails as before, and the Deployment does not stay
    in_progress on GitHub."""
    item = record(repo, make_freight(1, alias="f-1"))
    reporter = reporting.GitHubReporter(github_env(gh), options=FAST, echo=lambda line: None)

    hook = Path(git(repo, "remote", "get-url", "origin")) / "hooks" / "pre-receive"

    def remote_gone(run: StepRun) -> None:
        # The remote stops taking ledger writes (as a remote that went away would), steps' pushes still land.
        hook.write_text("#!/bin/sh\ngrep -q refs/heads/kargo/ledger && exit 1\nexit 0\n")
        hook.chmod(0o755)

    project = load_project(repo / ".kargo")
    options = PromoteOptions(reporter=reporter, engine=EngineOptions(on_step=remote_gone))
    with (
        Ledger(repo, LedgerConfig()) as ledger,
        pytest.raises(FailedError, match=r"push of ledger branch kargo/ledger .* was rejected"),
    ):
        promote(project, ledger, "dev", item.name, options=options)
    client = client_for(gh)
    [deployment] = client.list_deployments()
    assert statuses(client, deployment.id) == [("in_progress", LOG_URL), ("error", LOG_URL)]
    assert client.deployment_statuses(deployment.id)[0].description.startswith(
        "the final ledger record was not written"
    )
    assert verified(client, deployment.sha, "dev") == []


def test_unusable_github_credentials_are_one_warning_and_nothing_is_asked(
    gh: GitHubServer, repo: Path
) -> None:
    """A GitHub App id without its key: the client cannot be made; said once, not retried per report."""
    item = record(repo, make_freight(1, alias="f-1"))
    env = {k: v for k, v in github_env(gh, GITHUB_APP_ID="17").items() if k != "GITHUB_TOKEN"}
    lines: list[str] = []
    reporter = reporting.GitHubReporter(env, options=FAST, echo=lines.append)
    project = load_project(repo / ".kargo")
    with Ledger(repo, LedgerConfig()) as ledger:
        outcome = promote(project, ledger, "dev", item.name, options=PromoteOptions(reporter=reporter))
    assert outcome.succeeded
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"warning: GitHub: could not create the Deployment of {outcome.result.name}")
    assert "a GitHub App needs both its id and its private key" in lines[0]
    assert gh.exchanges == []
