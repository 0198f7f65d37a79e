"""git-open-pr, git-wait-for-pr, git-merge-pr against the GitHub test server on real bare repositories:
config tables, a real pull request with the Freight in its body, waits, merges blocked by rulesets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.github.models import RulesetSpec
from kargo_actions.github.statuses import gate_status
from kargo_actions.github.text import BODY_LIMIT
from kargo_actions.promotion.step_api import (
    StepConfigError,
    StepError,
    StepFailed,
    StepStatus,
    TerminalStepError,
    validate_config,
)
from kargo_actions.promotion.steps.git_merge_pr import GitMergePRConfig
from kargo_actions.promotion.steps.git_open_pr import GitOpenPRConfig
from kargo_actions.promotion.steps.git_wait_for_pr import GitWaitForPRConfig
from tests.promotion.steps.github_support import (
    ADMIN_TOKEN,
    FREIGHT_ID,
    bare_git,
    clone,
    commit_all,
    ctx_for,
    freight,
    gh,
    git,
    run_step,
    seed,
    unpaced,
)
from tests.support.github_fixtures import REPOSITORY, client_for, github_contract
from tests.support.github_server import GitHubServer

__all__ = ["gh", "github_contract", "unpaced"]

URL = "https://github.com/acme/app.git"

OPEN_PR_CASES: list[tuple[dict[str, Any], str]] = [
    ({"repoURL": URL, "sourceBranch": "a", "targetBranch": "main"}, ""),
    (
        {
            "repoURL": URL,
            "sourceBranch": "a",
            "targetBranch": "main",
            "title": "t",
            "description": "d",
            "labels": ["kargo", "prod"],
            "createTargetBranch": True,
            "provider": "github",
            "insecureSkipTLSVerify": False,
        },
        "",
    ),
    ({"repoURL": URL, "sourceBranch": "a"}, "config.targetBranch: required field is missing"),
    ({"repoURL": URL, "sourceBranch": "", "targetBranch": "main"}, "config.sourceBranch: must not be empty"),
    (
        {"repoURL": URL, "sourceBranch": "a", "targetBranch": "b", "labels": [""]},
        "config.labels[0]: must not be empty",
    ),
    (
        {"repoURL": URL, "sourceBranch": "a", "targetBranch": "b", "title": ""},
        "config.title: must not be empty",
    ),
    (
        {"repoURL": URL, "sourceBranch": "a", "targetBranch": "b", "labels": "x"},
        "config.labels: expected a list",
    ),
    (
        {"repoURL": URL, "sourceBranch": "a", "targetBranch": "b", "prNumber": 1},
        "config.prNumber: unknown field",
    ),
]


@pytest.mark.parametrize(("config", "problem"), OPEN_PR_CASES)
def test_open_pr_config(config: dict[str, Any], problem: str) -> None:
    _config_case(GitOpenPRConfig, "git-open-pr", config, problem)


WAIT_CASES: list[tuple[dict[str, Any], str]] = [
    ({"repoURL": URL, "prNumber": 3}, ""),
    ({"repoURL": URL, "prNumber": 3, "pollInterval": "1m30s", "provider": "github"}, ""),
    ({"repoURL": URL, "prNumber": 0}, "config.prNumber: must be at least 1, not 0"),
    ({"repoURL": URL, "prNumber": "3"}, "config.prNumber: expected an integer"),
    ({"repoURL": URL, "prNumber": 3, "pollInterval": "soon"}, "config.pollInterval: String should match"),
    ({"prNumber": 3}, "config.repoURL: required field is missing"),
]


@pytest.mark.parametrize(("config", "problem"), WAIT_CASES)
def test_wait_for_pr_config(config: dict[str, Any], problem: str) -> None:
    _config_case(GitWaitForPRConfig, "git-wait-for-pr", config, problem)


MERGE_CASES: list[tuple[dict[str, Any], str]] = [
    ({"repoURL": URL, "prNumber": 3}, ""),
    ({"repoURL": URL, "prNumber": 3, "wait": True, "pollInterval": "5s", "mergeMethod": "squash"}, ""),
    ({"repoURL": URL, "prNumber": 3, "wait": "true"}, "config.wait: expected a boolean"),
    ({"repoURL": URL, "prNumber": 3, "mergeMethod": ""}, "config.mergeMethod: must not be empty"),
    ({"repoURL": URL}, "config.prNumber: required field is missing"),
]


@pytest.mark.parametrize(("config", "problem"), MERGE_CASES)
def test_merge_pr_config(config: dict[str, Any], problem: str) -> None:
    _config_case(GitMergePRConfig, "git-merge-pr", config, problem)


def _config_case(model: type[Any], name: str, config: dict[str, Any], problem: str) -> None:
    if not problem:
        validate_config(name, model, config)
        return
    with pytest.raises(StepConfigError) as raised:
        validate_config(name, model, config)
    assert any(str(p).startswith(problem) for p in raised.value.problems), raised.value.problems


def _promotion_branch(gh: GitHubServer, work: Path, branch: str = "kargo/promotion/prod.1") -> str:
    """A clone in work/src, app.yaml changed on `branch`, pushed; returns the head."""
    seed(gh)
    tree = clone(gh, work, "src")
    git(tree, "checkout", "-q", "-b", branch)
    head = commit_all(tree, {"env/prod/app.yaml": "image: ghcr.io/acme/app:v2\n"}, "prod: app v2")
    git(tree, "push", "-q", "origin", branch)
    return head


def _open(gh: GitHubServer, work: Path, **extra: Any) -> dict[str, Any]:
    target = freight(
        images=[{"repoURL": "ghcr.io/acme/app", "tag": "v2", "digest": "sha256:" + "b" * 64}],
        commits=[{"repoURL": "https://github.com/acme/src", "id": "c" * 40, "message": "fix login"}],
        charts=[{"repoURL": "oci://ghcr.io/acme/charts", "name": "app", "version": "1.4.0"}],
    )
    ctx = ctx_for(gh, work, target_freight=target)
    config = {
        "repoURL": gh.clone_url(REPOSITORY),
        "sourceBranch": "kargo/promotion/prod.1",
        "targetBranch": "main",
        "labels": ["kargo", "promotion"],
        **extra,
    }
    result = run_step("git-open-pr", ctx, config)
    assert result.status == StepStatus.SUCCEEDED
    return dict(result.outputs)


def test_open_pr_opens_a_real_pull_request_with_the_freight_and_the_changes(
    gh: GitHubServer, tmp_path: Path
) -> None:
    head = _promotion_branch(gh, tmp_path / "work")
    outputs = _open(gh, tmp_path / "work")
    number = outputs["prNumber"]
    assert (
        outputs["pr"] == {"id": number, "url": f"{gh.url}/acme/app/pull/{number}"}
        or outputs["pr"]["id"] == number
    )
    pull = gh.repo(REPOSITORY).pulls[number]
    assert (pull.head, pull.base, pull.head_sha, pull.title) == (
        "kargo/promotion/prod.1",
        "main",
        head,
        "Promote brave-fox to prod",
    )
    assert sorted(pull.labels) == ["kargo", "promotion"]
    body = pull.body or ""
    for expected in (
        FREIGHT_ID,  # the Freight
        "`brave-fox`",
        "| `ghcr.io/acme/app` | - | [`v2` (`bbbbbbbbbbbb`)](https://ghcr.io/acme/app) |",  # image: no previous Freight known -> new
        "[`ccccccc`](https://github.com/acme/src/commit/" + "c" * 40 + ") fix login",  # commit with its link
        "| `oci://ghcr.io/acme/charts/app` | - | `1.4.0` |",  # chart version
        "### Rendered changes",
        "env/prod/app.yaml | 2 +-",  # diff --stat from the clone in the work dir
        "-image: ghcr.io/acme/app:v1",
        "+image: ghcr.io/acme/app:v2",
    ):
        assert expected in body, expected

    # a re-run updates the same pull request instead of opening a second one
    again = _open(gh, tmp_path / "work", title="Promote again")
    assert again["prNumber"] == number
    assert len(gh.repo(REPOSITORY).pulls) == 1
    assert gh.repo(REPOSITORY).pulls[number].title == "Promote again"


def test_open_pr_body_stays_under_githubs_limit(gh: GitHubServer, tmp_path: Path) -> None:
    seed(gh)
    tree = clone(gh, tmp_path / "work", "src")
    git(tree, "checkout", "-q", "-b", "kargo/promotion/prod.1")
    big = "".join(f"line {i}: {'x' * 90}\n" for i in range(2000))  # ~200 kB of rendered manifests
    commit_all(tree, {"rendered/all.yaml": big}, "render")
    git(tree, "push", "-q", "origin", "kargo/promotion/prod.1")
    number = _open(gh, tmp_path / "work")["prNumber"]
    body = gh.repo(REPOSITORY).pulls[number].body or ""
    assert len(body) <= BODY_LIMIT
    assert FREIGHT_ID in body
    assert "cut to keep this description within GitHub's 65,536-character limit" in body
    assert "rendered/all.yaml" in body  # the stat survives, the patch is cut
    assert body.rstrip().endswith("-->")  # and so does the marker


def test_open_pr_without_a_token_names_what_to_set(gh: GitHubServer, tmp_path: Path) -> None:
    _promotion_branch(gh, tmp_path / "work")
    ctx = ctx_for(gh, tmp_path / "work", token=None)
    config = {
        "repoURL": gh.clone_url(REPOSITORY),
        "sourceBranch": "kargo/promotion/prod.1",
        "targetBranch": "main",
    }
    with pytest.raises(TerminalStepError, match="no GitHub credentials: set GITHUB_TOKEN"):
        run_step("git-open-pr", ctx, config)


def test_open_pr_with_an_under_scoped_token_names_the_permission(gh: GitHubServer, tmp_path: Path) -> None:
    _promotion_branch(gh, tmp_path / "work")
    gh.add_token("ghs_read_only", {"metadata": "read", "contents": "read", "pull_requests": "read"})
    ctx = ctx_for(gh, tmp_path / "work", token="ghs_read_only")
    config = {
        "repoURL": gh.clone_url(REPOSITORY),
        "sourceBranch": "kargo/promotion/prod.1",
        "targetBranch": "main",
    }
    with pytest.raises(TerminalStepError, match="it needs `pull_requests: write`"):
        run_step("git-open-pr", ctx, config)
    assert not gh.repo(REPOSITORY).pulls


def test_other_providers_are_refused(gh: GitHubServer, tmp_path: Path) -> None:
    config = {"repoURL": URL, "sourceBranch": "a", "targetBranch": "main", "provider": "gitlab"}
    with pytest.raises(TerminalStepError, match="'gitlab' is not supported"):
        run_step("git-open-pr", ctx_for(gh, tmp_path / "w"), config)


def test_wait_for_pr_runs_until_merged_and_outputs_the_merge_commit(gh: GitHubServer, tmp_path: Path) -> None:
    _promotion_branch(gh, tmp_path / "work")
    number = _open(gh, tmp_path / "work")["prNumber"]
    ctx = ctx_for(gh, tmp_path / "work")
    config = {"repoURL": gh.clone_url(REPOSITORY), "prNumber": number, "pollInterval": "50ms"}
    waiting = run_step("git-wait-for-pr", ctx, config)
    assert (waiting.status, waiting.retry_after) == (StepStatus.RUNNING, 0.05)
    merged = client_for(gh).merge_pull_request(number, timeout=5)
    done = run_step("git-wait-for-pr", ctx, config)
    assert done.status == StepStatus.SUCCEEDED
    assert done.outputs == {"commit": merged.sha}
    assert bare_git(gh, "rev-parse", "refs/heads/main") == merged.sha


def test_wait_for_pr_fails_when_closed_without_merging(gh: GitHubServer, tmp_path: Path) -> None:
    _promotion_branch(gh, tmp_path / "work")
    number = _open(gh, tmp_path / "work")["prNumber"]
    client_for(gh).close_pull_request(number)
    config = {"repoURL": gh.clone_url(REPOSITORY), "prNumber": number}
    with pytest.raises(StepFailed, match=f"pull request #{number} .* was closed without being merged"):
        run_step("git-wait-for-pr", ctx_for(gh, tmp_path / "work"), config)


def test_wait_for_pr_when_github_is_down_errs_for_a_retry(gh: GitHubServer, tmp_path: Path) -> None:
    _promotion_branch(gh, tmp_path / "work")
    number = _open(gh, tmp_path / "work")["prNumber"]
    gh.down = True
    config = {"repoURL": gh.clone_url(REPOSITORY), "prNumber": number}
    with pytest.raises(StepError, match="GitHub did not answer") as raised:
        run_step("git-wait-for-pr", ctx_for(gh, tmp_path / "work"), config)
    assert not isinstance(raised.value, TerminalStepError)  # retryable by the step's retry policy
    gh.down = False


def test_merge_pr_waits_for_the_required_check_of_a_ruleset(gh: GitHubServer, tmp_path: Path) -> None:
    _promotion_branch(gh, tmp_path / "work")
    number = _open(gh, tmp_path / "work")["prNumber"]
    admin = client_for(gh, ADMIN_TOKEN)
    admin.create_ruleset(
        RulesetSpec(name="gate", include=("refs/heads/main",), required_checks=("kargo/gate",))
    )
    before = bare_git(gh, "rev-parse", "refs/heads/main")
    ctx = ctx_for(gh, tmp_path / "work")
    config: dict[str, Any] = {
        "repoURL": gh.clone_url(REPOSITORY),
        "prNumber": number,
        "mergeMethod": "squash",
    }

    with pytest.raises(
        StepFailed,
        match=r"not ready to merge: waiting for required check `kargo/gate` \(expected\) on pull request #\d+; "
        "set wait: true",
    ):
        run_step("git-merge-pr", ctx, config)
    waiting = run_step("git-merge-pr", ctx, {**config, "wait": True, "pollInterval": "20ms"})
    assert (waiting.status, waiting.retry_after) == (StepStatus.RUNNING, 0.02)
    assert bare_git(gh, "rev-parse", "refs/heads/main") == before  # nothing merged yet

    head = gh.repo(REPOSITORY).pulls[number].head_sha
    gate_status(client_for(gh), head, "prod", FREIGHT_ID, available=True)
    done = run_step("git-merge-pr", ctx, {**config, "wait": True})
    assert done.status == StepStatus.SUCCEEDED
    main = bare_git(gh, "rev-parse", "refs/heads/main")
    assert done.outputs == {"commit": main}
    assert bare_git(gh, "rev-list", "--count", "--parents", "-n1", main) == "1"  # squash: one commit
    assert bare_git(gh, "rev-parse", f"{main}^") == before
    assert bare_git(gh, "show", f"{main}:env/prod/app.yaml") == "image: ghcr.io/acme/app:v2"


def test_merge_pr_waits_for_branch_protections_required_checks_naming_them(
    gh: GitHubServer, tmp_path: Path
) -> None:
    """Classic branch protection (no ruleset): its required checks, read from "Get a branch" with the
    promotion's own token, hold the merge back; the step stays Running naming the check and its state, a
    failed one fails it, a passed one lets it merge."""
    _promotion_branch(gh, tmp_path / "work")
    number = _open(gh, tmp_path / "work")["prNumber"]
    gh.protect_branch(REPOSITORY, "main", ["ci/test", "lint"])
    head = gh.repo(REPOSITORY).pulls[number].head_sha
    before = bare_git(gh, "rev-parse", "refs/heads/main")
    ctx = ctx_for(gh, tmp_path / "work")
    config: dict[str, Any] = {"repoURL": gh.clone_url(REPOSITORY), "prNumber": number, "wait": True}

    gh.add_check_run(REPOSITORY, head, "ci/test", conclusion=None)  # running
    waiting = run_step("git-merge-pr", ctx, config)
    assert waiting.status == StepStatus.RUNNING
    assert waiting.message == (
        f"waiting for required checks `ci/test` (in_progress), `lint` (expected) on pull request #{number}"
    )
    assert waiting.waiting is not None
    assert (waiting.waiting.kind, waiting.waiting.number) == ("step", number)
    assert waiting.waiting.description == (
        f"required checks `ci/test` (in_progress), `lint` (expected) on pull request #{number} of {REPOSITORY}"
    )
    client_for(gh).create_status(head, state="success", context="lint")
    gh.add_check_run(REPOSITORY, head, "ci/test", conclusion="failure")  # the newest run counts
    with pytest.raises(StepFailed, match=r"required check `ci/test` \(failure\) failed on "):
        run_step("git-merge-pr", ctx, config)
    assert bare_git(gh, "rev-parse", "refs/heads/main") == before

    gh.add_check_run(REPOSITORY, head, "ci/test", conclusion="success")  # re-run passed
    done = run_step("git-merge-pr", ctx, config)
    assert done.status == StepStatus.SUCCEEDED
    assert bare_git(gh, "rev-parse", "refs/heads/main") == done.outputs["commit"] != before


def test_the_server_refuses_a_merge_that_branch_protection_blocks(gh: GitHubServer, tmp_path: Path) -> None:
    """The test server enforces branch protection as GitHub does, so the step's own look is what keeps it
    from asking too early (no merge request is sent while a check is missing)."""
    _promotion_branch(gh, tmp_path / "work")
    number = _open(gh, tmp_path / "work")["prNumber"]
    gh.protect_branch(REPOSITORY, "main", ["ci/test"])
    client = client_for(gh)
    assert client.required_checks("main") == ("ci/test",)
    assert client.required_checks("kargo/promotion/prod.1") == ()  # not protected
    config: dict[str, Any] = {"repoURL": gh.clone_url(REPOSITORY), "prNumber": number}
    with pytest.raises(StepFailed, match=r"waiting for required check `ci/test` \(expected\)"):
        run_step("git-merge-pr", ctx_for(gh, tmp_path / "work"), config)
    assert not [e for e in gh.exchanges if e.method == "PUT" and e.path.endswith("/merge")]


def test_merge_pr_fails_on_a_failed_check_and_a_bad_method(gh: GitHubServer, tmp_path: Path) -> None:
    _promotion_branch(gh, tmp_path / "work")
    number = _open(gh, tmp_path / "work")["prNumber"]
    client_for(gh, ADMIN_TOKEN).create_ruleset(
        RulesetSpec(name="gate", include=("refs/heads/main",), required_checks=("kargo/gate",))
    )
    head = gh.repo(REPOSITORY).pulls[number].head_sha
    gate_status(client_for(gh), head, "prod", FREIGHT_ID, available=False, reason="not verified in staging")
    ctx = ctx_for(gh, tmp_path / "work")
    config: dict[str, Any] = {"repoURL": gh.clone_url(REPOSITORY), "prNumber": number, "wait": True}
    with pytest.raises(StepFailed, match=r"required check `kargo/gate` \(failure\) failed on [0-9a-f]{12}$"):
        run_step("git-merge-pr", ctx, config)
    with pytest.raises(TerminalStepError, match="'fast-forward' is not a GitHub merge method"):
        run_step("git-merge-pr", ctx, {**config, "mergeMethod": "fast-forward"})
    assert not gh.repo(REPOSITORY).pulls[number].merged


def test_a_promotion_through_a_pull_request_gated_by_kargo_gate(gh: GitHubServer, tmp_path: Path) -> None:
    """kargo-simple's prod flow: clone, edit, commit, github-push to a generated branch, open a PR, merge it
    once kargo/gate passes. The gate is posted the way promote does: from EngineOptions.on_step, after
    git-open-pr, with gate_pull_request."""
    from kargo_actions.github.statuses import gate_pull_request
    from kargo_actions.promotion.engine import EngineOptions
    from kargo_actions.promotion.result import StepRun
    from tests.promotion.helpers import promote, write_project
    from tests.promotion.steps.github_support import step_env
    from tests.support.github_fixtures import FAST

    seed(gh)
    client_for(gh, ADMIN_TOKEN).create_ruleset(
        RulesetSpec(name="gate", include=("refs/heads/main",), required_checks=("kargo/gate",))
    )
    url = gh.clone_url(REPOSITORY)
    project = write_project(
        tmp_path / "repo",
        [
            {
                "uses": "git-clone",
                "config": {"repoURL": url, "checkout": [{"branch": "main", "path": "./src"}]},
            },
            {
                "uses": "yaml-update",
                "as": "update",
                "config": {
                    "path": "./src/env/prod/app.yaml",
                    "updates": [
                        {"key": "image", "value": "ghcr.io/acme/app:${{ imageFrom(vars.image).Tag }}"}
                    ],
                },
            },
            {
                "uses": "git-commit",
                "config": {"path": "./src", "message": "${{ outputs.update.commitMessage }}"},
            },
            {"uses": "github-push", "as": "push", "config": {"path": "./src", "generateTargetBranch": True}},
            {
                "uses": "git-open-pr",
                "as": "open-pr",
                "config": {
                    "repoURL": url,
                    "sourceBranch": "${{ outputs.push.branch }}",
                    "targetBranch": "main",
                },
            },
            {
                "uses": "git-merge-pr",
                "as": "merge",
                "config": {
                    "repoURL": url,
                    "prNumber": "${{ outputs['open-pr'].pr.id }}",
                    "wait": True,
                    "pollInterval": "20ms",
                },
            },
        ],
        template_vars=[{"name": "image", "value": "ghcr.io/example/app"}],
    )
    env = step_env(gh)
    gated: list[str] = []

    def on_step(run: StepRun) -> None:
        if run.uses == "git-open-pr" and run.status == StepStatus.SUCCEEDED:
            pr_url = run.outputs["pr"]["url"]
            gate_pull_request(pr_url, "dev", "brave-fox", available=True, env=env, options=FAST)
            gated.append(pr_url)

    options = EngineOptions(
        poll_interval=0.02, retry_backoff=0.01, retry_backoff_max=0.02, env=env, on_step=on_step
    )
    result = promote(project, tmp_path / "work", options=options)
    assert result.phase == "Succeeded", result.message
    main = bare_git(gh, "rev-parse", "refs/heads/main")
    assert result.outputs["merge"] == {"commit": main}
    assert bare_git(gh, "show", f"{main}:env/prod/app.yaml") == "image: ghcr.io/acme/app:v1.2.3"
    [pull] = gh.repo(REPOSITORY).pulls.values()
    assert pull.merged
    assert gated == [result.outputs["open-pr"]["pr"]["url"]]
    assert "-image: ghcr.io/acme/app:v1" in (pull.body or "")
