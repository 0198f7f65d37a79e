"""The subset of Kubernetes JSONPath that Argo Rollouts' web provider uses: `{$.a.b}`, `{.items[0].v}`.

Supported inside one `{...}`: an optional `$` root, `.name`, `['name']` / `["name"]`, `[n]` (negative from the
end), `[start:end]`, `[*]` / `.*`, `..name` (recursive descent), unions `[0,2]` / `['a','b']`, and filters
`[?(@.key)]`, `[?(@.key OP literal)]` with OP one of == != < <= > >=. Text outside the braces, ranges and
functions are not supported (a clear error). `find` returns every match in document order; Argo's web
provider takes the first (webmetric.getValue).
"""

from __future__ import annotations

import json
import re
from typing import Any

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.struct import struct


class JsonPathError(InvalidInputError):
    """A jsonPath this subset cannot parse; the message names the path and the position."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__([Problem(path="jsonPath", message=f"{message} in {path!r}")])


@struct
class _Field:
    names: tuple[str, ...]  # one name, or a union


@struct
class _Index:
    indexes: tuple[int, ...]


@struct
class _Slice:
    start: int | None
    end: int | None
    step: int | None


@struct
class _Wildcard:
    pass


@struct
class _Recursive:
    pass


@struct
class _Filter:
    key: tuple[str, ...]
    op: str  # "" for existence
    literal: Any


_Segment = _Field | _Index | _Slice | _Wildcard | _Recursive | _Filter
_NAME = re.compile(r"[A-Za-z0-9_\-/]+")
_FILTER = re.compile(r"\?\(\s*@((?:\.[A-Za-z0-9_\-/]+)*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*\)$")


@struct
class JsonPath:
    """A parsed jsonPath; `find(data)` gives every match."""

    text: str
    segments: tuple[_Segment, ...]

    def find(self, data: Any) -> list[Any]:
        nodes = [data]
        for seg in self.segments:
            nodes = [out for node in nodes for out in _apply(seg, node)]
        return nodes


def parse(text: str) -> JsonPath:
    """Parse `{...}` (Kubernetes JSONPath template with one expression); JsonPathError when unsupported."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")) or stripped.count("{") != 1:
        raise JsonPathError(text, "a jsonPath must be one expression in braces, like {$.a.b}")
    body = stripped[1:-1].strip()
    if body.startswith("range") or body.startswith("end"):
        raise JsonPathError(text, "range/end are not supported")
    if body.startswith("$"):
        body = body[1:]
    return JsonPath(text, tuple(_segments(text, body)))


def _segments(text: str, body: str) -> list[_Segment]:
    out: list[_Segment] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if body.startswith("..", i):
            out.append(_Recursive())
            i += 2
            if i < len(body) and body[i] == "[":
                continue
            if body.startswith("*", i):
                out.append(_Wildcard())
                i += 1
                continue
            match = _NAME.match(body, i)
            if match is None:
                raise JsonPathError(text, f"a name must follow '..' at {i + 1}")
            out.append(_Field((match.group(),)))
            i = match.end()
        elif ch == ".":
            i += 1
            if body.startswith("*", i):
                out.append(_Wildcard())
                i += 1
                continue
            match = _NAME.match(body, i)
            if match is None:
                if i == len(body):  # `{.}` and `{$.}` mean the whole document
                    break
                raise JsonPathError(text, f"a name must follow '.' at {i}")
            out.append(_Field((match.group(),)))
            i = match.end()
        elif ch == "[":
            end = _closing(text, body, i)
            out.append(_bracket(text, body[i + 1 : end].strip()))
            i = end + 1
        elif ch.isspace():
            i += 1
        else:
            match = _NAME.match(body, i)
            if match is None or out:
                raise JsonPathError(text, f"unexpected {ch!r} at {i + 1}")
            out.append(_Field((match.group(),)))  # `{a.b}`: Kubernetes allows a leading name without a dot
            i = match.end()
    return out


def _closing(text: str, body: str, start: int) -> int:
    depth, quote = 0, ""
    for j in range(start, len(body)):
        ch = body[j]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
            if depth == 0 and ch == "]":
                return j
    raise JsonPathError(text, f"unclosed '[' at {start + 1}")


def _literal(text: str, raw: str) -> Any:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise JsonPathError(text, f"cannot read the literal {raw!r}") from None


def _bracket(text: str, inner: str) -> _Segment:
    if inner == "*":
        return _Wildcard()
    if inner.startswith("?"):
        match = _FILTER.match(inner)
        if match is None:
            raise JsonPathError(text, f"unsupported filter [{inner}] (use [?(@.key OP literal)])")
        key = tuple(k for k in match.group(1).split(".") if k)
        op = match.group(2) or ""
        return _Filter(key, op, _literal(text, match.group(3)) if op else None)
    parts = [p.strip() for p in inner.split(",")]
    if all(len(p) >= 2 and p[0] == p[-1] and p[0] in "'\"" for p in parts):
        return _Field(tuple(p[1:-1] for p in parts))
    if ":" in inner and len(parts) == 1:
        pieces = inner.split(":")
        if len(pieces) > 3:
            raise JsonPathError(text, f"bad slice [{inner}]")
        try:
            nums = [int(p) if p.strip() else None for p in pieces] + [None] * (3 - len(pieces))
        except ValueError:
            raise JsonPathError(text, f"bad slice [{inner}]") from None
        return _Slice(nums[0], nums[1], nums[2])
    try:
        return _Index(tuple(int(p) for p in parts))
    except ValueError:
        raise JsonPathError(text, f"unsupported subscript [{inner}]") from None


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _descendants(node: Any) -> list[Any]:
    out = [node]
    for child in _children(node):
        out.extend(_descendants(child))
    return out


def _get(node: Any, key: tuple[str, ...]) -> tuple[bool, Any]:
    for name in key:
        if not isinstance(node, dict) or name not in node:
            return False, None
        node = node[name]
    return True, node


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    numbers = (int, float)
    same = (isinstance(left, numbers) and isinstance(right, numbers)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if not same or isinstance(left, bool) or isinstance(right, bool):
        return False
    return bool({"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op])


def _apply(seg: _Segment, node: Any) -> list[Any]:
    if isinstance(seg, _Field):
        if isinstance(node, dict):
            return [node[name] for name in seg.names if name in node]
        return []
    if isinstance(seg, _Index):
        if not isinstance(node, list):
            return []
        return [node[i] for i in seg.indexes if -len(node) <= i < len(node)]
    if isinstance(seg, _Slice):
        return list(node[seg.start : seg.end : seg.step]) if isinstance(node, list) else []
    if isinstance(seg, _Wildcard):
        return _children(node)
    if isinstance(seg, _Recursive):
        return _descendants(node)
    items = node if isinstance(node, list) else _children(node)
    out = []
    for item in items:
        found, value = _get(item, seg.key)
        if found and (not seg.op or _compare(value, seg.op, seg.literal)):
            out.append(item)
    return out
