"""git-tag: config table, then annotated tags on real clones, pushed to a real bare remote by git-push."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, StepContext, TerminalStepError
from kargo_actions.promotion.steps.git_clone import GitClone, GitCloneConfig
from kargo_actions.promotion.steps.git_commit import GitCommit, GitCommitConfig
from kargo_actions.promotion.steps.git_push import GitPush, GitPushConfig, PushRejected
from kargo_actions.promotion.steps.git_tag import GitTag, GitTagConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context, remote_head
from tests.support.git_http_server import git

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "out", "tag": "v1.0.0", "message": "release"}, []),
    ({"path": "out", "tag": "v1.0.0", "message": "release", "force": True}, []),
    # Kargo's schema for git-tag does not forbid other keys, so neither does the model.
    ({"path": "out", "tag": "v1.0.0", "message": "release", "annotate": True}, []),
    ({"path": "out", "tag": "v1.0.0"}, ["config.message: required field is missing"]),
    ({"path": "out", "tag": "", "message": "m"}, ["config.tag: must not be empty"]),
    ({"path": "out", "tag": "v1", "message": ""}, ["config.message: must not be empty"]),
    (
        {"path": "out", "tag": "v1", "message": "m", "force": "yes"},
        ["config.force: expected a boolean (true or false), found a string"],
    ),
    ({"tag": "v1", "message": "m"}, ["config.path: required field is missing"]),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(GitTagConfig, data) == expected


def clone(work: Path, origin: Path) -> StepContext:
    ctx = context(work, promotion="dev.01jabc.1234567")
    GitClone().run(
        ctx,
        GitCloneConfig.model_validate(
            {"repoURL": str(origin), "checkout": [{"branch": "main", "path": "out"}]}
        ),
    )
    return ctx


def tag_config(tag: str, message: str = "release notes", force: bool = False) -> GitTagConfig:
    return GitTagConfig.model_validate({"path": "out", "tag": tag, "message": message, "force": force})


def test_tag_after_commit_then_push(tmp_path: Path, origin: Path) -> None:
    ctx = clone(tmp_path / "work", origin)
    (tmp_path / "work/out/VERSION").write_text("1.1.0\n")
    committed = GitCommit().run(ctx, GitCommitConfig.model_validate({"path": "out", "message": "bump"}))
    commit = committed.outputs["commit"]
    result = GitTag().run(ctx, tag_config("v1.1.0", "Release 1.1.0\n\nwith notes"))
    assert result.outputs == {"commit": commit}
    GitPush().run(ctx, GitPushConfig.model_validate({"path": "out", "targetBranch": "main"}))
    pushed = GitPush().run(ctx, GitPushConfig.model_validate({"path": "out", "tag": "v1.1.0"}))
    assert pushed.outputs["commit"] == commit
    # The remote holds an annotated tag object (not a lightweight ref) pointing at the commit.
    assert git(origin, "cat-file", "-t", "refs/tags/v1.1.0").strip() == "tag"
    assert remote_head(origin, "refs/tags/v1.1.0^{commit}") == commit
    body = git(origin, "cat-file", "tag", "refs/tags/v1.1.0")
    assert "tag v1.1.0\n" in body
    assert body.endswith("Release 1.1.0\n\nwith notes\n")


def test_existing_tag_needs_force(tmp_path: Path, origin: Path) -> None:
    ctx = clone(tmp_path / "work", origin)
    old = remote_head(origin, "refs/tags/v1.0.0^{commit}")
    with pytest.raises(TerminalStepError) as err:
        GitTag().run(ctx, tag_config("v1.0.0"))
    assert str(err.value) == (
        f"tag: 'v1.0.0' already exists in out (at {old[:12]}); set force: true to move it"
    )
    head = remote_head(origin, "refs/heads/main")
    assert GitTag().run(ctx, tag_config("v1.0.0", force=True)).outputs == {"commit": head}
    assert git(tmp_path / "work/out", "rev-parse", "v1.0.0^{commit}").strip() == head
    # Moving a tag the remote already has is refused by git-push: a tag push never forces.
    with pytest.raises(PushRejected):
        GitPush().run(ctx, GitPushConfig.model_validate({"path": "out", "tag": "v1.0.0"}))
    assert remote_head(origin, "refs/tags/v1.0.0^{commit}") == old


def test_tagger_falls_back_to_the_actor(tmp_path: Path, origin: Path) -> None:
    work = tmp_path / "work"
    env = {k: v for k, v in context(work).env.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER"))}
    ctx = context(work, env={**env, "GITHUB_ACTOR": "octocat", "GITHUB_ACTOR_ID": "42"})
    GitClone().run(
        ctx,
        GitCloneConfig.model_validate(
            {"repoURL": str(origin), "checkout": [{"branch": "main", "path": "out"}]}
        ),
    )
    GitTag().run(ctx, tag_config("v9"))
    tagger = git(
        work / "out", "for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/v9"
    ).strip()
    assert tagger == "octocat <42+octocat@users.noreply.github.com>"


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("v1..0", "tag: 'v1..0' is not a valid tag name (see git check-ref-format)"),
        ("bad tag", "tag: 'bad tag' is not a valid tag name (see git check-ref-format)"),
        ("v1.lock", "tag: 'v1.lock' is not a valid tag name (see git check-ref-format)"),
    ],
)
def test_invalid_tag_names(tmp_path: Path, origin: Path, tag: str, message: str) -> None:
    ctx = clone(tmp_path / "work", origin)
    with pytest.raises(TerminalStepError) as err:
        GitTag().run(ctx, tag_config(tag))
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        (
            "plain",
            TerminalStepError,
            "path: 'plain' is not a git working tree (clone it first with a git-clone step)",
        ),
        ("../x", PathEscapeError, "path: '../x' leads outside the work dir"),
    ],
)
def test_bad_paths(tmp_path: Path, path: str, error: type[Exception], message: str) -> None:
    (tmp_path / "work/plain").mkdir(parents=True)
    config = GitTagConfig.model_validate({"path": path, "tag": "v1", "message": "m"})
    with pytest.raises(error) as err:
        GitTag().run(context(tmp_path / "work"), config)
    assert str(err.value) == message
