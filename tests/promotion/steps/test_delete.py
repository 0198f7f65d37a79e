"""delete: config table and run table on real files in a temporary work dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from kargo_actions.promotion.step_api import (
    PathEscapeError,
    StepConfigError,
    StepContext,
    StepError,
    validate_config,
)
from kargo_actions.promotion.steps.delete import Delete, DeleteConfig


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"path": "a"}, []),
        ({"paths": ["a", "b"], "pathsAreGlobs": True, "strict": True}, []),
        ({}, ["config: give exactly one of path and paths"]),
        ({"path": "a", "paths": ["b"]}, ["config: give exactly one of path and paths"]),
        ({"paths": []}, ["config.paths: must have at least 1 item"]),
        ({"paths": ["a", ""]}, ["config.paths[1]: must not be empty"]),
        (
            {"path": "a", "strict": "yes"},
            ["config.strict: expected a boolean (true or false), found a string"],
        ),
        ({"path": None}, ["config.path: must not be null: leave the field out instead"]),
        (
            {"path": "a", "recursive": True},
            ["config.recursive: unknown field (known fields: path, paths, pathsAreGlobs, strict)"],
        ),
    ],
)
def test_config(config: dict[str, object], problems: list[str]) -> None:
    if not problems:
        assert isinstance(validate_config("delete", DeleteConfig, config), DeleteConfig)
        return
    with pytest.raises(StepConfigError) as caught:
        validate_config("delete", DeleteConfig, config)
    assert caught.value.lines() == problems


FILES = [
    "out/a.yaml",
    "out/tmp/x.tmp",
    "out/deep/y.tmp",
    "out/deep/keep.yaml",
    "out/.hidden.tmp",
    "other.txt",
]


def _remaining(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())


@pytest.mark.parametrize(
    ("config", "gone"),
    [
        ({"path": "out/a.yaml"}, ["out/a.yaml"]),
        ({"path": "./out/tmp"}, ["out/tmp/x.tmp"]),
        ({"paths": ["out/a.yaml", "other.txt", "missing.txt"]}, ["out/a.yaml", "other.txt"]),
        (
            {"path": "out/**/*.tmp", "pathsAreGlobs": True},
            ["out/.hidden.tmp", "out/deep/y.tmp", "out/tmp/x.tmp"],
        ),
        (
            {"paths": ["./out/deep/", "out/deep/*.yaml"], "pathsAreGlobs": True},
            ["out/deep/keep.yaml", "out/deep/y.tmp"],
        ),
        ({"path": "out", "strict": True}, [f for f in FILES if f.startswith("out/")]),
        ({"path": "link"}, ["link"]),  # the link itself; its target stays
    ],
)
def test_run(tmp_path: Path, config: dict[str, object], gone: list[str]) -> None:
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / "link").symlink_to("other.txt")
    before = _remaining(tmp_path)
    parsed = validate_config("delete", DeleteConfig, config)
    Delete().run(StepContext(work_dir=tmp_path), parsed)
    assert _remaining(tmp_path) == sorted(set(before) - set(gone))


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        ({"path": "missing", "strict": True}, StepError, "path 'missing' does not exist"),
        ({"path": "*.none", "pathsAreGlobs": True, "strict": True}, StepError, "no path matches the pattern"),
        ({"path": "../victim.txt"}, PathEscapeError, "leads outside the work dir"),
        ({"path": "/etc/passwd"}, PathEscapeError, "is absolute"),
        ({"path": "escape/victim.txt"}, PathEscapeError, "leads outside the work dir"),
        ({"path": "../*.txt", "pathsAreGlobs": True}, PathEscapeError, "leads outside the work dir"),
        ({"path": "escape/*", "pathsAreGlobs": True}, PathEscapeError, "leads outside the work dir"),
        ({"path": "."}, PathEscapeError, "the work dir itself"),
    ],
)
def test_refusals(tmp_path: Path, config: dict[str, object], error: type[Exception], message: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "victim.txt").write_text("keep me")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me")
    (work / "escape").symlink_to(outside)
    with pytest.raises(error, match=message):
        Delete().run(StepContext(work_dir=work), validate_config("delete", DeleteConfig, config))
    assert (tmp_path / "victim.txt").read_text() == "keep me"
    assert (outside / "victim.txt").read_text() == "keep me"
    assert work.is_dir()
