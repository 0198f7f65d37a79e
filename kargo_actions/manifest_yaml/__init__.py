"""One manifest file read into YAML documents, bounded against hostile input, and the line and column of a
field inside them.

libyaml reads a file first (plain.py); what it does not read exactly as ruamel's round-trip loader would, and
every file with a problem, ruamel reads (roundtrip.py), which is imported only then. Positions are always
ruamel's.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

from kargo_actions.errors import Problem
from kargo_actions.manifest_yaml.limits import MAX_ALIAS_NODES, MAX_DEPTH, MAX_FILE_BYTES, Documents, Loc
from kargo_actions.manifest_yaml.plain import PlainDocument, plain_documents

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "Documents",
    "Loc",
    "PlainDocument",
    "format_path",
    "locate",
    "position",
    "read_documents",
]

_TAB_INDENT_RE = re.compile(r"^( *)\t", re.MULTILINE)


def read_documents(path: Path, file: str, problems: list[Problem]) -> Documents:
    """Parse one file into documents with their index and start (plain mappings from libyaml, or ruamel's
    round-trip nodes); report unreadable, empty and malformed files (as `file`) into problems."""
    text = _read_text(path, file, problems)
    if text is None:
        return []
    fast = plain_documents(text)
    if fast:
        return fast
    from kargo_actions.manifest_yaml.roundtrip import read_round_trip

    return read_round_trip(text, file, problems)


def _read_text(path: Path, file: str, problems: list[Problem]) -> str | None:
    """The file's text, or None with the problem reported: not a regular file, too large, not UTF-8, empty,
    indented with tabs."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            # A pipe or device would block the read or never end.
            problems.append(Problem(file=file, message="not a regular file"))
            return None
        size = info.st_size
        if size > MAX_FILE_BYTES:
            problems.append(
                Problem(file=file, message=f"file is {size} bytes, over the 10 MB limit for a manifest file")
            )
            return None
        raw = path.read_bytes()
    except OSError as err:
        problems.append(Problem(file=file, message=f"cannot read file: {err.strerror or err}"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        problems.append(
            Problem(file=file, message=f"not UTF-8 text (byte {err.start}): is this a YAML file?")
        )
        return None
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        problems.append(Problem(file=file, message="file is empty: it holds no YAML document"))
        return None
    tab = _TAB_INDENT_RE.search(text)
    if tab is not None:
        problems.append(
            Problem(
                file=file,
                line=text.count("\n", 0, tab.start()) + 1,
                col=len(tab.group(1)) + 1,
                message="tab character in indentation: YAML indents with spaces only",
            )
        )
        return None
    return text


def locate(node: Any, loc: Loc, *, value: bool = False) -> tuple[int, int, str]:
    """Line and column (1-based) of the deepest node on loc, and loc as a field path like a.b[0].c.

    The position is the last key's (or, with value, the last value's). A key that a `<<:` merge brought in
    is located at that merge: its own position is in the anchored mapping, which other places share.
    """
    from kargo_actions.manifest_yaml.roundtrip import locate_node

    line, col = locate_node(node.round_trip() if isinstance(node, PlainDocument) else node, loc, value=value)
    return line, col, format_path(loc)


def position(node: Any) -> tuple[int, int]:
    """Line and column (1-based) where a document or round-trip node starts; 1, 1 when it carries none."""
    from kargo_actions.manifest_yaml.roundtrip import node_position

    return node_position(node.round_trip() if isinstance(node, PlainDocument) else node)


def format_path(loc: Loc) -> str:
    """loc as a field path like a.b[0].c."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
