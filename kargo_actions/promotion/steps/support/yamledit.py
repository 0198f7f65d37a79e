"""YAML editing for steps: a round trip that keeps comments, order, quoting and indentation (helm-update-chart,
kustomize-set-image, yaml-merge), and Kargo's line editing for yaml-update."""

from __future__ import annotations

import io
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from kargo_actions.promotion.step_api import StepError, TerminalStepError


@dataclass
class YamlDocument:
    """A loaded YAML file and the layout to write it back with."""

    path: Path
    data: Any
    yaml: YAML

    def dump(self) -> str:
        out = io.StringIO()
        self.yaml.dump(self.data, out)
        return out.getvalue()

    def save(self) -> None:
        self.path.write_text(self.dump())


def _yaml(mapping: int, sequence: int, offset: int) -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def read(path: Path, shown: str) -> str:
    """The text of `path`, line ends as written; `shown` names it in messages."""
    try:
        return path.read_bytes().decode()
    except FileNotFoundError:
        raise TerminalStepError(f"path: {shown!r} does not exist") from None
    except IsADirectoryError:
        raise TerminalStepError(f"path: {shown!r} is a directory, not a YAML file") from None
    except UnicodeDecodeError as err:
        raise TerminalStepError(f"path: {shown!r} is not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise StepError(f"path: cannot read {shown!r}: {err.strerror}") from err


def load(path: Path, shown: str) -> YamlDocument:
    """Load `path` for editing; `shown` names it in messages."""
    text = read(path, shown).replace("\r\n", "\n").replace("\r", "\n")  # as read_text() did
    # One parse: ruamel guesses the indents from the lines, then loads with the instance given; the indents
    # only shape the dump, so they are set after the load.
    yaml = _yaml(2, 2, 0)
    try:
        data, seq_indent, block_seq_indent = load_yaml_guess_indent(text, yaml=yaml)
    except YAMLError as err:
        raise TerminalStepError(f"{shown}: not valid YAML: {_yaml_problem(err)}") from None
    offset = block_seq_indent or 0
    yaml.indent(mapping=mapping_indent(text), sequence=max(seq_indent or 2, offset + 2), offset=offset)
    yaml.explicit_start = bool(re.match(r"\A(?:#[^\n]*\n|\s*\n)*---", text))
    return YamlDocument(path, data, yaml)


_KEY_ONLY = re.compile(r"^( *)[^\s#-][^#]*:\s*(#.*)?$")


def mapping_indent(text: str) -> int:
    """How far a nested mapping is indented under its key (ruamel guesses only sequence indents)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for line, following in itertools.pairwise(lines):
        match = _KEY_ONLY.match(line)
        if not match:
            continue
        deeper = len(following) - len(following.lstrip(" "))
        if deeper > len(match[1]) and not following.lstrip().startswith("- "):
            return deeper - len(match[1])
    return 2


def compact(path: Path, data: Any) -> YamlDocument:
    """A document written the way kyaml (kustomize) writes: 2-space maps, sequences not indented."""
    return YamlDocument(path, data, _yaml(2, 2, 0))


def _yaml_problem(err: YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else str(problem)


_PLAIN_RESOLVER = YAML(typ="safe", pure=True)


def needs_quotes(value: str) -> bool:
    """True when `value` written plain would read back as something other than this string."""
    if value == "" or value != value.strip():
        return True
    try:
        return bool(_PLAIN_RESOLVER.load(value) != value)
    except YAMLError:
        return True


def scalar(value: Any, like: Any = None) -> Any:
    """`value` ready to store: strings keep the quote style of the scalar they replace (`like`)."""
    if isinstance(value, dict):
        result = CommentedMap()
        for key, item in value.items():
            result[key] = scalar(item)
        return result
    if isinstance(value, list):
        return CommentedSeq([scalar(item) for item in value])
    if isinstance(value, str):
        if isinstance(like, DoubleQuotedScalarString):
            return DoubleQuotedScalarString(value)
        if isinstance(like, SingleQuotedScalarString):
            return SingleQuotedScalarString(value)
        if needs_quotes(value):
            return DoubleQuotedScalarString(value)
    return value


# ---- yaml-update: Kargo's byte editing (pkg/yaml SetValuesInBytes) ----

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
        raise TerminalStepError(f"{shown}: not valid YAML: {_yaml_problem(err)}") from None


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
            f"{shown}: editing the lines as Kargo does would leave invalid YAML ({_yaml_problem(err)}),"
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
