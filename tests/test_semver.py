"""Masterminds/semver v3 rules as Kargo applies them to tags and chart versions."""

from __future__ import annotations

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.semver import (
    newest_first,
    parse_constraint,
    parse_kargo_version,
    parse_version,
    select_versions,
)

CHECKS = [
    ("^1.2.3", "1.9.0", True),
    ("^1.2.3", "2.0.0", False),
    ("^1.2.3", "1.2.2", False),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0", "0.9.0", True),
    ("^0", "1.0.0", False),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1", "1.9.0", True),
    ("~> 1.2", "1.2.7", True),
    (">=1.0.0 <2.0.0", "1.5.0", True),
    (">=1.0.0, <2.0.0", "2.0.0", False),
    ("1.x", "1.4.0", True),
    ("1.x", "2.0.0", False),
    ("1.2.*", "1.2.8", True),
    ("1.2 - 1.4.5", "1.4.5", True),
    ("1.2 - 1.4.5", "1.4.6", False),
    ("1.2 - 1.4.5", "1.1.9", False),
    (">1.2", "1.2.5", False),
    (">1.2", "1.3.0", True),
    (">11", "11.1.0", False),
    (">11", "12.0.0", True),
    ("<=1.2", "1.2.9", True),
    ("<=1.2", "1.3.0", False),
    ("<2", "1.99.0", True),
    ("!=1.2.3", "1.2.3", False),
    ("!=1.2.3", "1.2.4", True),
    ("=1.2.3", "1.2.3", True),
    ("1.2.3", "1.2.3+build.7", True),
    ("^1.0.0", "1.1.0-rc.1", False),
    (">=1.1.0-0", "1.1.0-rc.1", True),
    ("*", "1.0.0", True),
    ("*", "1.0.0-alpha", False),
    ("1.0.0 || 2.x", "2.3.0", True),
    ("1.0.0 || 2.x", "3.0.0", False),
    ("", "1.0.0-alpha", True),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), CHECKS)
def test_constraint_check(constraint: str, version: str, expected: bool) -> None:
    parsed = parse_constraint(constraint)
    assert parsed is not None
    v = parse_version(version)
    assert v is not None
    assert parsed.check(v) is expected


@pytest.mark.parametrize("text", ["abc", ">>1", "1.2.x3", "^", "1.0.0 ||", ">=1.0.0-01"])
def test_bad_constraints_are_rejected(text: str) -> None:
    assert parse_constraint(text) is None


@pytest.mark.parametrize(
    ("text", "strict", "expected"),
    [
        ("v1.2.3", True, "1.2.3"),
        ("1.2.3-rc.1+b.5", True, "1.2.3-rc.1+b.5"),
        ("1.2", True, None),
        ("1.2", False, "1.2.0"),
        ("v1", False, "1.0.0"),
        ("01.2.3", True, None),
        ("01.2.3", False, "1.2.3"),
        ("1.2.3-01", False, None),
        ("release-1", False, None),
        ("V1.2.3", False, None),
    ],
)
def test_kargo_version_parsing(text: str, strict: bool, expected: str | None) -> None:
    version = parse_kargo_version(text, strict=strict)
    assert (str(version) if version else None) == expected


def test_newest_first_orders_prereleases_and_ties() -> None:
    versions = [
        parse_version(t) for t in ["1.0", "1.0.0", "2.0.0-rc.2", "2.0.0-rc.10", "2.0.0", "1.10.0", "1.9.0"]
    ]
    ordered = newest_first(v for v in versions if v is not None)
    assert [v.original for v in ordered] == [
        "2.0.0",
        "2.0.0-rc.10",
        "2.0.0-rc.2",
        "1.10.0",
        "1.9.0",
        "1.0.0",
        "1.0",
    ]


def test_select_versions_filters_and_limits() -> None:
    texts = ["v1.0.0", "v1.1.0", "v2.0.0", "v1.2.0-rc.1", "latest", "v1.1"]
    chosen = select_versions(texts, parse_constraint("^1.0.0"), strict=True, limit=2)
    assert [v.original for v in chosen] == ["v1.1.0", "v1.0.0"]


def test_require_constraint_names_the_field() -> None:
    from kargo_actions.semver import require_constraint

    with pytest.raises(InvalidInputError, match=r"spec\.semverConstraint: 'nope' is not a semver constraint"):
        require_constraint("nope", where="spec.semverConstraint")
