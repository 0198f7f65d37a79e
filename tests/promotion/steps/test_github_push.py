"""github-push against the GitHub test server: commits replayed through the git database API land in the
bare repository, verified, with the files' bytes and modes; races, new branches, force and failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import StepConfigError, StepError, TerminalStepError, validate_config
from kargo_actions.promotion.steps.github_push import GitHubPushConfig
from tests.github.helpers import raw_github
from tests.promotion.steps.github_support import (
    bare_git,
    clone,
    commit_all,
    ctx_for,
    gh,
    git,
    run_step,
    seed,
    unpaced,
)
from tests.support.github_fixtures import REPOSITORY, TOKEN, github_contract
from tests.support.github_server import GitHubServer

__all__ = ["gh", "github_contract", "unpaced"]

CASES: list[tuple[dict[str, Any], str]] = [
    ({"path": "out"}, ""),
    (
        {
            "path": "out",
            "targetBranch": "main",
            "force": True,
            "maxAttempts": 3,
            "insecureSkipTLSVerify": True,
        },
        "",
    ),
    ({"path": "out", "generateTargetBranch": True}, ""),
    ({"path": "out", "generateTargetBranch": True, "targetBranch": ""}, ""),
    (
        {"path": "out", "generateTargetBranch": True, "targetBranch": "x"},
        "config: generateTargetBranch: true is mutually exclusive with targetBranch",
    ),
    ({"path": "out", "maxAttempts": 0}, "config.maxAttempts: must be at least 1, not 0"),
    ({"path": "out", "tag": "v1"}, "config.tag: unknown field"),  # git-push has tags, github-push does not
    ({"path": ""}, "config.path: must not be empty"),
]


@pytest.mark.parametrize(("config", "problem"), CASES)
def test_config(config: dict[str, Any], problem: str) -> None:
    if not problem:
        validate_config("github-push", GitHubPushConfig, config)
        return
    with pytest.raises(StepConfigError) as raised:
        validate_config("github-push", GitHubPushConfig, config)
    assert any(str(p).startswith(problem) for p in raised.value.problems), raised.value.problems


def _verified(gh: GitHubServer, sha: str) -> bool:
    data = raw_github(gh, TOKEN).get_repo(REPOSITORY).get_git_commit(sha).raw_data
    return bool(data["verification"]["verified"])


def test_commits_land_in_the_bare_repo_verified(gh: GitHubServer, tmp_path: Path) -> None:
    base = seed(gh)
    work = tmp_path / "work"
    tree = clone(gh, work)
    commit_all(
        tree, {"env/prod/app.yaml": "image: ghcr.io/acme/app:v2\n", "bin/run": "#!/bin/sh\n"}, "prod: v2"
    )
    (tree / "bin" / "run").chmod(0o755)
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "make run executable")
    commit_all(tree, {"logo.png": bytes(range(256)) * 4}, "a binary file")
    git(tree, "rm", "-q", "README.md")
    git(tree, "commit", "-q", "-m", "drop the README")
    local_tree = git(tree, "rev-parse", "HEAD^{tree}")

    result = run_step("github-push", ctx_for(gh, work), {"path": "out"})

    main = bare_git(gh, "rev-parse", "refs/heads/main")
    assert result.outputs["commit"] == main
    assert result.outputs["branch"] == "main"
    assert result.outputs["verified"] is True
    assert str(result.outputs["commitURL"]).endswith(f"/acme/app/commit/{main}")
    assert bare_git(gh, "rev-parse", f"{main}^{{tree}}") == local_tree  # the same files, bytes and modes
    history = bare_git(gh, "log", "--format=%s", f"{base}..{main}").splitlines()
    assert history == ["drop the README", "a binary file", "make run executable", "prod: v2"]
    assert all(_verified(gh, sha) for sha in bare_git(gh, "rev-list", f"{base}..{main}").split())
    assert "Co-authored-by: " in bare_git(gh, "log", "-1", "--format=%B", main)  # the author stays credited
    assert git(tree, "rev-parse", "HEAD") == main  # the work tree follows the commits GitHub made
    assert git(tree, "status", "--porcelain") == ""


def test_a_remote_that_moved_is_rebased_onto(gh: GitHubServer, tmp_path: Path) -> None:
    seed(gh)
    work = tmp_path / "work"
    tree = clone(gh, work)
    commit_all(tree, {"env/prod/app.yaml": "image: ghcr.io/acme/app:v2\n"}, "prod: v2")
    other = gh.commit_files(REPOSITORY, "main", {"env/dev/app.yaml": "image: v9\n"}, "dev: v9")
    result = run_step("github-push", ctx_for(gh, work), {"path": "out"})
    main = bare_git(gh, "rev-parse", "refs/heads/main")
    assert result.outputs["commit"] == main
    assert bare_git(gh, "rev-parse", f"{main}^") == other
    assert bare_git(gh, "show", f"{main}:env/dev/app.yaml") == "image: v9"
    assert bare_git(gh, "show", f"{main}:env/prod/app.yaml") == "image: ghcr.io/acme/app:v2"


def test_generated_branch_starts_at_the_clones_branch_and_a_rerun_forces(
    gh: GitHubServer, tmp_path: Path
) -> None:
    base = seed(gh)
    work = tmp_path / "work"
    tree = clone(gh, work)
    commit_all(tree, {"env/prod/app.yaml": "image: ghcr.io/acme/app:v2\n"}, "prod: v2")
    ctx = ctx_for(gh, work, promotion="prod.01jx.3f4e5d6")
    first = run_step("github-push", ctx, {"path": "out", "generateTargetBranch": True})
    branch = "kargo/promotion/prod.01jx.3f4e5d6"
    assert first.outputs["branch"] == branch
    head = bare_git(gh, "rev-parse", f"refs/heads/{branch}")
    assert (first.outputs["commit"], bare_git(gh, "rev-parse", f"{head}^")) == (head, base)
    assert bare_git(gh, "rev-parse", "refs/heads/main") == base  # main untouched

    # a second promotion attempt with other content replaces the branch (the branch is the promotion's own)
    git(tree, "reset", "-q", "--hard", base)
    commit_all(tree, {"env/prod/app.yaml": "image: ghcr.io/acme/app:v3\n"}, "prod: v3")
    second = run_step("github-push", ctx, {"path": "out", "generateTargetBranch": True})
    new_head = bare_git(gh, "rev-parse", f"refs/heads/{branch}")
    assert second.outputs["commit"] == new_head != head
    assert bare_git(gh, "rev-parse", f"{new_head}^") == base
    assert bare_git(gh, "show", f"{new_head}:env/prod/app.yaml") == "image: ghcr.io/acme/app:v3"
    assert _verified(gh, new_head)
    refs = bare_git(gh, "for-each-ref", "--format=%(refname)", "refs/heads").splitlines()
    assert refs == [f"refs/heads/{branch}", "refs/heads/main"]  # no helper branch left behind


def test_nothing_new_pushes_nothing(gh: GitHubServer, tmp_path: Path) -> None:
    base = seed(gh)
    work = tmp_path / "work"
    clone(gh, work)
    result = run_step("github-push", ctx_for(gh, work), {"path": "out"})
    assert result.outputs["commit"] == base
    assert not gh.requests("POST", "/git/commits$")


def test_a_failure_mid_push_moves_no_branch(gh: GitHubServer, tmp_path: Path) -> None:
    base = seed(gh)
    work = tmp_path / "work"
    tree = clone(gh, work)
    commit_all(tree, {"env/prod/app.yaml": "image: ghcr.io/acme/app:v2\n"}, "prod: v2")
    gh.fail_next("POST", "/git/commits$", 502, "Server Error")
    with pytest.raises(StepError, match=r"could not .* GitHub answered 502") as raised:
        run_step("github-push", ctx_for(gh, work), {"path": "out"})
    assert not isinstance(raised.value, TerminalStepError)  # retryable
    assert bare_git(gh, "rev-parse", "refs/heads/main") == base  # nothing half-pushed
    # the retry the engine makes succeeds
    result = run_step("github-push", ctx_for(gh, work), {"path": "out"})
    assert bare_git(gh, "rev-parse", "refs/heads/main") == result.outputs["commit"] != base


def test_a_token_without_contents_write_names_it(gh: GitHubServer, tmp_path: Path) -> None:
    seed(gh)
    work = tmp_path / "work"
    tree = clone(gh, work)
    commit_all(tree, {"a.txt": "a\n"}, "a")
    gh.add_token("ghs_read", {"metadata": "read", "contents": "read"})
    with pytest.raises(TerminalStepError, match="it needs `contents: write`"):
        run_step("github-push", ctx_for(gh, work, token="ghs_read"), {"path": "out"})
