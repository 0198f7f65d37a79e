"""git-push: config table, then pushes to real remotes: races, conflicts, hooks, tags, force, HTTP with a token."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import StepContext, StepError
from kargo_actions.promotion.steps.git_clone import GitClone, GitCloneConfig
from kargo_actions.promotion.steps.git_commit import GitCommit, GitCommitConfig
from kargo_actions.promotion.steps.git_push import GitPush, GitPushConfig, MergeConflict, PushRejected
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context, remote_head
from tests.support.git_http_server import git, serve_git

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "out"}, []),
    ({"path": "out", "targetBranch": "main", "force": True, "maxAttempts": 3, "provider": "github"}, []),
    ({"path": "out", "generateTargetBranch": True, "force": True}, []),
    ({"path": "out", "tag": "v1"}, []),
    ({"path": "out", "targetBranch": "", "tag": ""}, []),
    (
        {"path": "out", "generateTargetBranch": True, "targetBranch": "x"},
        ["config: generateTargetBranch: true is mutually exclusive with targetBranch and tag"],
    ),
    (
        {"path": "out", "targetBranch": "x", "tag": "v1"},
        ["config: targetBranch and tag are mutually exclusive"],
    ),
    (
        {"path": "out", "tag": "v1", "force": True},
        ["config: tag and force: true are mutually exclusive (a tag push never forces)"],
    ),
    ({"path": "out", "maxAttempts": 0}, ["config.maxAttempts: must be at least 1, not 0"]),
    ({"path": "out", "maxAttempts": "3"}, ["config.maxAttempts: expected an integer, found a string"]),
    (
        {"path": "out", "provider": "gitee"},
        [
            "config.provider: must be one of 'azure', 'bitbucket', 'gitea', 'github' or 'gitlab', not 'gitee'"
            " (did you mean 'gitea'?)"
        ],
    ),
    ({"targetBranch": "x"}, ["config.path: required field is missing"]),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(GitPushConfig, data) == expected


def prepare(
    work: Path, url: str, files: dict[str, str], branch: str = "main", **ctx_args: Any
) -> StepContext:
    """Clone `branch` into work/out, write `files` and commit them."""
    ctx = context(work, promotion="dev.01jabc.1234567", **ctx_args)
    GitClone().run(
        ctx,
        GitCloneConfig.model_validate(
            {"repoURL": url, "checkout": [{"branch": branch, "create": True, "path": "out"}]}
        ),
    )
    for name, content in files.items():
        (work / "out" / name).write_text(content)
    GitCommit().run(ctx, GitCommitConfig(path="out", message=f"change {', '.join(files)}"))
    return ctx


def push(ctx: StepContext, **config: Any) -> dict[str, Any]:
    return dict(GitPush().run(ctx, GitPushConfig.model_validate({"path": "out", **config})).outputs)


def test_push_checked_out_branch(tmp_path: Path, origin: Path) -> None:
    ctx = prepare(tmp_path / "w", str(origin), {"a.txt": "a"})
    outputs = push(ctx)
    head = git(ctx.work_dir / "out", "rev-parse", "HEAD").strip()
    assert outputs == {"branch": "main", "commit": head}
    assert remote_head(origin, "main") == head


def test_push_to_target_and_generated_branch(tmp_path: Path, origin: Path) -> None:
    ctx = prepare(tmp_path / "w", str(origin), {"a.txt": "a"})
    assert push(ctx, targetBranch="env/staging")["branch"] == "env/staging"
    outputs = push(ctx, generateTargetBranch=True)
    assert outputs["branch"] == "kargo/promotion/dev.01jabc.1234567"
    assert remote_head(origin, "kargo/promotion/dev.01jabc.1234567") == outputs["commit"]
    assert remote_head(origin, "env/staging") == outputs["commit"]


def test_new_branch_is_created(tmp_path: Path, origin: Path) -> None:
    ctx = prepare(tmp_path / "w", str(origin), {"manifest.yaml": "kind: X\n"}, branch="stage/prod")
    outputs = push(ctx)
    assert outputs["branch"] == "stage/prod"
    assert git(origin, "show", "stage/prod:manifest.yaml") == "kind: X\n"


def test_push_race_rebases_and_retries(tmp_path: Path, origin: Path) -> None:
    first = prepare(tmp_path / "one", str(origin), {"one.txt": "1"})
    second = prepare(tmp_path / "two", str(origin), {"two.txt": "2"})
    push(first)
    outputs = push(second, maxAttempts=3)
    # The second promotion's commit now sits on top of the first one's.
    assert remote_head(origin, "main") == outputs["commit"]
    assert git(origin, "log", "--format=%s", "-3", "main").splitlines() == [
        "change two.txt",
        "change one.txt",
        "second",
    ]
    assert git(origin, "ls-tree", "--name-only", "main").split() == [
        "README.md",
        "app",
        "env",
        "one.txt",
        "two.txt",
    ]


def test_push_race_with_one_attempt_gives_up(tmp_path: Path, origin: Path) -> None:
    first = prepare(tmp_path / "one", str(origin), {"one.txt": "1"})
    second = prepare(tmp_path / "two", str(origin), {"two.txt": "2"})
    pushed = push(first)["commit"]
    with pytest.raises(StepError) as err:
        push(second, maxAttempts=1)
    assert "the remote branch kept moving; gave up after 1 attempt(s) (maxAttempts)" in str(err.value)
    assert remote_head(origin, "main") == pushed


def test_conflict_is_terminal(tmp_path: Path, origin: Path) -> None:
    first = prepare(tmp_path / "one", str(origin), {"README.md": "one\n"})
    second = prepare(tmp_path / "two", str(origin), {"README.md": "two\n"})
    pushed = push(first)["commit"]
    with pytest.raises(MergeConflict) as err:
        push(second)
    assert str(err.value).startswith(
        f"rebasing onto branch main of {origin} hit a conflict that needs a person:"
    )
    assert remote_head(origin, "main") == pushed
    # The work tree is left as it was before the attempt, not mid-rebase.
    assert not (
        Path(git(second.work_dir / "out", "rev-parse", "--git-dir").strip()) / "rebase-merge"
    ).exists()


def test_hook_rejection_pushes_nothing(tmp_path: Path, origin: Path) -> None:
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is frozen for the release' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = remote_head(origin, "main")
    ctx = prepare(tmp_path / "w", str(origin), {"a.txt": "a"})
    with pytest.raises(PushRejected) as err:
        push(ctx, maxAttempts=5)
    message = str(err.value)
    assert message.startswith(f"the server refused the push of branch main to {origin}:")
    assert "main is frozen for the release" in message
    assert "pre-receive hook declined" in message
    assert remote_head(origin, "main") == before


def test_force_overwrites(tmp_path: Path, origin: Path) -> None:
    first = prepare(tmp_path / "one", str(origin), {"one.txt": "1"})
    second = prepare(tmp_path / "two", str(origin), {"two.txt": "2"})
    push(first)
    outputs = push(second, force=True)
    assert remote_head(origin, "main") == outputs["commit"]
    assert "one.txt" not in git(origin, "ls-tree", "--name-only", "main").split()


def test_tag_push(tmp_path: Path, origin: Path) -> None:
    ctx = prepare(tmp_path / "w", str(origin), {"a.txt": "a"})
    git(ctx.work_dir / "out", "tag", "v2.0.0")
    outputs = push(ctx, tag="v2.0.0")
    assert outputs == {"branch": "main", "commit": git(ctx.work_dir / "out", "rev-parse", "HEAD").strip()}
    assert remote_head(origin, "refs/tags/v2.0.0") == outputs["commit"]
    assert remote_head(origin, "main") != outputs["commit"]  # only the tag went out
    git(ctx.work_dir / "out", "tag", "-f", "v1.0.0")
    with pytest.raises(PushRejected, match=r"'v1\.0\.0' already exists"):
        push(ctx, tag="v1.0.0")


def test_http_with_token_and_commit_url(tmp_path: Path, origin: Path) -> None:
    token = "push-token"
    with serve_git(tmp_path / "remotes", token=token) as server:
        env = {**os.environ, "GITHUB_TOKEN": token, "GITHUB_SERVER_URL": server.url}
        ctx = prepare(tmp_path / "w", server.repo_url("origin.git"), {"a.txt": "a"}, env=env)
        server.reset_counts()
        outputs = push(ctx)
        assert outputs["commitURL"] == f"{server.url}/origin/commit/{outputs['commit']}"
        assert remote_head(origin, "main") == outputs["commit"]
        assert "POST /origin.git/git-receive-pack" in server.requests
        # Without the token the server refuses, and the message says so without leaking anything.
        ctx_no_token = context(ctx.work_dir, env={**os.environ}, promotion="p")
        (ctx.work_dir / "out/b.txt").write_text("b")
        GitCommit().run(ctx_no_token, GitCommitConfig(path="out", message="b"))
        with pytest.raises(StepError) as err:
            push(ctx_no_token)
        assert token not in str(err.value)
        assert f"pushing branch main to {server.repo_url('origin.git')} failed" in str(err.value)


@pytest.mark.parametrize(
    ("url", "provider", "expected"),
    [
        ("https://github.com/acme/app.git", "", "https://github.com/acme/app/commit/abc"),
        ("https://gitlab.com/acme/app", "", "https://gitlab.com/acme/app/-/commit/abc"),
        ("https://bitbucket.org/acme/app.git", "", "https://bitbucket.org/acme/app/commits/abc"),
        ("https://git.example.com/acme/app.git", "gitea", "https://git.example.com/acme/app/commit/abc"),
        ("git@github.com:acme/app.git", "", "https://github.com/acme/app/commit/abc"),
        ("https://git.example.com/acme/app.git", "", ""),
    ],
)
def test_commit_url(tmp_path: Path, url: str, provider: str, expected: str) -> None:
    from kargo_actions.promotion.steps.support.gitutil import commit_url

    assert commit_url(context(tmp_path, env={}), url, "abc", provider) == expected


def test_abort_stops_a_hanging_push(tmp_path: Path, origin: Path) -> None:
    import threading
    import time

    from kargo_actions.promotion.step_api import StepAborted

    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nsleep 30\n")
    hook.chmod(0o755)
    before = remote_head(origin, "main")
    ctx = prepare(tmp_path / "w", str(origin), {"a.txt": "a"})
    timer = threading.Timer(0.3, ctx.abort.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(StepAborted):
            push(ctx)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10
    assert remote_head(origin, "main") == before
