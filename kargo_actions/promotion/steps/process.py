"""Running a child process for a step: killed when the promotion aborts, failures typed as StepError."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kargo_actions.promotion.steps.base import StepAborted, StepContext, StepError

# How often a waiting step looks at the abort event; short enough that SIGTERM feels immediate.
_ABORT_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Completed:
    """What a finished child process left behind."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run_command(
    ctx: StepContext,
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    check: bool = True,
    what: str = "",
) -> Completed:
    """Run `args` to completion; the child is killed when ctx.abort is set; exit != 0 raises StepError (check)."""
    ctx.check_abort()
    try:
        child = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=dict(env if env is not None else ctx.env),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as err:
        raise StepError(f"{what or args[0]}: cannot run {args[0]!r}: {err.strerror}") from err
    stdout, stderr = "", ""
    pending_input = input
    while True:
        try:
            stdout, stderr = child.communicate(pending_input, timeout=_ABORT_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            pending_input = None  # communicate() keeps feeding what it started sending
            if ctx.abort.is_set():
                child.kill()
                child.communicate()
                raise StepAborted(f"{what or args[0]}: aborted, the child process was killed") from None
    result = Completed(tuple(args), child.returncode, stdout, stderr)
    if check and result.returncode != 0:
        detail = stderr.strip() or stdout.strip() or f"exit status {result.returncode}"
        raise StepError(f"{what or ' '.join(args[:2])} failed: {detail}")
    return result
