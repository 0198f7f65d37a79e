"""Field checks shared by the models: names, durations, regexes, semver constraints, path selectors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kargo_actions.model.fields import (
    check_go_duration,
    check_kargo_duration,
    check_path_selector,
    check_regex,
    check_rfc1123_subdomain,
    check_semver_constraint,
    check_var_name,
    parse_go_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m0s", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("300ms", timedelta(milliseconds=300)),
        ("2us", timedelta(microseconds=2)),
        ("2µs", timedelta(microseconds=2)),
        ("-1m", timedelta(minutes=-1)),
        ("+10s", timedelta(seconds=10)),
        ("0", timedelta(0)),
        (".5s", timedelta(milliseconds=500)),
    ],
)
def test_go_durations(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected
    assert check_go_duration(text) == text


@pytest.mark.parametrize("text", ["", "5", "5 m", " 5m", "5d", "m", "1h-5m", "five minutes", ".s", "1.2.3s"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)


@pytest.mark.parametrize(("text", "ok"), [("5m0s", True), ("90s", True), ("1.5h", True), ("300ms", False),
                                          ("0", False), ("-5m", False), ("1d", False)])  # fmt: skip
def test_kargo_durations_allow_s_m_h_only(text: str, ok: bool) -> None:
    if ok:
        assert check_kargo_duration(text) == text
    else:
        with pytest.raises(ValueError, match="use numbers with s, m or h units"):
            check_kargo_duration(text)


@pytest.mark.parametrize(
    ("name", "ok"),
    [("dev", True), ("prod-east", True), ("a.b.c", True), ("a1", True), ("x" * 253, True),
     ("Dev", False), ("-dev", False), ("dev-", False), ("dev_1", False), ("", False), ("x" * 254, False),
     ("a..b", False)],
)  # fmt: skip
def test_rfc1123_names(name: str, ok: bool) -> None:
    if ok:
        assert check_rfc1123_subdomain(name) == name
    else:
        with pytest.raises(ValueError, match="name"):
            check_rfc1123_subdomain(name)


@pytest.mark.parametrize(("name", "ok"), [("repoURL", True), ("_x1", True), ("1x", False), ("a-b", False)])
def test_var_names(name: str, ok: bool) -> None:
    if ok:
        assert check_var_name(name) == name
    else:
        with pytest.raises(ValueError, match="must match"):
            check_var_name(name)


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        (r"^v?[0-9]+\.[0-9]+\.[0-9]+([\+-].*)?$", None),
        ("(?P<major>[0-9]+)", None),
        ("^v(1", "missing \\), unterminated subpattern at position 2"),
        ("[z-a]", "bad character range z-a"),
        ("*x", "nothing to repeat at position 0"),
        ("^(?=v)", "lookaround"),
        ("(?<!rc)$", "lookaround"),
        (r"(a)\1", "backreferences"),
        ("(?P<n>a)(?P=n)", "named backreferences"),
        ("(?>a)", "atomic groups"),
        ("a++", "possessive"),
        ("^[[:digit:]]+$", r"POSIX class \[\[:digit:\]\]"),
        (r"v1\z", "bad escape"),
        (r"\pL+", "bad escape"),
    ],
)
def test_regexes_both_python_and_re2_accept(pattern: str, error: str | None) -> None:
    if error is None:
        assert check_regex(pattern) == pattern
    else:
        with pytest.raises(ValueError, match=error):
            check_regex(pattern)


@pytest.mark.parametrize(
    ("constraint", "ok"),
    [("^1.2.0", True), ("~1.2", True), (">=1.0.0 <2.0.0", True), ("1.x", True), ("1.2 - 1.4.5", True),
     (">=1.0, <2 || 3.x", True), ("*", True), ("v1.2.3", True),
     (">>1.0", False), ("^1.2.3.4", False), ("latest", False), ("1.0 ||", False), ("~> one", False)],
)  # fmt: skip
def test_semver_constraints(constraint: str, ok: bool) -> None:
    if ok:
        assert check_semver_constraint(constraint) == constraint
    else:
        with pytest.raises(ValueError, match="invalid semver constraint"):
            check_semver_constraint(constraint)


@pytest.mark.parametrize(
    ("selector", "ok"),
    [("apps/", True), ("glob:**/*.yaml", True), ("regex:^docs/", True), ("regexp:.*\\.md$", True),
     ("regex:((", False), ("glob:", False), ("", False)],
)  # fmt: skip
def test_path_selectors(selector: str, ok: bool) -> None:
    if ok:
        assert check_path_selector(selector) == selector
    else:
        with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
            check_path_selector(selector)
