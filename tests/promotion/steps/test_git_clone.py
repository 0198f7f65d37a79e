"""git-clone: config table, then clones of real repositories (local bare remotes and smart HTTP with a token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.registry import get_step
from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.git_clone import GitClone, GitCloneConfig
from kargo_actions.promotion.steps.support.gitutil import REPOS_DIR
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import commit_files, context, remote_head
from tests.support.git_http_server import git, make_bare_repo, serve_git

URL = "https://github.com/example/repo.git"

CONFIG_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("default branch", {"repoURL": URL, "checkout": [{"path": "src"}]}, []),
    (
        "branch with create",
        {"repoURL": URL, "checkout": [{"branch": "stage/dev", "create": True, "path": "out"}]},
        [],
    ),
    (
        "commit and empty branch",
        {"repoURL": URL, "checkout": [{"commit": "abc", "branch": "", "path": "s"}]},
        [],
    ),
    (
        "tag, sparse, alias",
        {"repoURL": URL, "checkout": [{"tag": "v1", "sparse": ["a"], "as": "t", "path": "t"}]},
        [],
    ),
    (
        "author and flags",
        {
            "repoURL": URL,
            "blobless": True,
            "recurseSubmodules": False,
            "insecureSkipTLSVerify": False,
            "author": {"name": "Kargo", "email": "k@example.com", "signingKey": "ABC"},
            "checkout": [{"path": "s"}],
        },
        [],
    ),
    (
        "duplicate aliases",
        {"repoURL": URL, "checkout": [{"as": "alias1", "path": "p0"}, {"as": "alias1", "path": "p1"}]},
        ['config.checkout: duplicate checkout alias "alias1" at checkout[1]'],
    ),
    (
        "several checkouts without alias, distinct aliases",
        {
            "repoURL": URL,
            "checkout": [
                {"path": "p0"},
                {"path": "p1"},
                {"as": "alias1", "path": "p2"},
                {"as": "alias2", "path": "p3"},
            ],
        },
        [],
    ),
    ("repoURL missing", {"checkout": [{"path": "s"}]}, ["config.repoURL: required field is missing"]),
    (
        "repoURL empty",
        {"repoURL": "", "checkout": [{"path": "s"}]},
        ["config.repoURL: must not be empty"],
    ),
    (
        "no checkout",
        {"repoURL": URL, "checkout": []},
        ["config.checkout: must have at least 1 item"],
    ),
    (
        "branch and commit",
        {"repoURL": URL, "checkout": [{"branch": "b", "commit": "c", "path": "s"}]},
        ["config.checkout[0]: branch and commit are mutually exclusive: give at most one"],
    ),
    (
        "branch, commit and tag",
        {"repoURL": URL, "checkout": [{"branch": "b", "commit": "c", "tag": "t", "path": "s"}]},
        ["config.checkout[0]: branch and commit and tag are mutually exclusive: give at most one"],
    ),
    (
        "path missing",
        {"repoURL": URL, "checkout": [{"branch": "b"}]},
        ["config.checkout[0].path: required field is missing"],
    ),
    (
        "empty sparse",
        {"repoURL": URL, "checkout": [{"path": "s", "sparse": []}]},
        ["config.checkout[0].sparse: must have at least 1 item"],
    ),
    (
        "bad email",
        {"repoURL": URL, "author": {"name": "a", "email": "nobody"}, "checkout": [{"path": "s"}]},
        ["config.author.email: 'nobody' is not an email address"],
    ),
    (
        "author without name",
        {"repoURL": URL, "author": {"email": "a@b"}, "checkout": [{"path": "s"}]},
        ["config.author.name: required field is missing"],
    ),
    (
        "string for a boolean",
        {"repoURL": URL, "blobless": "true", "checkout": [{"path": "s"}]},
        ["config.blobless: expected a boolean (true or false), found a string"],
    ),
    (
        "unknown field",
        {"repoURL": URL, "depth": 1, "checkout": [{"path": "s"}]},
        [
            "config.depth: unknown field (known fields: author, blobless, checkout, insecureSkipTLSVerify,"
            " recurseSubmodules, repoURL)"
        ],
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(GitCloneConfig, data) == expected


def run(work: Path, data: dict[str, Any], **ctx_args: Any) -> dict[str, Any]:
    step = get_step("git-clone")
    config = GitCloneConfig.model_validate(data)
    return dict(step.run(context(work, **ctx_args), config).outputs)


def files_in(tree: Path) -> list[str]:
    return sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file() and ".git" not in p.parts)


def test_one_clone_many_checkouts(tmp_path: Path, origin: Path) -> None:
    work = tmp_path / "work"
    first = git(origin, "rev-list", "--max-parents=0", "main").strip()
    outputs = run(
        work,
        {
            "repoURL": str(origin),
            "checkout": [
                {"commit": first, "path": "./src"},
                {"branch": "stage/dev", "path": "./out", "as": "out"},
                {"tag": "v1.0.0", "path": "tagged"},
                {"branch": "stage/prod", "create": True, "path": "prod"},
            ],
        },
    )
    assert outputs["commits"] == {
        "./src": first,
        "out": remote_head(origin, "stage/dev"),
        "tagged": first,
        "prod": "",
    }
    assert files_in(work / "src") == ["README.md", "app/deploy.yaml", "env/dev/values.yaml"]
    assert (work / "src/app/deploy.yaml").read_text() == "kind: Deployment\n"
    assert files_in(work / "out") == ["rendered.yaml"]
    assert files_in(work / "prod") == []
    assert git(work / "prod", "symbolic-ref", "HEAD").strip() == "refs/heads/stage/prod"
    assert git(work / "out", "symbolic-ref", "HEAD").strip() == "refs/heads/stage/dev"
    # One clone; every other checkout is a work tree of it.
    clones = list((work / REPOS_DIR).iterdir())
    assert len(clones) == 1
    listed = git(clones[0], "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 5  # the bare clone itself + 4 work trees


def test_default_branch_and_author(tmp_path: Path, origin: Path) -> None:
    work = tmp_path / "work"
    outputs = run(
        work,
        {
            "repoURL": str(origin),
            "author": {"name": "Promoter", "email": "promoter@example.com"},
            "checkout": [{"path": "src"}],
        },
    )
    assert outputs["commits"] == {"src": remote_head(origin, "main")}
    assert git(work / "src", "config", "user.name").strip() == "Promoter"
    assert git(work / "src", "config", "user.email").strip() == "promoter@example.com"


def test_second_clone_step_reuses_the_clone(tmp_path: Path, origin: Path) -> None:
    work = tmp_path / "work"
    run(work, {"repoURL": str(origin), "checkout": [{"path": "a"}]})
    run(work, {"repoURL": str(origin), "checkout": [{"branch": "stage/dev", "path": "b"}]})
    assert len(list((work / REPOS_DIR).iterdir())) == 1
    assert files_in(work / "b") == ["rendered.yaml"]


@pytest.mark.parametrize(
    ("checkout", "message"),
    [
        (
            {"branch": "nope", "path": "x"},
            "x: branch 'nope' does not exist in {url} (set create: true to start it as a new orphan branch)",
        ),
        ({"tag": "v9", "path": "x"}, "x: tag 'v9' does not exist in {url}"),
    ],
)
def test_missing_revision(tmp_path: Path, origin: Path, checkout: dict[str, Any], message: str) -> None:
    with pytest.raises(TerminalStepError) as err:
        run(tmp_path / "work", {"repoURL": str(origin), "checkout": [checkout]})
    assert str(err.value) == message.format(url=origin)


def test_same_branch_twice_is_refused(tmp_path: Path, origin: Path) -> None:
    with pytest.raises(TerminalStepError, match="git cannot check one branch out in two work trees"):
        run(
            tmp_path / "work",
            {
                "repoURL": str(origin),
                "checkout": [{"branch": "main", "path": "a"}, {"branch": "main", "path": "b"}],
            },
        )


def test_path_outside_work_dir_is_refused(tmp_path: Path, origin: Path) -> None:
    with pytest.raises(TerminalStepError, match="leads outside the work dir"):
        run(tmp_path / "work", {"repoURL": str(origin), "checkout": [{"path": "../escape"}]})
    assert not (tmp_path / "escape").exists()


def test_create_in_empty_repository(tmp_path: Path) -> None:
    empty = make_bare_repo(tmp_path / "remotes", "empty.git")
    work = tmp_path / "work"
    outputs = run(
        work, {"repoURL": str(empty), "checkout": [{"branch": "env/dev", "create": True, "path": "out"}]}
    )
    assert outputs["commits"] == {"out": ""}
    assert files_in(work / "out") == []
    assert git(work / "out", "symbolic-ref", "HEAD").strip() == "refs/heads/env/dev"


def test_sparse_blobless_over_http_with_token(tmp_path: Path, origin: Path) -> None:
    token = "s3cret-token"
    work = tmp_path / "work"
    with serve_git(tmp_path / "remotes", token=token) as server:
        env = {**__import__("os").environ, "GITHUB_TOKEN": token, "GITHUB_SERVER_URL": server.url}
        url = server.repo_url("origin.git")
        outputs = run(
            work,
            {
                "repoURL": url,
                "blobless": True,
                "checkout": [{"branch": "main", "path": "src", "sparse": ["app"]}],
            },
            env=env,
        )
        assert outputs["commits"] == {"src": remote_head(origin, "main")}
        # Cone mode: the listed directories plus the files at the top level.
        assert files_in(work / "src") == ["README.md", "app/deploy.yaml"]
        assert all(h.startswith("Basic ") for h in server.auth_headers if h)
        assert any(server.auth_headers)
    clone = next((work / REPOS_DIR).iterdir())
    assert git(clone, "config", "remote.origin.partialclonefilter").strip() == "blob:none"
    # The token is in no file of the clone and not in its URL.
    assert git(clone, "remote", "get-url", "origin").strip() == url
    for path in clone.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_http_without_token_fails_clearly(tmp_path: Path, origin: Path) -> None:
    from kargo_actions.promotion.step_api import StepError

    with serve_git(tmp_path / "remotes", token="t") as server, pytest.raises(StepError) as err:
        run(tmp_path / "work", {"repoURL": server.repo_url("origin.git"), "checkout": [{"path": "s"}]})
    assert "cloning http://127.0.0.1" in str(err.value)
    assert "could not read Username" in str(err.value) or "401" in str(err.value)


def test_commit_not_on_any_branch_any_more(tmp_path: Path, origin: Path) -> None:
    dangling = commit_files(origin, {"x": "1"}, "on a short-lived branch", branch="tmp")
    git(origin, "update-ref", "-d", "refs/heads/tmp")
    outputs = run(
        tmp_path / "work", {"repoURL": str(origin), "checkout": [{"commit": dangling, "path": "s"}]}
    )
    assert outputs["commits"] == {"s": dangling}


def test_step_name() -> None:
    assert GitClone.name == "git-clone"


def test_annotated_tag_and_refs_read_from_files(tmp_path: Path, origin: Path) -> None:
    from kargo_actions.promotion.steps.support.gitutil import (
        current_branch,
        head_commit,
        read_refs,
        remote_url,
    )

    git(origin, "-c", "user.name=t", "-c", "user.email=t@e", "tag", "-a", "v2.0.0", "-m", "release", "main")
    work = tmp_path / "work"
    outputs = run(
        work,
        {
            "repoURL": str(origin),
            "checkout": [{"tag": "v2.0.0", "path": "t"}, {"branch": "stage/dev", "path": "b"}],
        },
    )
    main = remote_head(origin, "main")
    assert outputs["commits"] == {"t": main, "b": remote_head(origin, "stage/dev")}
    clone = next((work / REPOS_DIR).iterdir())
    refs = read_refs(clone)
    # Packed refs of a fresh clone; the annotated tag peeled to its commit.
    assert refs["refs/tags/v2.0.0"] == main
    assert refs["refs/heads/stage/dev"] == remote_head(origin, "stage/dev")
    ctx = context(work)
    assert (current_branch(ctx, work / "b"), current_branch(ctx, work / "t")) == ("stage/dev", "")
    assert head_commit(ctx, work / "t") == main
    assert remote_url(ctx, work / "b") == str(origin)
    # A new commit makes the branch a loose ref, which wins over the packed one.
    git(work / "b", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "x")
    assert head_commit(ctx, work / "b") == git(work / "b", "rev-parse", "HEAD").strip()
    assert head_commit(ctx, work / "b") != remote_head(origin, "stage/dev")


def test_submodules_and_insecure_flag(tmp_path: Path, origin: Path) -> None:
    import os

    library = make_bare_repo(tmp_path / "remotes", "library.git")
    commit_files(library, {"lib.txt": "shared\n"}, "lib")
    app = make_bare_repo(tmp_path / "remotes", "app.git")
    scratch = tmp_path / "remotes/scratch-app"
    git(tmp_path / "remotes", "clone", "-q", str(app), scratch.name)
    git(scratch, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor/lib")
    git(scratch, "commit", "-q", "-m", "with a submodule")
    git(scratch, "push", "-q", "origin", "HEAD:refs/heads/main")
    # git refuses file:// submodules unless told otherwise (CVE-2022-39253); a real remote needs no such setting.
    env = {
        **os.environ,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "protocol.file.allow",
        "GIT_CONFIG_VALUE_0": "always",
    }
    work = tmp_path / "work"
    run(
        work,
        {
            "repoURL": str(app),
            "recurseSubmodules": True,
            "insecureSkipTLSVerify": True,
            "checkout": [{"path": "src"}],
        },
        env=env,
    )
    assert (work / "src/vendor/lib/lib.txt").read_text() == "shared\n"
    assert git(work / "src", "config", "http.sslVerify").strip() == "false"
