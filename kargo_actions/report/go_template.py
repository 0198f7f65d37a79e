"""A subset of Go's text/template, for the URLs of Kargo's deep links: field paths, literals, parentheses,
pipelines and the functions in FUNCTIONS (sprig's, as Kargo offers them); control actions (`if`, `range`,
`with`, ...) and other functions are an error naming what is not supported.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any


class TemplateError(ValueError):
    """A URL template that cannot be parsed or rendered."""


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
      | (?P<open>\()
      | (?P<close>\))(?P<after>(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<pipe>\|)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_CONTROL = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)
NO_VALUE = "<no value>"  # what Go prints for a key a map does not have


def render_go_template(text: str, data: Any) -> str:
    """Render `text` as Go's text/template would with `data` as dot (within the supported subset)."""
    return "".join(part if isinstance(part, str) else _text(part(data)) for part in _compile(text))


@functools.lru_cache(maxsize=256)
def _compile(text: str) -> tuple[str | Node, ...]:
    """The template as literal text and actions, parsed once per distinct text (one per link definition)."""
    parts: list[str | Node] = []
    pos = 0
    for match in _ACTION.finditer(text):
        literal = text[pos : match.start()]
        if match.group(1):
            literal = literal.rstrip()
        parts.append(literal)
        body = match.group(2).strip()
        pos = match.end()
        if match.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
        if body.startswith("/*") and body.endswith("*/"):
            continue
        parts.append(_Parser(body).pipeline_end())
    tail = text[pos:]
    if "{{" in tail:
        raise TemplateError(f"unclosed action in {text!r}")
    parts.append(tail)
    return tuple(parts)


def _text(value: Any) -> str:
    from kargo_actions.expressions.builtins import go_value_text

    if value is _Missing:
        return NO_VALUE
    return go_value_text(value)


class _MissingType:
    """A key the map does not have: printed as <no value>; reading a field of it is an error."""


_Missing = _MissingType()
Node = Callable[[Any], Any]


class _Parser:
    def __init__(self, body: str) -> None:
        self.body = body
        self.tokens: list[tuple[str, str, str]] = []
        pos = 0
        while pos < len(body):
            if not body[pos:].strip():
                break
            match = _TOKEN.match(body, pos)
            if match is None or match.end() == pos:
                raise TemplateError(f"unexpected {body[pos:].strip()[:20]!r} in {{{{ {body} }}}}")
            kind = match.lastgroup or ""
            if kind == "after":
                kind = "close"
            value = match.group(kind)
            self.tokens.append((kind, value, match.group("after") or ""))
            pos = match.end()
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, str]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def pipeline_end(self) -> Node:
        if not self.tokens:
            raise TemplateError("missing value for command")
        node = self.pipeline()
        if self.peek() is not None:
            raise TemplateError(f"unexpected {self.tokens[self.i][1]!r} in {{{{ {self.body} }}}}")
        return node

    def pipeline(self) -> Node:
        node = self.command(None)
        while self.peek() == "pipe":
            self.take()
            node = self.command(node)
        return node

    def command(self, piped: Node | None) -> Node:
        if self.peek() == "name":
            _, name, _ = self.take()
            if name in _CONTROL:
                raise TemplateError(f"{{{{ {name} }}}} is not supported in deep links here")
            if name in ("true", "false", "nil"):
                constant = {"true": True, "false": False, "nil": None}[name]
                return self._operand_only(lambda _dot: constant, piped)
            function = FUNCTIONS.get(name)
            if function is None:
                raise TemplateError(f'function "{name}" not defined (or not supported here)')
            args: list[Node] = []
            while self.peek() not in (None, "pipe", "close"):
                args.append(self.operand())
            if piped is not None:
                args.append(piped)
            return lambda dot: _call(name, function, [a(dot) for a in args])
        return self._operand_only(self.operand(), piped)

    def _operand_only(self, node: Node, piped: Node | None) -> Node:
        if piped is not None:
            raise TemplateError("can't give argument to non-function")
        if self.peek() not in (None, "pipe", "close"):
            raise TemplateError(f"unexpected {self.tokens[self.i][1]!r} after a value")
        return node

    def operand(self) -> Node:
        kind, value, _ = self.take()
        if kind == "string":
            literal = json.loads(value)
            return lambda _dot: literal
        if kind == "raw":
            raw = value[1:-1]
            return lambda _dot: raw
        if kind == "number":
            number = float(value) if "." in value else int(value)
            return lambda _dot: number
        if kind == "field":
            path = [p for p in value.split(".") if p]
            return lambda dot: _walk(dot, path)
        if kind == "open":
            inner = self.pipeline()
            if self.peek() != "close":
                raise TemplateError(f"unclosed left paren in {{{{ {self.body} }}}}")
            _, _, fields = self.take()
            path = [p for p in fields.split(".") if p]
            return lambda dot: _walk(inner(dot), path)
        raise TemplateError(f"unexpected {value!r} in {{{{ {self.body} }}}}")


def _call(name: str, function: Callable[..., Any], args: list[Any]) -> Any:
    try:
        return function(*args)
    except TemplateError:
        raise
    except (TypeError, ValueError, AttributeError, IndexError, KeyError) as err:
        raise TemplateError(f"error calling {name}: {err}") from err


def _walk(value: Any, path: list[str]) -> Any:
    for name in path:
        if value is _Missing or value is None:
            raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
        if not isinstance(value, Mapping):
            raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
        value = value.get(name, _Missing)
    return value


def _str(value: Any) -> str:
    return _text(value)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, list) and isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(value):
                raise TemplateError(f"error calling index: index out of range: {key}")
            value = value[key]
        elif isinstance(value, Mapping):
            value = value.get(key)
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(value).__name__}")
    return value


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def verb(match: re.Match[str]) -> str:
        kind = match.group(1)
        if kind == "%":
            return "%"
        value = next(values, _Missing)
        if kind in ("s", "v"):
            return _text(value)
        if kind == "d" and isinstance(value, int):
            return str(value)
        if kind == "q":
            return json.dumps(_text(value))
        raise TemplateError(f"printf verb %{kind} is not supported here")

    return re.sub(r"%([%svdq])", verb, fmt)


def _default(fallback: Any, value: Any = _Missing) -> Any:
    empty = value is _Missing or value is None or value in ("", 0, False) or value == [] or value == {}
    return fallback if empty else value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # Go's own
    "index": _index,
    "len": lambda v: len(v),
    "print": lambda *a: "".join(_text(v) for v in a),
    "printf": _printf,
    "urlquery": lambda *a: urllib.parse.quote_plus("".join(_text(v) for v in a)),
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "not": lambda v: not v,
    # sprig's, the ones URLs tend to need
    "lower": lambda s: _str(s).lower(),
    "upper": lambda s: _str(s).upper(),
    "trim": lambda s: _str(s).strip(),
    "trimPrefix": lambda p, s: _str(s).removeprefix(p),
    "trimSuffix": lambda p, s: _str(s).removesuffix(p),
    "replace": lambda old, new, s: _str(s).replace(old, new),
    "trunc": lambda n, s: _str(s)[:n] if n >= 0 else _str(s)[n:],
    "default": _default,
    "join": lambda sep, items: sep.join(_text(v) for v in items),
    "first": lambda items: items[0] if items else None,
    "last": lambda items: items[-1] if items else None,
    "b64enc": lambda s: base64.b64encode(_str(s).encode()).decode(),
    "quote": lambda *a: " ".join(json.dumps(_text(v)) for v in a),
}
