"""Semantic versions and constraints as Kargo reads them (the rules of Go's Masterminds/semver v3)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.struct import struct

_VERSION_RE = re.compile(
    r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(?:-([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?"
    r"(?:\+([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?$"
)
_NUM = re.compile(r"^[0-9]+$")
_IDENT = re.compile(r"^[0-9A-Za-z\-]+$")


@functools.total_ordering
@struct(eq=False)
class Version:
    """A parsed version; `original` keeps the text it came from (with a `v` when it had one)."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""
    metadata: str = ""
    original: str = ""

    def compare(self, other: Version) -> int:
        """-1, 0 or 1; build metadata is ignored, a prerelease sorts before its release."""
        for mine, theirs in (
            (self.major, other.major),
            (self.minor, other.minor),
            (self.patch, other.patch),
        ):
            if mine != theirs:
                return -1 if mine < theirs else 1
        if self.prerelease == other.prerelease:
            return 0
        if not self.prerelease:
            return 1
        if not other.prerelease:
            return -1
        return _compare_prerelease(self.prerelease, other.prerelease)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.compare(other) == 0

    def __lt__(self, other: Version) -> bool:
        return self.compare(other) < 0

    def __hash__(self) -> int:
        return hash((self.major, self.minor, self.patch, self.prerelease))

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.metadata:
            text += f"+{self.metadata}"
        return text


def _compare_pre_part(mine: str, theirs: str) -> int:
    if mine == theirs:
        return 0
    if not mine:
        return -1
    if not theirs:
        return 1
    mine_num, theirs_num = _NUM.match(mine), _NUM.match(theirs)
    if mine_num and theirs_num:
        return -1 if int(mine) < int(theirs) else 1
    if mine_num:
        return -1  # numbers sort before words
    if theirs_num:
        return 1
    return -1 if mine < theirs else 1


def _compare_prerelease(mine: str, theirs: str) -> int:
    left, right = mine.split("."), theirs.split(".")
    for i in range(max(len(left), len(right))):
        result = _compare_pre_part(left[i] if i < len(left) else "", right[i] if i < len(right) else "")
        if result:
            return result
    return 0


def _valid_prerelease(text: str) -> bool:
    for part in text.split("."):
        if _NUM.match(part):
            if len(part) > 1 and part[0] == "0":
                return False
        elif not _IDENT.match(part):
            return False
    return True


def parse_version(text: str) -> Version | None:
    """Lenient parse (`v1`, `1.2`, `v1.2.3-rc.1+b`); None when the text is no version at all."""
    match = _VERSION_RE.match(text)
    if not match:
        return None
    major, minor, patch, pre, meta = match.groups()
    if pre and not _valid_prerelease(pre):
        return None
    return Version(
        major=int(major),
        minor=int(minor[1:]) if minor else 0,
        patch=int(patch[1:]) if patch else 0,
        prerelease=pre or "",
        metadata=meta or "",
        original=text,
    )


def parse_strict_version(text: str) -> Version | None:
    """Strict SemVer 2: MAJOR.MINOR.PATCH, no leading zeros, no `v`."""
    core, _, meta = text.partition("+")
    core, _, pre = core.partition("-")
    parts = core.split(".")
    if len(parts) != 3 or not all(_NUM.match(p) and (len(p) == 1 or p[0] != "0") for p in parts):
        return None
    if "+" in text and not all(_IDENT.match(p) for p in meta.split(".")):
        return None
    if "-" in text.partition("+")[0] and not _valid_prerelease(pre):
        return None
    return Version(int(parts[0]), int(parts[1]), int(parts[2]), pre, meta, text)


def parse_kargo_version(text: str, *, strict: bool) -> Version | None:
    """How Kargo reads a tag: lenient parse, and with `strict` the text less a leading `v` must be strict."""
    version = parse_version(text)
    if version is None:
        return None
    if strict and parse_strict_version(text.removeprefix("v")) is None:
        return None
    return version


_CV = (
    r"v?([0-9xX*]+)(\.[0-9xX*]+)?(\.[0-9xX*]+)?"
    r"(-[0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*)?"
    r"(\+[0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*)?"
)
_CV_PLAIN = _CV.replace("(", "(?:").replace("(?:?:", "(?:")
_OPS = r"!=|>=|=>|<=|=<|~>|=|>|<|~|\^"
_ONE = re.compile(rf"^\s*({_OPS}|)\s*({_CV})\s*$")
_FIND = re.compile(rf"(?:{_OPS}|)\s*{_CV_PLAIN}")
_VALID_GROUP = re.compile(rf"^\s*(?:{_OPS}|)\s*{_CV_PLAIN}\s*(?:(?:\s+|,\s*)(?:{_OPS}|)\s*{_CV_PLAIN}\s*)*$")
_RANGE = re.compile(rf"\s*({_CV_PLAIN})\s+-\s+({_CV_PLAIN})\s*")


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


@struct
class _Comparator:
    op: str
    version: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool


def _parse_comparator(text: str) -> _Comparator | None:
    match = _ONE.match(text)
    if not match:
        return None
    op, _, major, minor, patch, pre, _meta = match.groups()
    minor, patch, pre = (minor or "")[1:], (patch or "")[1:], pre or ""
    if not all(part.isdigit() or _is_x(part) or not part for part in (major, minor, patch)):
        return None
    dirty = minor_dirty = patch_dirty = False
    if _is_x(major):
        numbers, dirty = (0, 0, 0), True
    elif not minor or _is_x(minor):
        numbers, dirty, minor_dirty = (int(major), 0, 0), True, True
    elif not patch or _is_x(patch):
        numbers, dirty, patch_dirty = (int(major), int(minor), 0), True, True
    else:
        numbers = (int(major), int(minor), int(patch))
    if pre and not _valid_prerelease(pre[1:]):
        return None
    version = Version(*numbers, prerelease=pre[1:], original=text.strip())
    return _Comparator(op, version, dirty, minor_dirty, patch_dirty)


def _tilde(v: Version, c: _Comparator) -> bool:
    if v < c.version:
        return False
    con = c.version
    if (con.major, con.minor, con.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != con.major:
        return False
    return v.minor == con.minor or c.minor_dirty


def _caret(v: Version, c: _Comparator) -> bool:
    con = c.version
    if v < con:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if v.minor > 0:
        return False
    return v.patch == con.patch


def _greater(v: Version, c: _Comparator) -> bool:
    con = c.version
    if not c.dirty:
        return v.compare(con) > 0
    if v.major != con.major:
        return v.major > con.major
    if c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > con.minor
    return v.compare(con) > 0


def _less_equal(v: Version, c: _Comparator) -> bool:
    con = c.version
    if not c.dirty:
        return v.compare(con) <= 0
    if v.major > con.major:
        return False
    return not (v.major == con.major and v.minor > con.minor and not c.minor_dirty)


def _not_equal(v: Version, c: _Comparator) -> bool:
    con = c.version
    if c.dirty:
        if con.major != v.major:
            return True
        if c.minor_dirty:
            return False
        if con.minor != v.minor:
            return True
        if c.patch_dirty:
            return (
                _compare_prerelease(v.prerelease, con.prerelease) != 0
                if (v.prerelease or con.prerelease)
                else False
            )
    return v.compare(con) != 0


_CHECKS: dict[str, Callable[[Version, _Comparator], bool]] = {
    "": lambda v, c: _tilde(v, c) if c.dirty else v.compare(c.version) == 0,
    "=": lambda v, c: _tilde(v, c) if c.dirty else v.compare(c.version) == 0,
    "!=": _not_equal,
    ">": _greater,
    "<": lambda v, c: v.compare(c.version) < 0,
    ">=": lambda v, c: v.compare(c.version) >= 0,
    "=>": lambda v, c: v.compare(c.version) >= 0,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


@struct
class Constraint:
    """A parsed constraint such as `^1.2`, `>=1.0.0 <2.0.0 || 3.x`, `1.2 - 1.4.5`."""

    text: str
    groups: tuple[tuple[_Comparator, ...], ...]

    def check(self, version: Version) -> bool:
        """True when any `||` group accepts the version (a prerelease only when its group names one)."""
        if not self.groups:
            return True  # no constraint: every version, prereleases too
        for group in self.groups:
            wants_pre = any(c.version.prerelease for c in group)
            if version.prerelease and not wants_pre:
                continue
            if all(_CHECKS[c.op](version, c) for c in group):
                return True
        return False


def parse_constraint(text: str) -> Constraint | None:
    """The constraint, or None when the text is not one; an empty text accepts every version."""
    if not text.strip():
        return Constraint(text, ())
    rewritten = _RANGE.sub(lambda m: f">= {m.group(1)}, <= {m.group(2)} ", text)
    groups: list[tuple[_Comparator, ...]] = []
    for part in rewritten.split("||"):
        if not _VALID_GROUP.match(part):
            return None
        comparators = []
        for piece in _FIND.findall(part):
            comparator = _parse_comparator(piece)
            if comparator is None:
                return None
            comparators.append(comparator)
        groups.append(tuple(comparators))
    return Constraint(text, tuple(groups))


def require_constraint(text: str, *, where: str = "semverConstraint") -> Constraint:
    """Parse a constraint or raise InvalidInputError naming the field."""
    constraint = parse_constraint(text)
    if constraint is None:
        raise InvalidInputError(
            [
                Problem(
                    path=where,
                    message=f"{text!r} is not a semver constraint",
                    hint="e.g. ^1.2.0, ~1.2, >=1.0.0 <2.0.0, 1.x",
                )
            ]
        )
    return constraint


def newest_first(versions: Iterable[Version]) -> list[Version]:
    """Greatest version first; equal versions (1.0 and 1.0.0) ordered by their text, as Kargo does."""
    return sorted(versions, key=functools.cmp_to_key(_newest_first_cmp))


def _newest_first_cmp(a: Version, b: Version) -> int:
    result = b.compare(a)
    if result:
        return result
    return (b.original > a.original) - (b.original < a.original)


def select_versions(
    texts: Sequence[str], constraint: Constraint | None, *, strict: bool, limit: int
) -> list[Version]:
    """Parse, filter by constraint and return at most `limit` versions, newest first."""
    parsed = (parse_kargo_version(t, strict=strict) for t in texts)
    kept = [v for v in parsed if v is not None and (constraint is None or constraint.check(v))]
    return newest_first(kept)[:limit]
