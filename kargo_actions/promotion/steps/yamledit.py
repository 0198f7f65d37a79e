"""Round-trip YAML editing for steps: comments, key order, quoting and indentation survive a load and dump."""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from kargo_actions.promotion.steps.base import StepError, TerminalStepError

# Re-exported: the dotted-key syntax lives in keypath, shared with json-update and toml-update.
from kargo_actions.promotion.steps.keypath import split_key as split_key


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


def load(path: Path, shown: str) -> YamlDocument:
    """Load `path` for editing; `shown` names it in messages."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise TerminalStepError(f"path: {shown!r} does not exist") from None
    except IsADirectoryError:
        raise TerminalStepError(f"path: {shown!r} is a directory, not a YAML file") from None
    except OSError as err:
        raise StepError(f"path: cannot read {shown!r}: {err.strerror}") from err
    try:
        _, seq_indent, block_seq_indent = load_yaml_guess_indent(text)
    except YAMLError as err:
        raise TerminalStepError(f"{shown}: not valid YAML: {_yaml_problem(err)}") from None
    offset = block_seq_indent or 0
    yaml = _yaml(mapping_indent(text), max(seq_indent or 2, offset + 2), offset)
    yaml.explicit_start = bool(re.match(r"\A(?:#[^\n]*\n|\s*\n)*---", text))
    try:
        data = yaml.load(text)
    except YAMLError as err:
        raise TerminalStepError(f"{shown}: not valid YAML: {_yaml_problem(err)}") from None
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


def _take_trailing_comment(node: Any) -> Any:
    """Detach the comment that follows the last item of `node` (ruamel hangs it on the deepest last item)."""
    while True:
        if isinstance(node, CommentedMap) and node:
            key = list(node.keys())[-1]
            value = node[key]
            if isinstance(value, (CommentedMap, CommentedSeq)) and value:
                node = value
                continue
            entry = node.ca.items.get(key)
            if entry and len(entry) > 2 and entry[2] is not None and "\n" in entry[2].value.rstrip("\n"):
                token, entry[2] = entry[2], None
                return token
            return None
        if isinstance(node, CommentedSeq) and node:
            index = len(node) - 1
            value = node[index]
            if isinstance(value, (CommentedMap, CommentedSeq)) and value:
                node = value
                continue
            entry = node.ca.items.get(index)
            if entry and entry[0] is not None and "\n" in entry[0].value.rstrip("\n"):
                token, entry[0] = entry[0], None
                return token
            return None
        return None


def _put_trailing_comment(node: Any, token: Any) -> None:
    """Hang a detached trailing comment after the (new) last item of `node`."""
    if token is None or not isinstance(node, CommentedSeq):
        return
    index = len(node) - 1
    item = node[index]
    if isinstance(item, CommentedMap) and item:
        key = list(item.keys())[-1]
        item.ca.items.setdefault(key, [None, None, None, None])[2] = token
    else:
        node.ca.items.setdefault(index, [None, None, None, None])[0] = token


def set_path(data: Any, key: str, value: Any) -> Any:
    """Set `key` (dotted, with list indexes) to `value`; missing mapping keys are created. Returns the root."""
    parts = split_key(key)
    if any(part == "" for part in parts):
        raise TerminalStepError(f"key {key!r}: an empty key part (two dots in a row, or a dot at an end)")
    if data is None:
        data = CommentedMap()
    node = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not re.fullmatch(r"-1|\d+", part):
                raise TerminalStepError(f"key {key!r}: {where!r} indexes a list, so it must be a number")
            index = int(part)
            if index == -1 or index == len(node):
                # sjson's -1 (and the index just past the end) append.
                trailing = _take_trailing_comment(node)
                node.append(scalar(value) if last else CommentedMap())
                _put_trailing_comment(node, trailing)
                index = len(node) - 1
                if last:
                    return data
            elif index > len(node):
                raise TerminalStepError(
                    f"key {key!r}: index {index} is past the end of a list of {len(node)} item(s)"
                )
            if last:
                node[index] = scalar(value, node[index])
                return data
            node = node[index]
        elif isinstance(node, dict):
            lookup: Any = part
            if part not in node and re.fullmatch(r"-?\d+", part) and int(part) in node:
                lookup = int(part)  # a YAML key written as a number
            if last:
                node[lookup] = scalar(value, node.get(lookup))
                return data
            if node.get(lookup) is None:
                node[lookup] = CommentedMap()
            node = node[lookup]
        else:
            parent = ".".join(parts[:depth]) or "the document"
            raise TerminalStepError(
                f"key {key!r}: {parent!r} holds a scalar ({node!r}), so it has no key {part!r}"
            )
    return data
