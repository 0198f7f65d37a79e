"""The step contract: path confinement, run_command (abort, deadline, errors), config validation."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kargo_actions.promotion.steps.base import (
    PathEscapeError,
    StepAborted,
    StepContext,
    StepError,
    StepTimedOut,
    TerminalStepError,
    run_command,
)
from tests.promotion.helpers import pid_alive


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "sub").mkdir(parents=True)
    (root / "sub/file.txt").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "up").symlink_to(outside)
    (root / "inner").symlink_to("sub")
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    return root


@pytest.mark.parametrize(
    ("relative", "inside"),
    [
        ("sub/file.txt", "sub/file.txt"),
        ("./sub/../sub/file.txt", "sub/file.txt"),
        ("inner/file.txt", "sub/file.txt"),  # a symlink that stays inside is fine
        ("new/dir", "new/dir"),
        (".", "."),
        ("..", None),
        ("sub/../../x", None),
        ("/etc/passwd", None),
        ("up", None),
        ("up/anything", None),
        ("dangling", None),
    ],
)
def test_path_confinement(work: Path, relative: str, inside: str | None) -> None:
    ctx = StepContext(work_dir=work)
    if inside is None:
        with pytest.raises(PathEscapeError):
            ctx.path(relative)
    else:
        assert ctx.path(relative) == (work / inside).resolve()


def test_empty_path_is_refused(work: Path) -> None:
    with pytest.raises(TerminalStepError, match="outPath: a path is required"):
        StepContext(work_dir=work).path("", field_name="outPath")


def test_run_command_returns_output(tmp_path: Path) -> None:
    done = run_command(
        StepContext(work_dir=tmp_path), ["sh", "-c", "cat; echo err >&2"], input="hello", cwd=tmp_path
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "hello", "err\n")


def test_run_command_failure_carries_stderr(tmp_path: Path) -> None:
    ctx = StepContext(work_dir=tmp_path)
    with pytest.raises(StepError, match=r"git status failed \(exit 128\): fatal: not a git repository"):
        run_command(ctx, ["git", "status"], cwd=tmp_path)
    assert run_command(ctx, ["git", "status"], cwd=tmp_path, check=False).returncode == 128


def test_missing_tool_is_terminal(tmp_path: Path) -> None:
    with pytest.raises(TerminalStepError, match="'no-such-tool-xyz' is not installed or not on PATH"):
        run_command(StepContext(work_dir=tmp_path), ["no-such-tool-xyz"])


def test_env_replaces_the_context_env(tmp_path: Path) -> None:
    ctx = StepContext(work_dir=tmp_path, env={"PATH": "/usr/bin:/bin", "A": "from-ctx"})
    assert run_command(ctx, ["sh", "-c", "echo $A"]).stdout == "from-ctx\n"
    assert (
        run_command(ctx, ["sh", "-c", "echo ${A:-unset}"], env={"PATH": "/usr/bin:/bin"}).stdout == "unset\n"
    )


def _grandchild_script(pid_file: Path) -> list[str]:
    # The shell starts a grandchild (as git starts helpers); both must die with the process group.
    return ["sh", "-c", f'sleep 30 & echo $! > "{pid_file}"; wait']


def test_abort_kills_the_process_group(tmp_path: Path) -> None:
    abort = threading.Event()
    pid_file = tmp_path / "pid"
    threading.Timer(0.3, abort.set).start()
    started = time.monotonic()
    with pytest.raises(StepAborted, match="the child process was stopped"):
        run_command(StepContext(work_dir=tmp_path, abort=abort), _grandchild_script(pid_file))
    assert time.monotonic() - started < 4
    assert not pid_alive(int(pid_file.read_text()))


def test_deadline_stops_the_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    ctx = StepContext(work_dir=tmp_path, deadline=time.monotonic() + 0.3)
    with pytest.raises(StepTimedOut):
        run_command(ctx, _grandchild_script(pid_file))
    assert not pid_alive(int(pid_file.read_text()))


def test_sleep_wakes_on_abort(tmp_path: Path) -> None:
    abort = threading.Event()
    threading.Timer(0.1, abort.set).start()
    started = time.monotonic()
    with pytest.raises(StepAborted):
        StepContext(work_dir=tmp_path, abort=abort).sleep(10)
    assert time.monotonic() - started < 2
