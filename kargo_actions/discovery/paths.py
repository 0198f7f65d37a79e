"""includePaths / excludePaths of git subscriptions: Kargo's pkg/pattern selectors, and an index that finds
the subscriptions a changed path can concern without asking every one."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from kargo_actions.struct import struct


def _glob_to_regex(pattern: str) -> str:
    """Doublestar glob -> regex: `**` as a whole segment crosses directories, `*` and `?` do not."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                at_start = i == 0 or pattern[i - 1] == "/"
                end = i + 2
                at_end = end == n or pattern[end] == "/"
                if at_start and at_end:
                    if end == n:
                        # `a/**` matches a itself and everything below; a leading `**` matches anything.
                        if out and out[-1] == "/":
                            out.pop()
                            out.append("(?:/.*)?")
                        else:
                            out.append(".*")
                        i = end
                    else:
                        out.append("(?:[^/]*/)*")  # zero or more whole directories
                        i = end + 1
                    continue
            out.append("[^/]*")
            while i < n and pattern[i] == "*":
                i += 1
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            close = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if close == -1:
                raise ValueError(f"unclosed [ in {pattern!r}")
            body = pattern[i + 1 : close]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            body = body.replace("\\", "\\\\").replace("^", "\\^")
            out.append(f"[^/{body}]" if negate else f"[{body}]")
            i = close
        elif c == "{":
            depth, j = 0, i
            while j < n:
                if pattern[j] == "{":
                    depth += 1
                elif pattern[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j == n:
                raise ValueError(f"unclosed {{ in {pattern!r}")
            alternatives = _split_top_level(pattern[i + 1 : j])
            out.append("(?:" + "|".join(_glob_to_regex(a) for a in alternatives) + ")")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _go_clean(path: str) -> str:
    """Go's path.Clean: posixpath.normpath, except that a leading `//` is one `/`."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _go_rel(base: str, target: str) -> str | None:
    """Go's filepath.Rel(base, target) on `/` paths; None where Go returns an error."""
    base, target = _go_clean(base or "."), _go_clean(target)
    if base == target:
        return "."
    if base == ".":
        base = ""
    if base.startswith("/") != target.startswith("/"):
        return None
    base_parts, target_parts = (base.split("/") if base else []), target.split("/")
    same = 0
    while same < min(len(base_parts), len(target_parts)) and base_parts[same] == target_parts[same]:
        same += 1
    if same < len(base_parts) and base_parts[same] == "..":
        return None
    if same < len(base_parts):
        # Go answers `../...` here, which the matcher refuses anyway.
        return "/".join([".."] * (len(base_parts) - same) + target_parts[same:])
    return "/".join(target_parts[same:])


@struct
class PathSelector:
    """One includePaths/excludePaths entry: plain (path or directory), `glob:` or `regex:`/`regexp:`."""

    text: str
    kind: Literal["plain", "glob", "regex"]
    regex: re.Pattern[str] | None
    base: str = ""

    @classmethod
    def parse(cls, text: str) -> PathSelector:
        for prefix, kind in (("glob:", "glob"), ("regex:", "regex"), ("regexp:", "regex")):
            if text.startswith(prefix):
                body = text.removeprefix(prefix)
                try:
                    if kind == "glob":
                        return cls(text, "glob", re.compile(f"^(?:{_glob_to_regex(body)})$"))
                    return cls(text, "regex", re.compile(body))
                except (re.error, ValueError) as err:
                    raise ValueError(f"{text!r} is not a valid {kind}: {err}") from err
        base = _go_clean(text)
        return cls(text, "plain", None, "" if base == "." else base)

    def matches(self, path: str) -> bool:
        if self.regex is not None:
            if self.kind == "regex":
                return self.regex.search(path) is not None  # Go's MatchString: unanchored
            return self.regex.match(path) is not None
        # Kargo's BaseDirMatcher: filepath.Rel must relate them without climbing out of the base.
        rel = _go_rel(self.base, path)
        return rel is not None and ".." not in rel.split("/")

    def pathspec_prefix(self) -> str | None:
        """A directory or file that every match lies under ("" = anywhere), or None when unknown."""
        if self.kind == "plain":
            climbs = self.base.startswith("/") or self.base.split("/")[0] == ".."
            return None if climbs else self.base
        if self.kind == "glob":
            body = self.text.removeprefix("glob:")
            literal = re.split(r"[*?\[{\\]", body, maxsplit=1)[0]
            return literal.rpartition("/")[0] if literal != body else body
        return None


@struct
class PathFilter:
    """includePaths / excludePaths: a commit qualifies when any changed path is included and not excluded."""

    include: tuple[PathSelector, ...] = ()
    exclude: tuple[PathSelector, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    def qualifies(self, paths: Iterable[str]) -> bool:
        for path in paths:
            if self.include and not any(s.matches(path) for s in self.include):
                continue
            if any(s.matches(path) for s in self.exclude):
                continue
            return True
        return False

    def pathspecs(self) -> list[str]:
        """Git pathspecs that select a superset of the included paths, so git can skip the rest early."""
        if not self.include:
            return []
        prefixes = [s.pathspec_prefix() for s in self.include]
        if any(p is None or p == "" for p in prefixes):
            return []
        return [f":(literal){p}" for p in sorted({p for p in prefixes if p})]


class PathIndex:
    """Which of many filters a commit's changed paths can concern, without asking every filter.

    A filter with pathspecs (its includes all lie under fixed directories) is found through the directories of
    each changed path; the others are always candidates. Candidates still go through their own filter: the
    index only spares the filters that git's pathspecs would have skipped anyway.
    """

    def __init__(self, filters: Sequence[PathFilter]) -> None:
        self._by_prefix: dict[str, list[int]] = {}
        self.always: tuple[int, ...] = tuple(i for i, f in enumerate(filters) if not f.pathspecs())
        for i, f in enumerate(filters):
            for spec in f.pathspecs():
                self._by_prefix.setdefault(spec.removeprefix(":(literal)"), []).append(i)

    def candidates(self, paths: Iterable[str]) -> set[int]:
        """Indexes of the filters with a pathspec that one of the paths falls under (git's literal pathspec:
        the path itself or a directory above it)."""
        found: set[int] = set()
        for path in paths:
            end = len(path)
            while end > 0:
                hit = self._by_prefix.get(path[:end])
                if hit:
                    found.update(hit)
                end = path.rfind("/", 0, end)
        return found
