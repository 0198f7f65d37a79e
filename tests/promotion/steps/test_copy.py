"""copy: config table and run table on real files in a temporary work dir."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from kargo_actions.promotion.step_api import (
    PathEscapeError,
    StepAborted,
    StepConfigError,
    StepContext,
    StepError,
    validate_config,
)
from kargo_actions.promotion.steps.copy import Copy, CopyConfig


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"inPath": "a", "outPath": "b"}, []),
        ({"inPath": "a", "outPath": "b", "ignore": "*.tmp"}, []),
        ({}, ["config.inPath: required field is missing", "config.outPath: required field is missing"]),
        ({"inPath": "", "outPath": "b"}, ["config.inPath: must not be empty"]),
        ({"inPath": "a", "outPath": "b", "ignore": ""}, ["config.ignore: must not be empty"]),
        (
            {"inPath": "a", "outPath": "b", "ignore": None},
            ["config.ignore: must not be null: leave the field out instead"],
        ),
        ({"inPath": 5, "outPath": "b"}, ["config.inPath: expected a string, found an integer"]),
        (
            {"inPath": "a", "outPath": "b", "outpath": "c"},
            ["config.outpath: unknown field (did you mean 'outPath'?)"],
        ),
    ],
)
def test_config(config: dict[str, object], problems: list[str]) -> None:
    if not problems:
        assert isinstance(validate_config("copy", CopyConfig, config), CopyConfig)
        return
    with pytest.raises(StepConfigError) as caught:
        validate_config("copy", CopyConfig, config)
    assert caught.value.lines() == problems


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


SOURCE = {
    "src/app.yaml": "app",
    "src/base/kustomization.yaml": "base",
    "src/testdata/fixture.yaml": "fixture",
    "src/notes.tmp": "tmp",
    "src/keep.tmp": "keep",
    "src/.git/HEAD": "ref: refs/heads/main",
    "src/sub/.git/config": "nested",
}


@pytest.mark.parametrize(
    ("in_path", "out_path", "ignore", "expected"),
    [
        (
            "src",
            "out",
            None,
            {
                "out/app.yaml": "app",
                "out/base/kustomization.yaml": "base",
                "out/testdata/fixture.yaml": "fixture",
                "out/notes.tmp": "tmp",
                "out/keep.tmp": "keep",
            },
        ),
        (
            "./src",
            "out",
            "# comment\ntestdata/\n*.tmp\n!keep.tmp\n",
            {"out/app.yaml": "app", "out/base/kustomization.yaml": "base", "out/keep.tmp": "keep"},
        ),
        (
            "src",
            "out",
            "!.git/\nbase\n*.tmp\ntestdata",
            {"out/app.yaml": "app", "out/.git/HEAD": "ref: refs/heads/main", "out/sub/.git/config": "nested"},
        ),
        ("src/app.yaml", "deep/new/app.yaml", None, {"deep/new/app.yaml": "app"}),
        (
            "src/app.yaml",
            "existing/app.yaml",
            None,
            {"existing/app.yaml": "app", "existing/other.yaml": "other"},
        ),
        (
            "src/base",
            "existing",
            None,
            {
                "existing/app.yaml": "old",
                "existing/other.yaml": "other",
                "existing/kustomization.yaml": "base",
            },
        ),
    ],
    ids=[
        "dir-to-new-dir",
        "ignore-patterns",
        "git-re-included",
        "file-new-parents",
        "file-overwrites",
        "dir-merges",
    ],
)
def test_run(
    tmp_path: Path, in_path: str, out_path: str, ignore: str | None, expected: dict[str, str]
) -> None:
    for name, content in SOURCE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing/app.yaml").write_text("old")
    (tmp_path / "existing/other.yaml").write_text("other")
    config = CopyConfig(in_path=in_path, out_path=out_path, ignore=ignore)
    result = Copy().run(StepContext(work_dir=tmp_path), config)
    top = out_path.split("/")[0]
    assert _tree(tmp_path / top) == {k.removeprefix(top + "/"): v for k, v in expected.items()}
    assert result.outputs == {}
    assert _tree(tmp_path / "src") == {
        k.removeprefix("src/"): v for k, v in SOURCE.items()
    }  # source untouched


def test_symlinks_in_the_source_are_skipped_and_modes_kept(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    script = tmp_path / "src/run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (tmp_path / "src/link.sh").symlink_to("run.sh")
    (tmp_path / "src/outside").symlink_to("/etc")
    Copy().run(StepContext(work_dir=tmp_path), CopyConfig(in_path="src", out_path="out"))
    assert sorted(os.listdir(tmp_path / "out")) == ["run.sh"]
    assert stat.S_IMODE((tmp_path / "out/run.sh").stat().st_mode) == 0o755


@pytest.mark.parametrize(
    ("in_path", "out_path", "error", "message"),
    [
        ("missing", "out", StepError, "inPath 'missing' does not exist"),
        ("../outside", "out", PathEscapeError, "leads outside the work dir"),
        ("src", "/abs/out", PathEscapeError, "is absolute"),
        ("escape", "out", PathEscapeError, "leads outside the work dir"),
        ("src", "escape/copied", PathEscapeError, "leads outside the work dir"),
        ("src", "trap", PathEscapeError, "a symlink that leads outside the work dir"),
        ("src", "src/inner", StepError, "lies inside inPath"),
        ("src/a.txt", "adir", StepError, "exists and is a directory"),
    ],
)
def test_refusals(tmp_path: Path, in_path: str, out_path: str, error: type[Exception], message: str) -> None:
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "src/a.txt").write_text("a")
    (work / "adir").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "escape").symlink_to(outside)
    (work / "trap").mkdir()
    (work / "trap/a.txt").symlink_to(outside / "victim.txt")
    with pytest.raises(error, match=message):
        Copy().run(StepContext(work_dir=work), CopyConfig(in_path=in_path, out_path=out_path))
    assert list(outside.iterdir()) == []


def test_abort_between_files(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    for i in range(5):
        (tmp_path / f"src/{i}.txt").write_text(str(i))
    abort = threading.Event()
    abort.set()
    with pytest.raises(StepAborted):
        Copy().run(StepContext(work_dir=tmp_path, abort=abort), CopyConfig(in_path="src", out_path="out"))
    assert not list((tmp_path / "out").glob("*.txt"))
