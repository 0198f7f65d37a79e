"""yaml-update's editing as Kargo's pkg/yaml SetValuesInBytes does it: each addressed scalar's line is cut at
the scalar and given the new value in Go's quoting; every other byte of the file stays. An edit Kargo would
leave broken is refused instead of written."""

from __future__ import annotations

import json
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.support.yamledit import yaml_problem

_COMPOSER = YAML(typ="safe", pure=True)
_ONE_LINE = "yaml-update edits one-line scalars: not block (|, >), flow ([ ], { }) or anchored ones"
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def kargo_split_key(key: str) -> list[str]:
    """Kargo's sjson.SplitKey: `.` separates, `\\.` and `\\:` are literal, a leading `:` marks a mapping key."""
    key = key.strip()
    if not key:
        raise TerminalStepError("key: empty key")
    parts: list[str] = []
    current = ""
    chars = iter(key)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if escaped not in (".", ":"):
                raise TerminalStepError(f"key {key!r}: invalid escape sequence (only \\. and \\: are)")
            current += escaped
        elif char == ".":
            if not current:
                raise TerminalStepError(f"key {key!r}: empty key part")
            parts.append(current)
            current = ""
        elif char == ":":
            if current:
                raise TerminalStepError(f"key {key!r}: unexpected colon (escape it as \\: inside a key part)")
        else:
            current += char
    if not current:
        raise TerminalStepError(f"key {key!r}: empty key part")
    return [*parts, current]


def go_quote(text: str) -> str:
    """Go's strconv.Quote, whose escapes YAML's double-quoted style reads the same."""
    out = ['"']
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable() or char == " ":
            out.append(char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def _go_float(value: float) -> str:
    """Go's %v of a float64 (strconv 'g', shortest): 1e+06, 123456, 1e-05, 1.5, +Inf, NaN."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    digits = next(n for n in range(17) if float(f"{value:.{n}e}") == value)
    mantissa, _, exponent = f"{value:.{digits}e}".partition("e")
    exp = int(exponent)
    if exp < -4 or exp >= 6:
        return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return f"{value:.{max(digits - exp, 0)}f}"


_GO_BOOLS = frozenset({"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"})
# strconv.ParseFloat's syntax: decimal, hexadecimal with a p exponent (underscores only there), inf, nan.
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    r"|0[xX](?=[_.]*[\da-fA-F])[\da-fA-F_]*\.?[\da-fA-F_]*[pP][+-]?\d+|inf|infinity)|nan",
    re.IGNORECASE,
)


def _go_parses_as_number_or_bool(text: str) -> bool:
    """strconv.ParseFloat or strconv.ParseBool accept it (Kargo quotes such strings)."""
    return text in _GO_BOOLS or _GO_FLOAT.fullmatch(text) is not None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _reads_back_as(text: str, value: str) -> bool:
    """True when `text`, written plain after `key: `, reads back as the string `value`."""
    try:
        node = _COMPOSER.compose(text)
    except YAMLError:
        return False
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str" and node.value == value


def kargo_value(value: Any) -> str:
    """A value as Kargo writes it (QuoteIfNecessary, then %v).

    Strings Go would read as a number or boolean, or that are JSON, get Go's quotes, as in Kargo; so does
    any other string that written plain would not read back as itself (`~`, `a: b`, `x #y`), where Kargo
    writes a different value or broken YAML. Numbers, booleans, null, lists and maps are written as JSON
    (Kargo: Go's %v, so 1e+06, <nil>, map[a:1]).
    """
    if isinstance(value, str):
        if _go_parses_as_number_or_bool(value) or _is_json(value) or not _reads_back_as(value, value):
            return go_quote(value)
        return value
    if isinstance(value, float):
        return _go_float(value)
    return json.dumps(value, ensure_ascii=False)


def _shape(node: Node) -> Any:
    if isinstance(node, ScalarNode):
        return ("scalar", node.tag, node.value)
    if isinstance(node, SequenceNode):
        return ("list", [_shape(item) for item in node.value])
    if isinstance(node, MappingNode):
        return ("map", [(_shape(k), _shape(v)) for k, v in node.value])
    return None


def _first_document(text: str, shown: str) -> Node | None:
    try:
        return next(iter(_COMPOSER.compose_all(text)), None)
    except YAMLError as err:
        raise TerminalStepError(f"{shown}: not valid YAML: {yaml_problem(err)}") from None


def _kind(node: Node | None) -> str:
    if node is None:
        return "nothing (an empty document)"
    if isinstance(node, MappingNode):
        return "a mapping"
    return "a list" if isinstance(node, SequenceNode) else "a scalar"


def find_scalar(document: Node | None, key: str, parts: list[str]) -> tuple[ScalarNode, Node | None]:
    """Kargo's findScalarNode: the scalar node at the key path (and its key, in a mapping), or why none."""
    node, key_node = _find_node(document, key, parts)
    if not isinstance(node, ScalarNode):
        raise TerminalStepError(
            f"key {key!r}: key path does not address a scalar node (it holds {_kind(node)}):"
            " address one value inside it, like image.tag or containers.0.image"
        )
    return node, key_node


def _find_node(document: Node | None, key: str, parts: list[str]) -> tuple[Node, Node | None]:
    node = document
    key_node: Node | None = None
    if document is None:
        raise TerminalStepError(f"key {key!r}: key path not found: the document is empty")
    for depth, part in enumerate(parts):
        where = ".".join(parts[:depth]) or "the document"
        if isinstance(node, MappingNode):
            # Aliases are not followed, as in Kargo: an alias's node starts before its key ends.
            found = next(
                ((k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == part), None
            )
            if found is None:
                raise TerminalStepError(f"key {key!r}: key path not found: {where!r} has no key {part!r}")
            if found[1].start_mark.index < found[0].end_mark.index:
                raise TerminalStepError(f"key {key!r}: key path not found: {part!r} is an alias")
            key_node, node = found
        elif isinstance(node, SequenceNode):
            if not re.fullmatch(r"[+-]?\d+", part):
                raise TerminalStepError(
                    f"key {key!r}: key path not found: {where!r} is a list, so {part!r} must be an index"
                )
            index = int(part)
            if not 0 <= index < len(node.value):
                raise TerminalStepError(
                    f"key {key!r}: key path not found: index {index} of a list of {len(node.value)} item(s)"
                )
            floor = node.start_mark.index if index == 0 else node.value[index - 1].end_mark.index
            if node.value[index].start_mark.index < floor:
                raise TerminalStepError(f"key {key!r}: key path not found: item {index} is an alias")
            key_node, node = None, node.value[index]
        else:
            raise TerminalStepError(
                f"key {key!r}: key path not found: {where!r} holds a scalar, not {part!r}"
            )
    assert node is not None
    return node, key_node


def _value_start(text: str, node: ScalarNode, key_node: Node | None) -> tuple[int, int]:
    """Line and column where Kargo's parser (libyaml's) places a scalar.

    An empty value (`tag:`, a bare `-`) sits right after its `:` or `-` there; ruamel places it at the
    next token, possibly on a later line.
    """
    index = node.start_mark.index
    if node.value == "" and node.style is None:
        if key_node is not None:
            after = key_node.end_mark.index
            while after < len(text) and text[after] in " \t":
                after += 1
            if text[after : after + 1] == ":":
                index = after + 1
        else:
            before = index - 1
            while before >= 0 and text[before] in " \t\r\n":
                before -= 1
            if text[before : before + 1] == "-":
                index = before + 1
    if index == node.start_mark.index:
        return node.start_mark.line, node.start_mark.column
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index), index - line_start


def set_values_in_text(text: str, updates: list[tuple[str, Any]], shown: str) -> str:
    """Kargo's SetValuesInBytes: each addressed scalar's line is cut at the scalar and given the new value.

    Only those lines change (the rest of such a line, a trailing comment included, goes, as in Kargo);
    every line ends with `\\n`. The result is read back, and an edit Kargo would leave broken (a block or
    flow scalar, an anchor others refer to) is refused instead of written.
    """
    document = _first_document(text, shown)
    changes: dict[int, tuple[int, str]] = {}
    targets: dict[int, tuple[str, list[str], str]] = {}
    for key, value in updates:
        parts = kargo_split_key(key)
        node, key_node = find_scalar(document, key, parts)
        rendered = kargo_value(value)
        at_line, at_column = _value_start(text, node, key_node)
        changes[at_line] = (at_column, rendered)  # a later update of the same line wins, as in Kargo
        targets[at_line] = (key, parts, rendered)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # bufio.ScanLines: no empty token after the final newline
    out = []
    for number, line in enumerate(lines):
        line = line.removesuffix("\r")
        if number in changes:
            column, rendered = changes[number]
            kept = line[:column]
            line = kept + ("" if kept.endswith(" ") else " ") + rendered
        out.append(line + "\n")
    result = "".join(out)
    _check_edits(result, list(targets.values()), shown)
    return result


def _check_edits(result: str, targets: list[tuple[str, list[str], str]], shown: str) -> None:
    try:
        document = next(iter(_COMPOSER.compose_all(result)), None)
    except YAMLError as err:
        raise TerminalStepError(
            f"{shown}: editing the lines as Kargo does would leave invalid YAML ({yaml_problem(err)}),"
            f" so nothing was written; {_ONE_LINE}"
        ) from None
    for key, parts, rendered in targets:
        try:
            node, _ = _find_node(document, key, parts)
            same = _shape(node) == _shape(_COMPOSER.compose(rendered))
        except (TerminalStepError, YAMLError):
            same = False
        if not same:
            raise TerminalStepError(
                f"key {key!r}: editing the line as Kargo does would not give it the new value,"
                f" so nothing was written; {_ONE_LINE}"
            )
