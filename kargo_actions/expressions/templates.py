"""`${{ expr }}` / `${% expr %}` templates in config values, rendered as Kargo renders them.

A value that is exactly one expression keeps the result's type. When that result is a string, it is
read as Kargo reads it (a number, a bool, a JSON object/array/null, or a string stripped of enclosing
double quotes) unless quote()/unsafeQuote()/asJSON()/asYAML() made it. A value that mixes text and
expressions is text. Keys are never evaluated. A literal `${{` is written `${{ "${{" }}`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from kargo_actions.expressions.environment import CompiledExpression, Environment, compile_expression
from kargo_actions.expressions.errors import EvalFailure, ExpressionError
from kargo_actions.expressions.values import QuotedStr, to_plain, to_text
from kargo_actions.struct import struct

DELIMITERS = (("${{", "}}"), ("${%", "%}"))


@struct(slots=True)
class _Piece:
    """Literal text, or an expression whose body starts at `offset` in the template."""

    text: str
    expression: CompiledExpression | None = None
    offset: int = 0


@struct(slots=True)
class Template:
    """A parsed template: its pieces, and whether it is one expression alone."""

    source: str
    pieces: tuple[_Piece, ...]
    single: bool

    def render(self, env: Environment) -> Any:
        """The rendered value: typed when the template is one expression, else text."""
        if not self.pieces:
            return self.source
        if self.single:
            piece = next(p for p in self.pieces if p.expression is not None)
            value = self._evaluate(piece, env)
            newline = "\n" if len(self.pieces) > 1 else ""  # a YAML block scalar's final newline
            if isinstance(value, QuotedStr):
                return str(value) + newline
            if isinstance(value, str):
                return coerce_text(value + newline)
            return self._plain(value, piece)
        parts: list[str] = []
        for piece in self.pieces:
            if piece.expression is None:
                parts.append(piece.text)
            else:
                value = self._evaluate(piece, env)
                try:
                    parts.append(to_text(value))
                except EvalFailure as err:
                    raise ExpressionError(self.source, piece.offset + 1, err.message) from None
        text = "".join(parts)
        if len(text) > env.limits.max_string_length:
            raise ExpressionError(
                self.source,
                1,
                f"rendered text too long ({len(text)} characters, limit {env.limits.max_string_length})",
            )
        return text

    def _evaluate(self, piece: _Piece, env: Environment) -> Any:
        assert piece.expression is not None
        try:
            return piece.expression.evaluate(env)
        except ExpressionError as err:
            raise ExpressionError(self.source, piece.offset + err.column, err.message, err.hint) from None

    def _plain(self, value: Any, piece: _Piece) -> Any:
        try:
            return to_plain(value)
        except EvalFailure as err:
            raise ExpressionError(self.source, piece.offset + 1, err.message) from None


def has_expression(text: str) -> bool:
    """Whether a string holds any `${{` or `${%` (the only strings a template changes)."""
    return "${" in text and any(start in text for start, _ in DELIMITERS)


@functools.lru_cache(maxsize=4096)
def parse_template(source: str) -> Template:
    """Split a template into text and compiled expressions (cached by its text)."""
    pieces: list[_Piece] = []
    position = 0
    while True:
        starts = [(source.find(start, position), start, end) for start, end in DELIMITERS]
        found = [s for s in starts if s[0] >= 0]
        if not found:
            break
        index, start, end = min(found)
        if index > position:
            pieces.append(_Piece(source[position:index]))
        body_start = index + len(start)
        close = source.find(end, body_start)
        if close < 0:
            raise ExpressionError(
                source, index + 1, f'unclosed expression: expected "{end}" before the end of the text'
            )
        body = source[body_start:close]
        try:
            compiled = compile_expression(body)
        except ExpressionError as err:
            raise ExpressionError(source, body_start + err.column, err.message, err.hint) from None
        pieces.append(_Piece(body, compiled, body_start))
        position = close + len(end)
    if position < len(source) and pieces:
        pieces.append(_Piece(source[position:]))
    single = (
        bool(pieces)
        and pieces[0].expression is not None
        and (len(pieces) == 1 or (len(pieces) == 2 and pieces[1].text == "\n"))
    )
    return Template(source, tuple(pieces), single)


def render_template(source: str, env: Environment) -> Any:
    """Render one string value."""
    if not has_expression(source):
        return source
    return parse_template(source).render(env)


def render_value(value: Any, env: Environment) -> Any:
    """Render every string value inside maps and lists (never keys); other values are kept."""
    if isinstance(value, str):
        return render_template(value, env)
    if isinstance(value, Mapping):
        return {key: render_value(item, env) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render_value(item, env) for item in value]
    return value


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_GO_BOOLS.update({"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False})


def coerce_text(text: str) -> Any:
    """Read a single expression's string result as Kargo does: number, bool, JSON, or text."""
    body = text[:-1] if text.endswith("\n") else text
    newline = "\n" if body is not text else ""
    if len(body) > 1 and body.startswith('"') and body.endswith('"'):
        return body[1:-1] + newline
    if _INTEGER.fullmatch(body):
        return int(body)
    if _NUMBER.fullmatch(body):
        return float(body)
    if body in _GO_BOOLS:
        return _GO_BOOLS[body]
    if body[:1] in ("{", "[", "n"):
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            return text
        if parsed is None or isinstance(parsed, dict | list):
            return parsed
    return text
