"""includePaths / excludePaths as Kargo's pkg/pattern matchers and baseSelector.MatchesPaths (tables at
1c764767, as data), and the SSH deprecation a git subscription reports."""

from __future__ import annotations

import pytest

from kargo_actions.discovery.git import GitDiscoveryResult, GitWatch, PathFilter, PathSelector

# A plain selector is Kargo's BaseDirMatcher: filepath.Rel(base, path) must work and hold no `..`.
BASE_DIR: list[tuple[str, str, bool]] = [
    ("configs", "configs/file.json", True),
    ("configs", "configs", True),
    ("configs", "other/configs/file.json", False),
    ("configs", "settings.yaml", False),
    ("configs", "configsx/file.json", False),
    ("", "anything/at/all", True),
    (".", "anything/at/all", True),
    ("./configs/", "configs/file.json", True),
    ("configs/../charts", "charts/values.yaml", True),  # the base is cleaned first
    ("configs", "configs/sub/../file.json", True),  # and so is the path
    # A relative path that climbs never matches.
    ("configs", "configs/../secrets/key", False),
    ("../configs", "configs/file.json", False),
    (".", "../outside", False),
    # Rel refuses to relate an absolute base to a relative path.
    ("/configs", "configs/file.json", False),
    # Kargo's check is "contains ..", which also refuses a name like `a..b.yaml`: an accident kept out.
    ("configs", "configs/a..b.yaml", True),
    # Kargo's TestBaseDirMatcher.
    ("configs", "configs/app.yaml", True),
    ("configs", "configs/dev/database.yaml", True),
    ("configs", "app/configs/settings.yaml", False),
    ("configs", "configurations/app.yaml", False),
    ("configs", "../configs/app.yaml", False),
    ("environments/prod", "environments/prod/deployment.yaml", True),
    ("environments/prod", "environments/prod/configs/database.yaml", True),
    ("environments/prod", "environments/prod", True),
    ("environments/prod", "environments/dev/deployment.yaml", False),
    ("environments/prod", "environments", False),
    ("environments/prod", "apps/environments/prod/config.yaml", False),
    ("environments/prod", "../environments/prod/config.yaml", False),
    ("config/shared", "config/shared/common.yaml", True),
    ("config/shared", "config/shared", True),
    ("config/shared", "config/shared/../private/secrets.yaml", False),
    ("config/shared", "config/other/file.yaml", False),
    ("config/shared", "app/config/shared/file.yaml", False),
    ("valid/path", "invalid:path", False),
    ("valid/path", "\x00malformed", False),
    ("valid/path", "valid/path/../../secret.txt", False),
    ("valid/path", "completely/different/path", False),
]


@pytest.mark.parametrize(("base", "path", "expected"), BASE_DIR, ids=[f"{c[0]!r} {c[1]!r}" for c in BASE_DIR])
def test_plain_selector_is_kargos_base_dir_matcher(base: str, path: str, expected: bool) -> None:
    assert PathSelector.parse(base).matches(path) is expected


def test_plain_selector_that_climbs_narrows_no_pathspec() -> None:
    selectors = tuple(PathSelector.parse(t) for t in ("apps", "../apps"))
    assert PathFilter(include=selectors).pathspecs() == []
    assert PathFilter(include=selectors[:1]).pathspecs() == [":(literal)apps"]


DIFFS = ["path1/values.yaml", "path2/_helpers.tpl"]
MANY = ["abc", "abb", "aba", "abz", "aby", "abx", "abw", "abv", "abu"]

# name, includePaths, excludePaths, changed paths, qualifies
MATCHES_PATHS: list[tuple[str, list[str], list[str], list[str], bool]] = [
    ("no includePaths", [], ["regexp:nonexistent"], DIFFS, True),
    ("matching regexp", ["regexp:values\\.ya?ml$"], ["regex:nonexistent"], DIFFS, True),
    (
        "unmatching regexp",
        ["regexp:values\\.ya?ml$"],
        ["regex:nonexistent", "regexp:.*val.*"],
        DIFFS,
        False,
    ),
    ("matching glob", ["glob:path2/*.tpl"], ["nonexistent"], DIFFS, True),
    ("unmatching glob", ["path2/*.tpl"], ["regex:nonexistent", "*/?helpers.tpl"], DIFFS, False),
    ("matching prefix", ["path1/"], ["nonexistent"], DIFFS, True),
    ("unmatching prefix", ["path3/"], ["regex:nonexistent", "*/?helpers.tpl"], DIFFS, False),
    (
        "unmatching mix1",
        ["path3", "regex:nonexistent", "glob:nonexistent"],
        ["regex:nonexistent", "*/?helpers.tpl", "glob:nonexistent"],
        DIFFS,
        False,
    ),
    (
        "unmatching mix2",
        ["path1", "regex:[_-]", "glob:nonexistent"],
        ["regex:nonexistent", "path1", "path1", "glob:*.tpl", "glob:*/*.tpl", "glob:*.tpl", "path1"],
        [*DIFFS, "path2/ingress.yaml"],
        False,
    ),
    (
        "unmatching mix3",
        ["path1/f", "regexp:path[1-3]", "glob:file*"],
        ["regex:\\d", "yaml", "glob:*.tpl", "glob:*.tpl", "nonexistent"],
        ["path1/file1", "path2/file2", "path3/file3"],
        False,
    ),
    ("no config, no paths", [], [], [], False),
    (
        "matching mix1",
        ["path1", "regex:[_-]", "glob:nonexistent", "regex:no", "glob:*/*/*/abe/*"],
        [
            "regex:nonexistent",
            "path1",
            "path1",
            "glob:*.tpl",
            "glob:*/*.tpl",
            "glob:*.tpl",
            "regexp:.*q",
        ],
        [*DIFFS, *MANY, "path3/abc/abd/abe/deployment.yaml", "path4.txt"],
        True,
    ),
    (
        "matching mix3, no includePaths",
        [],
        ["regexp:ab[cbazxwvu]", "helpers.tpl", "glob:path*/*"],
        [*DIFFS, *MANY],
        True,
    ),
    # Ours: the only change climbs out of the included directory.
    ("climbing path", ["charts"], [], ["charts/../secrets/key"], False),
]


@pytest.mark.parametrize(
    ("include", "exclude", "paths", "expected"),
    [c[1:] for c in MATCHES_PATHS],
    ids=[c[0] for c in MATCHES_PATHS],
)
def test_path_filter_is_kargos_matches_paths(
    include: list[str], exclude: list[str], paths: list[str], expected: bool
) -> None:
    path_filter = PathFilter(
        include=tuple(PathSelector.parse(t) for t in include),
        exclude=tuple(PathSelector.parse(t) for t in exclude),
    )
    assert path_filter.qualifies(paths) is expected


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("ssh://git@github.com/org/config.git", True),
        ("git@github.com:org/config.git", True),
        ("https://github.com/org/config.git", False),
    ],
)
def test_ssh_subscriptions_report_kargos_deprecation(url: str, warned: bool) -> None:
    warnings = GitDiscoveryResult(GitWatch(repo_url=url), state="").warnings
    assert bool(warnings) is warned
    if warned:
        [warning] = warnings
        assert warning.startswith(
            f"repoURL {url}: SSH URLs (ssh:// and scp-style git@host:path) are deprecated"
        )
        assert warning.endswith("removed in v1.13.0; use an https:// URL")
