"""Errors of the expression language, each carrying the expression text and the column of the problem."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from kargo_actions.errors import InvalidInputError, Problem


class ExpressionError(InvalidInputError):
    """A parse or evaluation error at a column of one expression (or template); the CLI shows a caret."""

    def __init__(self, text: str, column: int, message: str, hint: str = "") -> None:
        self.text = text
        self.column = max(1, column)  # 1-based, in `text`
        self.message = message
        self.hint = hint
        super().__init__(
            [Problem(col=self.column, message=f"{message} (in {text!r} at column {self.column})", hint=hint)]
        )

    def caret_lines(self, indent: str = "  ") -> list[str]:
        """The expression's line holding the column, and a caret under that column."""
        line_start = self.text.rfind("\n", 0, self.column - 1) + 1
        line_end = self.text.find("\n", self.column - 1)
        line = self.text[line_start : line_end if line_end >= 0 else len(self.text)]
        return [indent + line, indent + " " * (self.column - 1 - line_start) + "^"]


class EvalFailure(Exception):
    """Raised inside the evaluator; turned into an ExpressionError with the expression text at the top."""

    def __init__(self, message: str, pos: int | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.hint = hint


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """` (did you mean "x"?)` for the closest candidate, or nothing."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f' (did you mean "{close[0]}"?)' if close else ""
