"""One chart's versions read out of a classic repository's index.yaml without loading the index: the file is
mapped and only the chart's block is parsed (index.json and flow-style files are read whole)."""

from __future__ import annotations

import json
import mmap
import os
import re
from pathlib import Path


def _unquote(value: bytes) -> str:
    text = value.decode(errors="replace").strip()
    if text[:1] in ("'", '"'):
        quote = text[0]
        end = text.rfind(quote)
        inner = text[1:end] if end > 0 else text[1:]
        return inner.replace("''", "'") if quote == "'" else inner.replace('\\"', '"')
    return text.split(" #", 1)[0].strip()


def _yaml_block_versions(block: bytes, indent: int) -> list[str]:
    """Fallback for unusual layouts: parse only the chart's block with a YAML parser."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    text = "chart:\n" + block.decode(errors="replace")
    try:
        loaded = YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        raise ValueError(f"the chart's entries are not valid YAML: {err}") from err
    items = loaded.get("chart") if isinstance(loaded, dict) else None
    if not isinstance(items, list):
        raise ValueError("the chart's entry is not a list of chart versions")
    return [str(item.get("version", "")) for item in items if isinstance(item, dict)]


def chart_versions_in_index(path: Path, chart: str) -> list[str] | None:
    """The version strings of `chart` in a Helm index file, or None when the index has no such chart.

    A block-style index (what helm writes) is scanned, not parsed: one regular-expression search finds the
    chart's key at the indentation of `entries:` children and only that block is read, so memory and time
    do not grow with the other charts. A JSON index is parsed whole. Raises ValueError when malformed.
    """
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise ValueError("the index is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            first = re.search(rb"\S", data)
            if first is None:
                raise ValueError("the index is empty")
            if data[first.start() : first.start() + 1] == b"{":
                return _json_index_versions(path, chart)
            return _scan_block_index(data, chart)


def _json_index_versions(path: Path, chart: str) -> list[str] | None:
    try:
        index = json.loads(path.read_bytes())
    except ValueError as err:
        raise ValueError(f"the index is neither YAML nor JSON: {err}") from err
    entries = index.get("entries") if isinstance(index, dict) else None
    if not isinstance(entries, dict):
        raise ValueError("the index has no entries map")
    items = entries.get(chart)
    if items is None:
        return None
    return [str(i.get("version", "")) for i in items if isinstance(i, dict)]


_ENTRIES = re.compile(rb"(?m)^entries:[ \t]*(?:#.*)?\r?$")
_EMPTY_ENTRIES = re.compile(rb"(?m)^entries:[ \t]*(?:\{\}|null|~)?[ \t]*\r?$")
_CONTENT_LINE = re.compile(rb"(?m)^([ ]*)[^ \t\r\n#]")
# A leading literal newline lets the regex engine jump between lines instead of trying every byte.
_TOP_LEVEL = re.compile(rb"\n[^ \t\r\n#]")


def _find_key(data: mmap.mmap, start: int, indent: int, chart: str) -> re.Match[bytes] | None:
    """The line `<indent spaces><chart>:` (name plain or quoted) after `start`, found with fast find()."""
    name = chart.encode()
    line_end = re.compile(rb"[ \t]*(\[\])?[ \t]*(?:#.*)?\r?$", re.MULTILINE)
    best: re.Match[bytes] | None = None
    for spelled in (name, b"'" + name + b"'", b'"' + name + b'"'):
        needle = b"\n" + b" " * indent + spelled + b":"
        pos = data.find(needle, start - 1)
        while pos != -1:
            tail = line_end.match(data, pos + len(needle))
            if tail is not None:
                if best is None or tail.start() < best.start():
                    best = tail
                break
            pos = data.find(needle, pos + 1)
    return best


def _scan_block_index(data: mmap.mmap, chart: str) -> list[str] | None:
    entries = _ENTRIES.search(data)
    if entries is None:
        if _EMPTY_ENTRIES.search(data):
            return None
        raise ValueError("the index has no entries: map (is this a Helm repository index.yaml?)")
    start = entries.end()
    child = _CONTENT_LINE.search(data, start)
    if child is None or len(child.group(1)) == 0:
        return None  # `entries:` with nothing under it
    indent = len(child.group(1))
    found = _find_key(data, start, indent, chart)
    if found is None:
        return None
    if _TOP_LEVEL.search(data, start, found.start()):
        return None  # the key belongs to a later top-level section, not to entries
    if found.group(1):
        return []
    block_start = found.end() + 1
    ending = re.compile(rb"(?m)^(?! {%d}-(?:[ \t]|\r?$)| {%d,}|[ \t]*(?:#|\r?$))" % (indent, indent + 1))
    end = ending.search(data, block_start)
    block = data[block_start : end.start() if end else len(data)]
    first_item = re.search(rb"(?m)^( *)-(?:[ \t]|\r?$)", block)
    if first_item is None:
        raise ValueError(f"the entry of chart {chart!r} is not a list of chart versions")
    dash = len(first_item.group(1))
    items = len(re.findall(rb"(?m)^ {%d}-(?:[ \t]|\r?$)" % dash, block))
    versions = re.findall(rb"(?m)^(?: {%d}- | {%d})version:[ \t]*(.*?)[ \t]*\r?$" % (dash, dash + 2), block)
    if len(versions) == items:
        return [_unquote(v) for v in versions]
    return _yaml_block_versions(block, indent)  # an unusual layout: let a YAML parser read this one block
