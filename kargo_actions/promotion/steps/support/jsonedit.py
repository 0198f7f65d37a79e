"""In-place JSON text editing, as sjson does it: only the changed value's bytes differ, the rest is untouched.

The text is scanned along the key's path into spans (where each value starts and ends); a set replaces one
span or inserts a member after the last one, copying the layout (indent, `": "` or `":"`) of its siblings.
"""

from __future__ import annotations

import json
import re
from dataclasses import field
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.support.keypath import KeyPart, parse_key, shown
from kargo_actions.struct import struct

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_INDENT = re.compile(r"^([ \t]+)\S", re.MULTILINE)


@struct(frozen=False)
class Span:
    """One JSON value in the text: [start, end), and its members (objects) or items (arrays)."""

    start: int
    end: int
    kind: str  # "object", "array" or "scalar"
    members: list[tuple[str, int, int, Span]] = field(default_factory=list)  # name, key start, key end
    items: list[Span] = field(default_factory=list)


def scan(text: str) -> Span:
    """The top-level value of a text already known to be valid JSON (json.loads accepted it)."""
    return scan_at(text, _skip(text, 0))


def _skip(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _child(text: str, pos: int) -> Span:
    """A value's extent only; its end is found by the C decoder, so values off the key's path cost little."""
    end = _DECODER.raw_decode(text, pos)[1]
    kind = {"{": "object", "[": "array"}.get(text[pos], "scalar")
    return Span(pos, end, kind)


def scan_at(text: str, pos: int) -> Span:
    """The value that starts at `pos`, with its direct members or items (one level deep)."""
    char = text[pos]
    if char == "{":
        span = Span(pos, pos, "object")
        pos = _skip(text, pos + 1)
        while text[pos] != "}":
            key_start = pos
            name, key_end = scanstring(text, pos + 1)
            pos = _skip(text, _skip(text, key_end) + 1)  # past the colon
            value = _child(text, pos)
            span.members.append((name, key_start, key_end, value))
            pos = _skip(text, value.end)
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
        span.end = pos + 1
        return span
    if char == "[":
        span = Span(pos, pos, "array")
        pos = _skip(text, pos + 1)
        while text[pos] != "]":
            value = _child(text, pos)
            span.items.append(value)
            pos = _skip(text, value.end)
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
        span.end = pos + 1
        return span
    return _child(text, pos)


class JsonText:
    """A JSON document's text, edited value by value."""

    def __init__(self, text: str) -> None:
        self.text = text
        lines = _INDENT.findall(text)
        self.unit = min(lines, key=len) if lines else "  "
        self.pretty = "\n" in text.strip()

    def set(self, key: str, value: Any) -> None:
        """Set `key` to `value`; missing object keys (and list slots, padded with null) are created."""
        parts = parse_key(key)
        node = scan(self.text)
        for depth, part in enumerate(parts):
            rest = parts[depth + 1 :]
            if node.kind == "object":
                found = [m for m in node.members if m[0] == part.name]
                if not found:
                    self._insert_member(node, part.name, _build(rest, value))
                    return
                node = scan_at(self.text, found[-1][3].start)  # the last duplicate counts, as in Go
            elif node.kind == "array":
                index = part.index()
                if index is None:
                    raise TerminalStepError(
                        f"key {key!r}: {shown(parts, depth)!r} is a list, so {part.name!r} must be an index"
                    )
                if index == -1 or index >= len(node.items):
                    padding = max(0, index - len(node.items))
                    self._insert_items(node, [None] * padding + [_build(rest, value)])
                    return
                node = scan_at(self.text, node.items[index].start)
            else:
                raise TerminalStepError(
                    f"key {key!r}: {shown(parts, depth)!r} holds a scalar "
                    f"({self.text[node.start : node.end]}), so it has no key {part.name!r}"
                )
        self._replace(node, value)

    def _render(self, value: Any, indent: str) -> str:
        if not self.pretty:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return json.dumps(value, ensure_ascii=False, indent=self.unit).replace("\n", "\n" + indent)

    def _replace(self, node: Span, value: Any) -> None:
        indent = self._indent_at(node.start)
        self.text = self.text[: node.start] + self._render(value, indent) + self.text[node.end :]

    def _indent_at(self, pos: int) -> str:
        line_start = self.text.rfind("\n", 0, pos) + 1
        line = self.text[line_start:pos]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def _insert_member(self, node: Span, name: str, value: Any) -> None:
        key = json.dumps(name, ensure_ascii=False)
        if node.members:
            first_name_start, first_key_end, first_value = (
                node.members[0][1],
                node.members[0][2],
                node.members[0][3],
            )
            lead = self.text[node.start + 1 : first_name_start]
            if len(node.members) > 1:
                separator = self.text[first_value.end : node.members[1][1]]
            else:
                separator = self._separator(lead)
            colon = self.text[first_key_end : first_value.start]
            indent = self._indent_at(first_name_start)
            insertion = separator + key + colon + self._render(value, indent)
            at = node.members[-1][3].end
            self.text = self.text[:at] + insertion + self.text[at:]
            return
        self._fill_empty(node, key + (": " if self.pretty else ":"), value)

    def _insert_items(self, node: Span, values: list[Any]) -> None:
        if node.items:
            if len(node.items) > 1:
                separator = self.text[node.items[0].end : node.items[1].start]
            else:
                separator = self._separator(self.text[node.start + 1 : node.items[0].start])
            indent = self._indent_at(node.items[0].start)
            insertion = "".join(separator + self._render(v, indent) for v in values)
            at = node.items[-1].end
            self.text = self.text[:at] + insertion + self.text[at:]
            return
        first, *others = values
        self._fill_empty(node, "", first)
        if others:
            self._insert_items(scan_at(self.text, node.start), others)

    def _separator(self, lead: str) -> str:
        """What goes between two members when only one exists: its leading layout, or `, ` inline."""
        if "\n" in lead or not self.pretty:
            return "," + lead
        return ", "

    def _fill_empty(self, node: Span, prefix: str, value: Any) -> None:
        """`{}` or `[]` given its first member: on its own indented line in a pretty-printed file."""
        opening, closing = self.text[node.start], self.text[node.end - 1]
        if self.pretty:
            outer = self._indent_at(node.start)
            inner = outer + self.unit
            body = f"{opening}\n{inner}{prefix}{self._render(value, inner)}\n{outer}{closing}"
        else:
            body = f"{opening}{prefix}{self._render(value, '')}{closing}"
        self.text = self.text[: node.start] + body + self.text[node.end :]


def _build(rest: tuple[KeyPart, ...], value: Any) -> Any:
    """The value to insert where the rest of a key does not exist yet: numeric parts make lists, as sjson."""
    for part in reversed(rest):
        index = part.index()
        value = {part.name: value} if index is None else [None] * max(0, index) + [value]
    return value
