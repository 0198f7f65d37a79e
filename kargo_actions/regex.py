"""Go's regular expressions (RE2), as Kargo matches Warehouse tag regexes: one engine for every matcher."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import re2  # type: ignore[import-untyped]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the error is raised to the caller; nothing should print to stderr


class GoRegex(Protocol):
    """A compiled RE2 pattern (what `compile_go_regex` returns)."""

    def search(self, text: str) -> Any: ...


@functools.lru_cache(maxsize=512)
def compile_go_regex(pattern: str) -> GoRegex:
    """Compile with RE2 (Go's syntax and semantics: ASCII \\d \\w \\b, linear time); ValueError says why not."""
    try:
        compiled: GoRegex = re2.compile(pattern, _OPTIONS)
    except re2.error as err:
        reason = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else str(err)
        raise ValueError(f"{pattern!r} is not a regular expression: {reason}") from None
    return compiled


def tag_allowed(tag: str, allow: Iterable[GoRegex], ignore: Iterable[GoRegex]) -> bool:
    """Kargo's rule: no ignore regex matches (ignore wins) and, when any allow regex is set, one matches.

    Like Go's MatchString, a regex matches anywhere in the tag unless anchored with ^ / $.
    """
    if any(r.search(tag) for r in ignore):
        return False
    allowed = tuple(allow)
    return not allowed or any(r.search(tag) for r in allowed)


def tag_allowed_by_patterns(tag: str, allow: Sequence[str], ignore: Sequence[str]) -> bool:
    """tag_allowed with the patterns as text (compiled once, cached)."""
    return tag_allowed(tag, map(compile_go_regex, allow), map(compile_go_regex, ignore))


__all__ = ["GoRegex", "compile_go_regex", "tag_allowed", "tag_allowed_by_patterns"]
