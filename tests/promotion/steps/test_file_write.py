"""file-write: config table, real writes (modes, overwrite, parents), and Kargo's refusals (.git, symlinks)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import PathEscapeError, StepFailed, TerminalStepError
from kargo_actions.promotion.steps.file_write import FileWrite, FileWriteConfig
from tests.promotion.steps.configcheck import problems
from tests.promotion.steps.conftest import context

CONFIG_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"path": "a.txt", "contents": ""}, []),
    ({"path": "a.txt", "contents": "x", "permissions": "0644", "overwrite": True}, []),
    ({"path": "a.txt"}, ["config.contents: required field is missing"]),
    ({"path": "", "contents": "x"}, ["config.path: must not be empty"]),
    (
        {"path": "a.txt", "contents": "x", "permissions": "644"},
        [
            "config.permissions: '644' is not an octal file mode: write 0 and three octal digits, like \"0644\""
        ],
    ),
    (
        {"path": "a.txt", "contents": "x", "permissions": "0644\n"},
        [
            "config.permissions: '0644\\n' is not an octal file mode: write 0 and three octal digits, like \"0644\""
        ],
    ),
    (
        {"path": "a.txt", "contents": "x", "permissions": "0800"},
        [
            "config.permissions: '0800' is not an octal file mode: write 0 and three octal digits, like \"0644\""
        ],
    ),
    (
        {"path": "a.txt", "contents": "x", "permissions": 420},
        ["config.permissions: expected a string, found an integer"],
    ),
    ({"path": "a.txt", "contents": {"a": 1}}, ["config.contents: expected a string, found a mapping"]),
    (
        {"path": "a.txt", "contents": "x", "overwrite": "true"},
        ["config.overwrite: expected a boolean (true or false), found a string"],
    ),
]


@pytest.mark.parametrize(("data", "expected"), CONFIG_CASES)
def test_config(data: dict[str, Any], expected: list[str]) -> None:
    assert problems(FileWriteConfig, data) == expected


RUN_CASES: list[tuple[str, dict[str, Any], str, int]] = [
    ("new file, default mode 0600", {"path": "out/app.yaml", "contents": "a: 1\n"}, "a: 1\n", 0o600),
    ("empty contents", {"path": "empty.txt", "contents": ""}, "", 0o600),
    ("mode 0644", {"path": "x/y/z.json", "contents": "{}", "permissions": "0644"}, "{}", 0o644),
    ("mode 0440", {"path": "ro.txt", "contents": "r", "permissions": "0440"}, "r", 0o440),
    (
        "overwrite replaces",
        {"path": "existing.txt", "contents": "new\r\nline", "overwrite": True},
        "new\r\nline",
        0o600,
    ),
    ("unicode", {"path": "u.txt", "contents": "grüße ✓\n"}, "grüße ✓\n", 0o600),
]


@pytest.mark.parametrize(
    ("data", "content", "mode"), [case[1:] for case in RUN_CASES], ids=[case[0] for case in RUN_CASES]
)
def test_run(tmp_path: Path, data: dict[str, Any], content: str, mode: int) -> None:
    (tmp_path / "existing.txt").write_text("old")
    old_umask = os.umask(0o077)  # modes are set explicitly, whatever the umask
    try:
        result = FileWrite().run(context(tmp_path), FileWriteConfig.model_validate(data))
    finally:
        os.umask(old_umask)
    written = tmp_path / data["path"]
    assert written.read_bytes() == content.encode()
    assert stat.S_IMODE(written.stat().st_mode) == mode
    assert result.outputs == {}


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (
            {"path": "existing.txt", "contents": "x"},
            StepFailed,
            "path: 'existing.txt' already exists; set overwrite: true to replace it",
        ),
        (
            {"path": ".git/config", "contents": "x", "overwrite": True},
            StepFailed,
            "path: '.git/config' is inside a .git directory; writing there is forbidden",
        ),
        (
            {"path": "repo/.git/hooks/pre-commit", "contents": "x"},
            StepFailed,
            "path: 'repo/.git/hooks/pre-commit' is inside a .git directory; writing there is forbidden",
        ),
        (
            {"path": "link/file.txt", "contents": "x"},
            StepFailed,
            "path: 'link/file.txt' resolves to 'real/file.txt' through a symlink; "
            "file-write does not write through symlinks",
        ),
        (
            {"path": "../x.txt", "contents": "x"},
            PathEscapeError,
            "path: '../x.txt' leads outside the work dir",
        ),
        (
            {"path": "out-link/x.txt", "contents": "x"},
            PathEscapeError,
            "path: 'out-link/x.txt' leads outside the work dir",
        ),
        (
            {"path": "run.sh", "contents": "x", "permissions": "0755"},
            StepFailed,
            "permissions: '0755' must not include executable bits",
        ),
        (
            {"path": "w.txt", "contents": "x", "permissions": "0666"},
            StepFailed,
            "permissions: '0666' must not be world-writable",
        ),
        ({"path": "real", "contents": "x", "overwrite": True}, StepFailed, "path: 'real' is a directory"),
    ],
)
def test_refusals(tmp_path: Path, data: dict[str, Any], error: type[TerminalStepError], message: str) -> None:
    work = tmp_path / "work"
    (work / "real").mkdir(parents=True)
    (work / "existing.txt").write_text("old")
    (work / "link").symlink_to("real")
    (work / "out-link").symlink_to(tmp_path)
    with pytest.raises(error) as err:
        FileWrite().run(context(work), FileWriteConfig.model_validate(data))
    assert str(err.value) == message
    assert (work / "existing.txt").read_text() == "old"
    assert not (tmp_path / "x.txt").exists()
    assert not (work / "real/file.txt").exists()
