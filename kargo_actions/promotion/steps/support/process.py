"""Child processes of steps: run to completion, stopped (the whole process group) on abort or deadline."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from kargo_actions.promotion.step_api import (
    StepAborted,
    StepContext,
    StepError,
    StepTimedOut,
    TerminalStepError,
)

# How often a step waiting on a child process looks at the abort event and its deadline.
_POLL_SECONDS = 0.05
# After SIGTERM, how long a child gets to exit before SIGKILL.
_TERM_GRACE_SECONDS = 2.0


def run_command(
    ctx: StepContext,
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    check: bool = True,
    what: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run `args` to completion, as every step should spawn a process.

    The child runs in its own process group, which gets SIGTERM (then SIGKILL) when the promotion aborts
    (StepAborted) or the step passes its deadline (StepTimedOut). `env` replaces ctx.env when given. A tool
    not installed is a TerminalStepError; exit != 0 with `check` a StepError carrying the tool's stderr.
    """
    label = what or " ".join(args[:2])
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
            start_new_session=True,
        )
    except FileNotFoundError as err:
        raise TerminalStepError(f"{label}: {args[0]!r} is not installed or not on PATH") from err
    except OSError as err:
        raise StepError(f"{label}: cannot run {args[0]!r}: {err.strerror or err}") from err
    pending = input
    while True:
        try:
            stdout, stderr = child.communicate(pending, timeout=_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            pending = None  # communicate() goes on feeding what it started sending
            try:
                ctx.check_abort()
            except (StepAborted, StepTimedOut) as stop:
                _stop(child)
                raise type(stop)(f"{label}: {stop}; the child process was stopped") from None
    if check and child.returncode != 0:
        detail = stderr.strip() or stdout.strip() or f"exit status {child.returncode}"
        raise StepError(f"{label} failed (exit {child.returncode}): {detail}")
    return subprocess.CompletedProcess(list(args), child.returncode, stdout, stderr)


def _stop(child: subprocess.Popen[str]) -> None:
    """SIGTERM to the child's whole process group (git spawns helpers), SIGKILL after a grace period."""
    for sig, grace in ((signal.SIGTERM, _TERM_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            break
        try:
            child.communicate(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
    child.communicate()
