"""Typed errors and the exit codes they map to (see docs/cli.md and docs/architecture.md).

One hierarchy; the CLI's one handler turns each into a one-line message and its class's exit code:

    KargoActionsError            4  unexpected (a bug) unless a subclass says otherwise
    ├── InvalidInputError        2  bad input or configuration: nothing was done
    ├── RefusedError             3  refused by a gate: not available, not approved, bad signature
    ├── FailedError              1  ran and failed; the same run again fails the same way
    │   └── TerminalStepError       a step error no retry cures (promotion/step_api.py: StepFailed,
    │                               StepConfigError, StepTimedOut, PathEscapeError, ...)
    ├── RetryableError           1  transient (network, push race, rate limit): a bounded retry may cure it
    │   └── StepError               a step could not do its job this time: the engine runs it again
    └── StepAborted              1  the promotion was aborted while a step ran: neither retried nor failed

"Retryable" means one thing: a RetryableError. Errors of other modules subclass the one that says what a
retry would do (github.errors.GitHubUnavailableError is a RetryableError, GitHubPermissionError a
FailedError).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # a step, promotion or verification failed
    INVALID = 2  # invalid input or configuration
    REFUSED = 3  # refused by a gate: not available, not approved, bad signature
    BUG = 4  # unexpected error


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in user input, with its position when known.

    Rendered as `FILE:LINE:COL: field.path: message (hint)`; line and column are 1-based.
    """

    file: str = ""
    line: int = 0
    col: int = 0
    path: str = ""
    message: str = ""
    hint: str = ""

    def __str__(self) -> str:
        where = self.file
        if where and self.line:
            where += f":{self.line}:{self.col or 1}"
        parts = [p for p in (where, self.path) if p]
        text = self.message + (f" ({self.hint})" if self.hint else "")
        return ": ".join([*parts, text])


class KargoActionsError(Exception):
    """Base of every error the CLI turns into a one-line message and an exit code."""

    exit_code: ExitCode = ExitCode.BUG

    def lines(self) -> list[str]:
        return [str(self)]


class InvalidInputError(KargoActionsError):
    """Bad input or configuration: nothing was done. Holds every problem found."""

    exit_code = ExitCode.INVALID

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(message=problems)]
        self.problems: Sequence[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class FailedError(KargoActionsError):
    """A step, promotion or verification ran and failed."""

    exit_code = ExitCode.FAILED


class RefusedError(KargoActionsError):
    """A gate refused the operation: not available, not approved, bad signature."""

    exit_code = ExitCode.REFUSED


class RetryableError(KargoActionsError):
    """A transient failure (network, push race) that a bounded retry may cure."""

    exit_code = ExitCode.FAILED


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A "did you mean 'x'?" hint for a misspelt name, or "" when nothing is close."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""
