"""Kargo's dotted keys (`image.tag`, `containers.0.image`, `example\\.com/v`), shared by the *-update steps."""

from __future__ import annotations

import re

from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.struct import struct

_INDEX = re.compile(r"-1|\d+")


@struct
class KeyPart:
    """One part of a dotted key; `forced_key` when written `:0` (a mapping key, even if it looks numeric)."""

    name: str
    forced_key: bool = False

    def index(self) -> int | None:
        """The list index this part names (`-1` appends), or None when it is not one."""
        if self.forced_key or not _INDEX.fullmatch(self.name):
            return None
        return int(self.name)


def parse_key(key: str) -> tuple[KeyPart, ...]:
    """A dotted key split as sjson (and Kargo) read it.

    `\\.` is a literal dot, `\\:` a literal colon, `\\\\` a literal backslash; a part that starts with an
    unescaped `:` is a mapping key even when numeric (`labels.:8080`). Empty parts are refused.
    """
    parts: list[KeyPart] = []
    current: list[str] = []
    forced = False
    chars = iter(key)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt in (".", ":", "\\") else "\\" + nxt)
        elif char == ".":
            parts.append(KeyPart("".join(current), forced))
            current, forced = [], False
        elif char == ":" and not current and not forced:
            forced = True
        else:
            current.append(char)
    parts.append(KeyPart("".join(current), forced))
    if any(part.name == "" for part in parts):
        raise TerminalStepError(f"key {key!r}: an empty key part (two dots in a row, or a dot at an end)")
    return tuple(parts)


def split_key(key: str) -> list[str]:
    """The names of a dotted key's parts (see parse_key)."""
    return [part.name for part in parse_key(key)]


def shown(parts: tuple[KeyPart, ...] | list[KeyPart], depth: int) -> str:
    """The first `depth` parts as a dotted key again, for messages."""
    return ".".join(p.name.replace("\\", "\\\\").replace(".", "\\.") for p in parts[:depth]) or "the document"
