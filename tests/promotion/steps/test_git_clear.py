"""git-clear: config table and real work trees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.git_clear import GitClear, GitClearConfig
from kargo_actions.promotion.steps.git_clone import GitClone, GitCloneConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context
from tests.support.git_http_server import git


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"path": "out"}, []),
        ({}, ["config.path: required field is missing"]),
        ({"path": ""}, ["config.path: must not be empty"]),
        ({"path": "out", "keep": ["a"]}, ["config.keep: unknown field (known fields: path)"]),
    ],
)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(GitClearConfig, data) == expected


def test_clears_everything_but_git(tmp_path: Path, origin: Path) -> None:
    work = tmp_path / "work"
    ctx = context(work)
    GitClone().run(
        ctx, GitCloneConfig.model_validate({"repoURL": str(origin), "checkout": [{"path": "out"}]})
    )
    (work / "out/.hidden").write_text("x")
    (work / "out/link").symlink_to(work / "out/README.md")
    result = GitClear().run(ctx, GitClearConfig(path="out"))
    assert sorted(p.name for p in (work / "out").iterdir()) == [".git"]
    assert result.message == "cleared out (5 top-level entries removed)"
    # git sees every tracked file deleted, and the work tree still works.
    assert sorted(git(work / "out", "status", "--porcelain").splitlines()) == [
        " D README.md",
        " D app/deploy.yaml",
        " D env/dev/values.yaml",
    ]


def test_refuses_a_plain_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "plain").mkdir(parents=True)
    (work / "plain/file").write_text("keep me")
    with pytest.raises(TerminalStepError) as err:
        GitClear().run(context(work), GitClearConfig(path="plain"))
    assert str(err.value) == (
        "path: 'plain' is not a git working tree (clone it first with a git-clone step)"
    )
    assert (work / "plain/file").read_text() == "keep me"
