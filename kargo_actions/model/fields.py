"""Constrained field types shared by the manifest models: names, durations, regexes, semver ranges.

Each check raises ValueError with a message that says what is wrong; pydantic places it at the field.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator

from kargo_actions.manifest_files import SUBDOMAIN

_VAR_NAME_RE = re.compile(r"^[a-zA-Z_]\w*$", re.ASCII)
# Kargo's CRDs restrict their own durations to s/m/h units (Warehouse interval, requiredSoakTime).
_KARGO_DURATION_RE = re.compile(r"^([0-9]+(\.[0-9]+)?(s|m|h))+$")
_GO_DURATION_PART_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9}
_GO_UNITS_NS.update({"m": 60 * 10**9, "h": 3600 * 10**9})
# Go keeps a duration in an int64 of nanoseconds: about 2562047h; longer ones are refused as Go refuses them.
_GO_MAX_NS = 2**63 - 1


def check_rfc1123_subdomain(name: str) -> str:
    """A Kubernetes object name: lowercase RFC 1123 subdomain, at most 253 characters."""
    if not name:
        raise ValueError("name is empty")
    if len(name) > 253:
        raise ValueError(f"name {name!r} is longer than 253 characters")
    if not SUBDOMAIN.match(name):
        raise ValueError(
            f"name {name!r} is not a valid RFC 1123 subdomain: use lowercase letters, digits, '-' and '.',"
            " starting and ending with a letter or digit"
        )
    return name


def check_var_name(name: str) -> str:
    """A promotion variable name: a letter or '_' then letters, digits or '_'."""
    if not _VAR_NAME_RE.match(name):
        raise ValueError(f"variable name {name!r} must match ^[a-zA-Z_]\\w*$")
    return name


def parse_go_duration(text: str) -> timedelta:
    """Parse Go's time.ParseDuration syntax ("1h30m", "5m0s", "300ms", "-1.5h", "0")."""
    s = text.strip()
    if s != text or not s:
        raise ValueError(f"invalid duration {text!r}: empty or surrounded by spaces")
    sign = 1
    if s[0] in "+-":
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return timedelta(0)
    total_ns = 0.0
    pos = 0
    while pos < len(s):
        m = _GO_DURATION_PART_RE.match(s, pos)
        if m is None or m.group(1) in ("", "."):
            raise ValueError(
                f"invalid duration {text!r}: expected a number and a unit (ns, us, ms, s, m, h),"
                ' like "5m0s" or "1h30m"'
            )
        total_ns += float(m.group(1)) * _GO_UNITS_NS[m.group(2)]
        pos = m.end()
    if total_ns > _GO_MAX_NS:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"invalid duration {shown!r}: longer than Go's largest duration (2562047h47m16s)")
    return timedelta(microseconds=sign * total_ns / 1000)


def check_go_duration(text: str) -> str:
    parse_go_duration(text)
    return text


def check_kargo_duration(text: str) -> str:
    """A duration as Kargo's CRDs accept it: Go syntax restricted to s, m and h units ("5m0s")."""
    if not _KARGO_DURATION_RE.match(text):
        raise ValueError(
            f'invalid duration {text!r}: use numbers with s, m or h units, like "5m0s", "1h30m" or "90s"'
        )
    parse_go_duration(text)  # its range: the value is used as a timedelta
    return text


# Constructs Python's re accepts but Go's RE2 (which Kargo compiles with) rejects.
_RE2_UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "lookaround assertions ((?=...), (?!...), (?<=...), (?<!...))"),
    (re.compile(r"(?<!\\)\\[1-9]"), "backreferences (\\1 ...)"),
    (re.compile(r"\(\?P=\w+\)"), "named backreferences ((?P=name))"),
    (re.compile(r"\(\?>"), "atomic groups ((?>...))"),
    (re.compile(r"[*+?}]\+"), "possessive quantifiers (*+, ++, ?+)"),
)


_POSIX_CLASS_RE = re.compile(r"\[\[:\^?[a-z]+:\]")


def check_regex(pattern: str) -> str:
    """A regular expression both Python's re and Go's RE2 accept; messages say which one refuses."""
    posix = _POSIX_CLASS_RE.search(pattern)
    if posix is not None:
        # RE2 reads [[:digit:]] as a class; Python reads a nested set (and warns): refuse rather than differ.
        raise ValueError(
            f"regular expression {pattern!r} uses the POSIX class {posix.group(0)}], which Python reads"
            " differently: use an explicit class such as [0-9] or [a-zA-Z]"
        )
    try:
        re.compile(pattern)
    except re.error as err:
        where = f" at position {err.pos}" if err.pos is not None else ""
        raise ValueError(f"invalid regular expression {pattern!r}: {err.msg}{where}") from err
    for probe, what in _RE2_UNSUPPORTED:
        if probe.search(pattern):
            raise ValueError(
                f"regular expression {pattern!r} uses {what}, which Kargo's Go RE2 engine rejects"
            )
    return pattern


def check_semver_constraint(text: str) -> str:
    """A constraint in the Masterminds syntax Kargo uses (^1.2, ~1.2.3, >=1.0 <2.0 || 3.x, 1.2 - 1.4)."""
    # Imported here: its version grammar (large regexes) costs every command 5 ms; only Warehouses need it.
    from kargo_actions.semver import parse_constraint

    if parse_constraint(text) is None:
        raise ValueError(f"invalid semver constraint {text!r}: use e.g. ^1.2.0, ~1.2, >=1.0.0 <2.0.0 or 1.x")
    return text


def check_path_selector(selector: str) -> str:
    """An includePaths/excludePaths entry: a plain path, `glob:PATTERN`, or `regex:`/`regexp:PATTERN`."""
    for prefix in ("regex:", "regexp:"):
        if selector.startswith(prefix):
            check_regex(selector[len(prefix) :])
            return selector
    if selector.startswith("glob:") and not selector[len("glob:") :]:
        raise ValueError("glob: selector has no pattern")
    if not selector:
        raise ValueError("path selector is empty")
    return selector


ResourceName = Annotated[str, AfterValidator(check_rfc1123_subdomain)]
VarName = Annotated[str, AfterValidator(check_var_name)]
KargoDuration = Annotated[str, AfterValidator(check_kargo_duration)]
GoDuration = Annotated[str, AfterValidator(check_go_duration)]
Regex = Annotated[str, AfterValidator(check_regex)]
SemverConstraintText = Annotated[str, AfterValidator(check_semver_constraint)]
PathSelector = Annotated[str, AfterValidator(check_path_selector)]
