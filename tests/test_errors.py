"""One exception hierarchy: "retryable" means a RetryableError, a terminal step error is a FailedError and
never a StepError, and each kind keeps its exit code."""

from __future__ import annotations

import pytest

from kargo_actions.errors import (
    ExitCode,
    FailedError,
    InvalidInputError,
    KargoActionsError,
    RefusedError,
    RetryableError,
)
from kargo_actions.promotion.step_api import (
    PathEscapeError,
    StepAborted,
    StepConfigError,
    StepError,
    StepFailed,
    StepTimedOut,
    TerminalStepError,
)

TERMINAL = [TerminalStepError, StepFailed, StepTimedOut, StepConfigError, PathEscapeError]


def test_a_step_error_is_retryable() -> None:
    assert issubclass(StepError, RetryableError)
    assert not issubclass(StepError, FailedError)


@pytest.mark.parametrize("kind", TERMINAL)
def test_terminal_step_errors_are_failures_never_retryable(kind: type[KargoActionsError]) -> None:
    assert issubclass(kind, FailedError)
    assert not issubclass(kind, StepError)
    assert not issubclass(kind, RetryableError)


def test_an_abort_is_neither_retried_nor_a_failure() -> None:
    assert not issubclass(StepAborted, RetryableError | FailedError)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (KargoActionsError, ExitCode.BUG),
        (InvalidInputError, ExitCode.INVALID),
        (RefusedError, ExitCode.REFUSED),
        (FailedError, ExitCode.FAILED),
        (RetryableError, ExitCode.FAILED),
        (StepError, ExitCode.FAILED),
        (StepAborted, ExitCode.FAILED),
        *[(kind, ExitCode.FAILED) for kind in TERMINAL],
    ],
)
def test_exit_codes(kind: type[KargoActionsError], code: ExitCode) -> None:
    assert kind.exit_code is code
