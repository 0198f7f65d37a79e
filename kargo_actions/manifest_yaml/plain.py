"""Manifest files read by libyaml (PyYAML's C parser) into plain values, as ruamel's round-trip loader would
read them, or left to that loader.

libyaml's events are built into dicts, lists and scalars with YAML 1.2's core schema as ruamel resolves it.
Whatever this reader does not read exactly as ruamel would (anchors, aliases, tags, merge keys, directives,
duplicate keys, keys that are not strings, timestamps, deep nesting, tabs, errors) sends the whole file to
ruamel, which also words every problem. Positions are ruamel's: a document read here parses its file again
with ruamel the first time one of its positions is asked for, which happens only for a file with something
to report.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

from yaml import YAMLError as LibYAMLError
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from kargo_actions.manifest_yaml.limits import MAX_DEPTH, Documents

try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml: ruamel reads every file
    CParser = None

# YAML 1.2 implicit types as ruamel's round-trip loader resolves plain scalars (float is tried before int).
_FLOAT_RE: Final = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT_RE: Final = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$")
_TIMESTAMP_RE: Final = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}")
_BOOLS: Final = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})
# Text that libyaml and ruamel read differently: characters YAML 1.1 (libyaml) reads as line breaks and YAML
# 1.2 does not; tabs, which libyaml takes in places ruamel does not; a block scalar header followed by a
# comment with no space before it, which ruamel refuses.
_LEAVE_TO_RUAMEL_RE: Final = re.compile("[\x85\u2028\u2029\t]|[|>][-+0-9]{0,2}#")


class PlainDocument(dict[str, Any]):
    """A mapping document read by libyaml: plain values, and the file it came from for positions."""

    __slots__ = ("_index", "_source")

    def __init__(self, source: _Source, index: int) -> None:
        super().__init__()
        self._source = source
        self._index = index

    def round_trip(self) -> Any:
        """The same document as ruamel's round-trip loader reads it (with positions); None if it cannot."""
        return self._source.document(self._index)


class _Source:
    """The text of a file read by libyaml; ruamel parses it once, the first time a position is asked for."""

    __slots__ = ("_documents", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._documents: list[Any] | None = None

    def document(self, index: int) -> Any:
        if self._documents is None:
            from kargo_actions.manifest_yaml.roundtrip import bounded_yaml

            try:
                self._documents = list(bounded_yaml().load_all(self._text))
            except Exception:
                self._documents = []  # (AssertionError, NotImplementedError): no positions, values stand
        return self._documents[index] if index < len(self._documents) else None


class _NotPlain(Exception):
    """The file holds something the libyaml reader leaves to ruamel."""


def plain_documents(text: str) -> Documents | None:
    """The file's mapping documents read by libyaml, or None when ruamel must read the file."""
    if CParser is None or _LEAVE_TO_RUAMEL_RE.search(text):
        return None
    parser = CParser(text)
    try:
        return _build_documents(parser.get_event, _Source(text))
    except (_NotPlain, LibYAMLError, ValueError, IndexError):
        return None
    finally:
        parser.dispose()


def _build_documents(next_event: Any, source: _Source) -> Documents:
    """Plain values from libyaml's events; raises _NotPlain for anything ruamel must read."""
    found: Documents = []
    index = -1
    root: Any = None
    # Open collections: (the collection, the key awaiting its value or _NO_KEY in a mapping, or None in a list)
    stack: list[tuple[Any, Any]] = []
    while True:
        event = next_event()
        kind = type(event)
        if kind is ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                raise _NotPlain
            value: Any = _resolve(event.value) if event.style == "" else event.value
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or event.tag is not None or len(stack) >= MAX_DEPTH - 2:
                raise _NotPlain
            if kind is SequenceStartEvent:
                stack.append(([], None))
            elif stack:
                stack.append(({}, _NO_KEY))
            else:
                document = PlainDocument(source, index)
                stack.append((document, _NO_KEY))
                found.append((document, index, (event.start_mark.line + 1, event.start_mark.column + 1)))
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            value = stack.pop()[0]
            if type(value) is PlainDocument:
                continue
        elif kind is DocumentStartEvent:
            if event.version is not None or event.tags:
                raise _NotPlain
            index += 1
            continue
        elif kind is DocumentEndEvent:
            if root is not None:
                raise _NotPlain  # a scalar or list document: its position is ruamel's to give
            continue
        elif kind is StreamStartEvent:
            continue
        elif kind is StreamEndEvent:
            return found
        else:  # an alias
            raise _NotPlain
        if not stack:
            root = value
            continue
        collection, key = stack[-1]
        if key is None:
            collection.append(value)
        elif key is _NO_KEY:
            if type(value) is not str or value in collection:
                raise _NotPlain  # a key that is not a string (ruamel would read it as such), or a duplicate
            stack[-1] = (collection, value)
        else:
            collection[key] = value
            stack[-1] = (collection, _NO_KEY)


_NO_KEY: Final = object()


def _resolve(text: str) -> Any:
    """A plain scalar's value in YAML 1.2's core schema, as ruamel's round-trip loader constructs it."""
    first = text[:1]
    if first in "-+.0123456789" and first:
        if _FLOAT_RE.match(text):
            return _float(text)
        if _INT_RE.match(text):
            return _int(text)
        if _TIMESTAMP_RE.match(text):
            raise _NotPlain  # ruamel's datetime, not text
        return text
    if text in _NULLS:
        return None
    if first in "tTfF":
        return _BOOLS.get(text, text)
    if text in ("<<", "="):
        raise _NotPlain  # a merge key, or YAML 1.1's value key
    return text


def _int(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    digits = digits[1:] if digits[0] in "+-" else digits
    base = {"0b": 2, "0x": 16, "0o": 8}.get(digits[:2])
    return sign * (int(digits[2:], base) if base else int(digits))


def _float(text: str) -> float:
    digits = text.replace("_", "").lower()
    sign = -1 if digits[0] == "-" else 1
    digits = digits[1:] if digits[0] in "+-" else digits
    if digits == ".nan":
        return math.nan
    return sign * (math.inf if digits == ".inf" else float(digits))
