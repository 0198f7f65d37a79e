"""expr-lang syntax through lark: the grammar's LALR parser (its tables cached), the parse tree turned into typed
nodes, and syntax errors turned into messages with the column of the problem.

Imported only when an expression is not in the store of parsed expressions (parser.py).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

import lark
from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from kargo_actions.expressions import nodes as n
from kargo_actions.expressions.cache_files import parser_cache_file
from kargo_actions.expressions.errors import EvalFailure, ExpressionError
from kargo_actions.expressions.runtime import BINARY_OPERATORS, Limits


@functools.cache
def _lark() -> lark.Lark:
    grammar = resources.files("kargo_actions.expressions").joinpath("grammar.lark").read_text("utf-8")
    options: dict[str, Any] = {"parser": "lalr", "maybe_placeholders": True, "propagate_positions": True}
    cache = parser_cache_file(grammar)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            cache = None  # read-only home: build every time, as before
    if cache is None:
        return lark.Lark(grammar, **options)
    # lark reads the file when its hash matches (else rebuilds) and rewrites it; a half-written file from a
    # concurrent process fails lark's load, which lark catches and rebuilds from the grammar.
    return lark.Lark(grammar, cache=str(cache), **options)


_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[0-7]{3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "`": "`",
}


def _unescape(token: Token) -> str:
    """The value of a quoted string literal, with Go's escapes (\\n, \\t, \\uXXXX, \\xNN, \\NNN)."""
    body = str(token)[1:-1]

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        if code[0] in "uUx":
            return chr(int(code[1:], 16))
        if code[0] in "01234567" and len(code) == 3:
            return chr(int(code, 8))
        raise EvalFailure(f"invalid escape sequence \\{code} in string", _at(token) + match.start())

    return _ESCAPE.sub(replace, body) if "\\" in body else body


def _at(token: Token) -> int:
    return token.start_pos or 0


def _int(token: Token) -> int:
    text = str(token).replace("_", "")
    value = int(text, 0) if text[:2].lower() in ("0x", "0o", "0b") else int(text)
    if value > 2**63 - 1:
        raise EvalFailure(f"integer literal {token} does not fit in 64 bits", _at(token))
    return value


def _unchain(node: n.Node) -> tuple[n.Node, bool]:
    return (node.inner, True) if isinstance(node, n.Chain) else (node, False)


_ORDERING = frozenset({"<", ">", "<=", ">="})


@v_args(inline=True)
class _ToNodes(Transformer[Token, n.Node]):
    """Turns lark's parse tree into typed nodes; positions come from the tokens."""

    def __init__(self) -> None:
        super().__init__()
        self._parenthesized: set[int] = set()

    def start(self, node: n.Node) -> n.Node:
        return node

    def paren(self, node: n.Node) -> n.Node:
        self._parenthesized.add(id(node))
        return node

    def _no_coalesce_mix(self, left: n.Node, op: Token) -> None:
        # expr-lang refuses `a ?? b + c`: it would read neither as (a ?? b) + c nor as a ?? (b + c).
        if isinstance(left, n.Coalesce) and id(left) not in self._parenthesized:
            raise EvalFailure(
                f"operator {op} and coalesce expressions (??) cannot be mixed; wrap either in parentheses",
                _at(op),
            )

    def int_literal(self, token: Token) -> n.Node:
        return n.Literal(_int(token), _at(token))

    def float_literal(self, token: Token) -> n.Node:
        return n.Literal(float(str(token).replace("_", "")), _at(token))

    def string_literal(self, token: Token) -> n.Node:
        return n.Literal(_unescape(token), _at(token))

    def raw_string_literal(self, token: Token) -> n.Node:
        return n.Literal(str(token)[1:-1], _at(token))

    def true_literal(self, token: Token) -> n.Node:
        return n.Literal(True, _at(token))

    def false_literal(self, token: Token) -> n.Node:
        return n.Literal(False, _at(token))

    def nil_literal(self, token: Token) -> n.Node:
        return n.Literal(None, _at(token))

    def variable(self, token: Token) -> n.Node:
        return n.Variable(str(token), _at(token))

    def env_variable(self, token: Token) -> n.Node:
        return n.EnvVariable(_at(token))

    def pointer(self, token: Token) -> n.Node:
        return n.Pointer(str(token), _at(token))

    def pointer_member_short(self, name: Token) -> n.Node:
        return n.ItemMember(str(name), _at(name) - 1)

    def member_name(self, token: Token) -> Token:
        return token

    def add_op(self, token: Token) -> Token:
        return token

    mul_op = pow_op = unary_op = add_op

    def arguments(self, *args: n.Node | None) -> tuple[n.Node, ...]:
        return tuple(a for a in args if a is not None)

    def call(self, name: Token, args: tuple[n.Node, ...] | None) -> n.Node:
        return n.Call(str(name), args or (), _at(name))

    def pipe_call(self, target: n.Node, name: Token, args: tuple[n.Node, ...] | None = None) -> n.Node:
        return n.Call(str(name), (target, *(args or ())), _at(name))

    # Member access and method calls continue a `?.` chain; the outermost node of the chain is a Chain.
    def member(self, target: n.Node, name: Token) -> n.Node:
        inner, chained = _unchain(target)
        node = n.Member(inner, str(name), False, _at(name))
        return n.Chain(node, node.pos) if chained else node

    def optional_member(self, target: n.Node, name: Token) -> n.Node:
        inner, _ = _unchain(target)
        return n.Chain(n.Member(inner, str(name), True, _at(name)), _at(name))

    def method_call(self, target: n.Node, name: Token, args: tuple[n.Node, ...] | None) -> n.Node:
        inner, chained = _unchain(target)
        node = n.MethodCall(inner, str(name), args or (), False, _at(name))
        return n.Chain(node, node.pos) if chained else node

    def optional_method_call(self, target: n.Node, name: Token, args: tuple[n.Node, ...] | None) -> n.Node:
        inner, _ = _unchain(target)
        return n.Chain(n.MethodCall(inner, str(name), args or (), True, _at(name)), _at(name))

    def index(self, target: n.Node, key: n.Node) -> n.Node:
        return n.Index(target, key, False, key.pos)

    def optional_index(self, target: n.Node, key: n.Node) -> n.Node:
        inner, _ = _unchain(target)
        return n.Chain(n.Index(inner, key, True, key.pos), key.pos)

    def slice(self, target: n.Node, start: n.Node | None, end: n.Node | None) -> n.Node:
        return n.Slice(target, start, end, target.pos)

    def array(self, *items: n.Node | None) -> n.Node:
        present = tuple(i for i in items if i is not None)
        return n.ArrayLiteral(present, present[0].pos - 1 if present else 0)

    def pair(self, key: n.Node, value: n.Node) -> tuple[n.Node, n.Node]:
        return (key, value)

    def key_name(self, token: Token) -> n.Node:
        return n.Literal(str(token), _at(token))

    def key_string(self, token: Token) -> n.Node:
        value = str(token)[1:-1] if str(token).startswith("`") else _unescape(token)
        return n.Literal(value, _at(token))

    def key_int(self, token: Token) -> n.Node:
        return n.Literal(_int(token), _at(token))

    def map(self, *pairs: tuple[n.Node, n.Node] | None) -> n.Node:
        present = tuple(p for p in pairs if p is not None)
        return n.MapLiteral(present, present[0][0].pos - 1 if present else 0)

    def closure(self, body: n.Node) -> n.Node:
        return n.Closure(body, body.pos)

    def unary(self, op: Token, operand: n.Node) -> n.Node:
        if str(op) in ("!", "not"):
            return n.Not(operand, _at(op))
        return n.Negate(operand, str(op) == "-", _at(op))

    def binary(self, left: n.Node, op: Token, right: n.Node) -> n.Node:
        self._no_coalesce_mix(left, op)
        return n.Binary(str(op), BINARY_OPERATORS[str(op)], left, right, _at(op))

    def compare(self, left: n.Node, op: Token, right: n.Node) -> n.Node:
        self._no_coalesce_mix(left, op)
        node = n.Binary(str(op), BINARY_OPERATORS[str(op)], left, right, _at(op))
        if str(op) in _ORDERING and isinstance(left, n.Binary) and left.op in _ORDERING:
            # expr-lang chains comparisons: a < b < c means a < b && b < c.
            chained = n.Binary(str(op), BINARY_OPERATORS[str(op)], left.right, right, _at(op))
            return n.Logical(True, left, chained, _at(op))
        return node

    def compare_not(self, left: n.Node, not_token: Token, op: Token, right: n.Node) -> n.Node:
        self._no_coalesce_mix(left, op)
        inner = n.Binary(str(op), BINARY_OPERATORS[str(op)], left, right, _at(op))
        return n.Negated(inner, _at(not_token))

    def logical(self, left: n.Node, op: Token, right: n.Node) -> n.Node:
        self._no_coalesce_mix(left, op)
        return n.Logical(str(op) in ("&&", "and"), left, right, _at(op))

    def range_op(self, low: n.Node, high: n.Node) -> n.Node:
        return n.Range(low, high, high.pos)

    def coalesce(self, left: n.Node, right: n.Node) -> n.Node:
        return n.Coalesce(left, right, right.pos)

    def ternary(self, condition: n.Node, then: n.Node, otherwise: n.Node) -> n.Node:
        return n.Ternary(condition, then, otherwise, condition.pos)

    def elvis(self, condition: n.Node, op: Token, otherwise: n.Node) -> n.Node:
        return n.Ternary(condition, None, otherwise, _at(op))

    def let_binding(self, name: Token, value: n.Node, body: n.Node) -> n.Node:
        return n.Let(str(name), value, body, _at(name))


_UNSUPPORTED_WORDS = {
    "if": "`if {...} else {...}` is not supported; use the ternary `condition ? a : b`",
    "else": "`if {...} else {...}` is not supported; use the ternary `condition ? a : b`",
}


def _check_depth(tree: lark.Tree[Token], text: str, limits: Limits) -> None:
    """Refuse trees nested deeper than the limit, before anything recurses over them."""
    stack: list[tuple[lark.Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_depth:
            column = (node.meta.column if not node.meta.empty else 1) or 1
            raise ExpressionError(
                text, column, f"expression nests too deeply (more than {limits.max_depth} levels)"
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, lark.Tree))


def _syntax_error(text: str, err: UnexpectedInput) -> ExpressionError:
    pos = err.pos_in_stream if err.pos_in_stream is not None else len(text)
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        return ExpressionError(text, len(text) + 1, "unexpected end of expression")
    if isinstance(err, UnexpectedCharacters):
        char = text[pos] if pos < len(text) else ""
        if char == "`":
            return ExpressionError(text, pos + 1, "unterminated raw string (missing closing `)")
        if char in "\"'":
            return ExpressionError(text, pos + 1, f"unterminated string (missing closing {char})")
        if char == ";":
            return ExpressionError(
                text, pos + 1, "expression sequences (`;`) are not supported; only `let x = ...; expr`"
            )
        return ExpressionError(text, pos + 1, f"unexpected character {char!r}")
    assert isinstance(err, UnexpectedToken)
    token = err.token
    word = str(token)
    keyword = re.search(r"(?:^|[^.\w])(if|else)\b", text[: pos + len(word)])
    if keyword:
        return ExpressionError(text, keyword.start(1) + 1, _UNSUPPORTED_WORDS[keyword.group(1)])
    if token.type in ("STRING", "RAW_STRING") and pos > 0 and text[pos - 1] in "bB":
        return ExpressionError(text, pos, 'bytes literals (b"...") are not supported')
    if word == ";":
        return ExpressionError(
            text, pos + 1, "expression sequences (`;`) are not supported; only `let x = ...; expr`"
        )
    if word == "=":
        return ExpressionError(text, pos + 1, 'unexpected "=" (compare with "==")')
    return ExpressionError(text, pos + 1, f"unexpected {word!r}")


def parse_text(text: str, limits: Limits) -> n.Node:
    """Parse one expression with lark; raises ExpressionError with the column of the problem."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as err:
        raise _syntax_error(text, err) from None
    _check_depth(tree, text, limits)
    try:
        node: Any = _ToNodes().transform(tree)
    except lark.exceptions.VisitError as err:
        cause = err.orig_exc
        if isinstance(cause, EvalFailure):
            raise ExpressionError(text, (cause.pos or 0) + 1, cause.message) from None
        raise
    assert isinstance(node, n.Node)
    return node
