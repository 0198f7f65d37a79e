"""YAML editing for steps: a round trip that keeps comments, order, quoting and indentation (helm-update-chart,
kustomize-set-image, yaml-merge). yaml-update edits lines as Kargo does instead: yamlbytes.py."""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from kargo_actions.promotion.step_api import StepError, TerminalStepError
from kargo_actions.struct import struct


@struct(frozen=False)
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
        raise TerminalStepError(f"{shown}: not valid YAML: {yaml_problem(err)}") from None
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


def yaml_problem(err: YAMLError) -> str:
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
