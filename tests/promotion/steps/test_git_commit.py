"""git-commit: config table, then commits in real work trees (identity precedence, no-op, signing)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import StepContext
from kargo_actions.promotion.steps.git_clone import GitClone, GitCloneConfig
from kargo_actions.promotion.steps.git_commit import GitCommit, GitCommitConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context
from tests.support.git_http_server import git

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "out", "message": "m"}, []),
    ({"path": "out", "message": "m", "author": {"name": "a", "email": "a@b", "signingKey": "k"}}, []),
    ({"path": "out"}, ["config.message: required field is missing"]),
    ({"path": "out", "message": ""}, ["config.message: must not be empty"]),
    (
        {"path": "out", "message": "m", "author": {"name": "a"}},
        ["config.author.email: required field is missing"],
    ),
    (
        {"path": "out", "message": "m", "author": {"name": "", "email": "a@b"}},
        ["config.author.name: must not be empty"],
    ),
    (
        {"path": "out", "message": "m", "messageFromSteps": ["a"]},
        ["config.messageFromSteps: unknown field (did you mean 'message'?)"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(GitCommitConfig, data) == expected


def clone(
    tmp_path: Path, origin: Path, env: dict[str, str], author: dict[str, str] | None = None
) -> StepContext:
    ctx = context(tmp_path / "work", env=env)
    data: dict[str, Any] = {"repoURL": str(origin), "checkout": [{"branch": "stage/dev", "path": "out"}]}
    if author:
        data["author"] = author
    GitClone().run(ctx, GitCloneConfig.model_validate(data))
    return ctx


def plain_env(**extra: str) -> dict[str, str]:
    """The test environment without the fixed GIT_AUTHOR_*/GIT_COMMITTER_* (they would beat every other source)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}
    return {**env, **extra}


def author_of(tree: Path) -> str:
    return git(tree, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B").strip()


@pytest.mark.parametrize(
    ("env", "clone_author", "step_author", "expected"),
    [
        ({}, None, None, "Kargo Actions <kargo-actions@users.noreply.github.com>"),
        (
            {"GITHUB_ACTOR": "octocat", "GITHUB_ACTOR_ID": "583231"},
            None,
            None,
            "octocat <583231+octocat@users.noreply.github.com>",
        ),
        (
            {"GITHUB_ACTOR": "octocat"},
            {"name": "Clone Author", "email": "clone@example.com"},
            None,
            "Clone Author <clone@example.com>",
        ),
        (
            {"GITHUB_ACTOR": "octocat"},
            {"name": "Clone Author", "email": "clone@example.com"},
            {"name": "Step Author", "email": "step@example.com"},
            "Step Author <step@example.com>",
        ),
    ],
    ids=["default", "github actor", "clone author", "step author"],
)
def test_identity_precedence(
    tmp_path: Path,
    origin: Path,
    env: dict[str, str],
    clone_author: dict[str, str] | None,
    step_author: dict[str, str] | None,
    expected: str,
) -> None:
    # The environment is built here, after the hermetic HOME is in place (not at collection time).
    ctx = clone(tmp_path, origin, plain_env(**env), clone_author)
    (ctx.work_dir / "out/new.yaml").write_text("x: 1\n")
    (ctx.work_dir / "out/rendered.yaml").unlink()
    data: dict[str, Any] = {"path": "out", "message": "Promote\n\nbody line"}
    if step_author:
        data["author"] = step_author
    result = GitCommit().run(ctx, GitCommitConfig.model_validate(data))
    tree = ctx.work_dir / "out"
    assert result.outputs == {"commit": git(tree, "rev-parse", "HEAD").strip()}
    assert author_of(tree) == f"{expected}|{expected}|Promote\n\nbody line"
    assert git(tree, "show", "--name-status", "--format=", "HEAD").split() == [
        "A",
        "new.yaml",
        "D",
        "rendered.yaml",
    ]


def test_nothing_to_commit_returns_head(tmp_path: Path, origin: Path) -> None:
    ctx = clone(tmp_path, origin, plain_env())
    before = git(ctx.work_dir / "out", "rev-parse", "HEAD").strip()
    result = GitCommit().run(ctx, GitCommitConfig(path="out", message="nothing"))
    assert result.outputs == {"commit": before}
    assert git(ctx.work_dir / "out", "rev-list", "--count", "HEAD").strip() == "1"


def test_first_commit_on_a_new_branch(tmp_path: Path, origin: Path) -> None:
    ctx = context(tmp_path / "work", env=plain_env())
    GitClone().run(
        ctx,
        GitCloneConfig.model_validate(
            {"repoURL": str(origin), "checkout": [{"branch": "stage/new", "create": True, "path": "out"}]}
        ),
    )
    (ctx.work_dir / "out/a.yaml").write_text("a\n")
    result = GitCommit().run(ctx, GitCommitConfig(path="out", message="first"))
    tree = ctx.work_dir / "out"
    assert result.outputs["commit"] == git(tree, "rev-parse", "HEAD").strip()
    assert git(tree, "rev-list", "--count", "HEAD").strip() == "1"  # an orphan: no parent
    assert git(tree, "ls-files").split() == ["a.yaml"]


def test_signed_with_an_ssh_key_from_the_clone_author(tmp_path: Path, origin: Path) -> None:
    key = tmp_path / "signing"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed"
    allowed.write_text(f"signer@example.com {(tmp_path / 'signing.pub').read_text()}")
    ctx = clone(
        tmp_path,
        origin,
        plain_env(),
        {"name": "Signer", "email": "signer@example.com", "signingKey": f"{key}.pub"},
    )
    (ctx.work_dir / "out/x").write_text("x")
    GitCommit().run(ctx, GitCommitConfig(path="out", message="signed"))
    tree = ctx.work_dir / "out"
    assert "gpgsig -----BEGIN SSH SIGNATURE-----" in git(tree, "cat-file", "commit", "HEAD")
    verified = subprocess.run(
        ["git", "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-commit", "HEAD"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert 'Good "git" signature for signer@example.com' in verified.stderr


def test_nothing_to_commit_on_a_new_branch(tmp_path: Path, origin: Path) -> None:
    ctx = context(tmp_path / "work", env=plain_env())
    GitClone().run(
        ctx,
        GitCloneConfig.model_validate(
            {"repoURL": str(origin), "checkout": [{"branch": "stage/empty", "create": True, "path": "out"}]}
        ),
    )
    result = GitCommit().run(ctx, GitCommitConfig(path="out", message="nothing"))
    assert result.outputs == {"commit": ""}
    assert result.message == "nothing to commit in out; HEAD stays (no commit)"


def test_commit_failure_is_reported(tmp_path: Path, origin: Path) -> None:
    from kargo_actions.promotion.step_api import StepError

    ctx = clone(tmp_path, origin, plain_env())
    (ctx.work_dir / "out/x").write_text("x")
    with pytest.raises(StepError) as err:
        # A signing key that does not exist: git cannot sign, so it cannot commit.
        GitCommit().run(
            ctx,
            GitCommitConfig.model_validate(
                {
                    "path": "out",
                    "message": "m",
                    "author": {"name": "a", "email": "a@e", "signingKey": str(tmp_path / "missing.pub")},
                }
            ),
        )
    assert str(err.value) == (
        f"committing in out: error: Couldn't load public key {tmp_path / 'missing.pub'}: "
        "No such file or directory?; fatal: failed to write commit object"
    )
    assert git(ctx.work_dir / "out", "rev-list", "--count", "HEAD").strip() == "1"
