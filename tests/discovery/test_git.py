"""Git discovery against a real smart-HTTP git server with token auth, on histories built in tmp_path."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kargo_actions.discovery.git import (
    GitQuery,
    GitWatch,
    PathSelector,
    discover_git,
    discover_git_one,
)
from kargo_actions.discovery.gitcache import (
    GitAuthenticationError,
    GitBranchNotFoundError,
    GitMirrors,
    GitNothingDiscoveredError,
    GitRepositoryNotFoundError,
    GitUnreachableError,
)
from kargo_actions.errors import InvalidInputError
from tests.support.git_history import EPOCH, History, rev
from tests.support.git_http_server import GitHttpServer, git, make_bare_repo, serve_git

TOKEN = "s3cret-token-value"


@dataclass
class Env:
    server: GitHttpServer
    root: Path
    monkeypatch: pytest.MonkeyPatch

    def repo(self, name: str, history: History) -> tuple[Path, str]:
        path = make_bare_repo(self.root, name)
        history.write(path)
        return path, self.server.repo_url(name)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    root = tmp_path / "srv"
    root.mkdir()
    with serve_git(root, token=TOKEN) as server:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_SERVER_URL", server.url)
        yield Env(server, root, monkeypatch)


def linear(n: int, branch: str = "main") -> History:
    history = History()
    for i in range(n):
        history.commit(f"change {i}", {f"file{i}.txt": str(i)}, branch=branch)
    return history


def test_newest_from_branch_over_authenticated_http(env: Env) -> None:
    path, url = env.repo("app.git", linear(5))
    result = discover_git_one(GitWatch(repo_url=url))
    commits = result.commits
    assert [c.subject for c in commits] == [f"change {i}" for i in range(4, -1, -1)]
    assert commits[0].id == rev(path, "main")
    assert commits[0].author == "Test Author <author@example.com>"
    assert commits[0].committer == "Test Committer <committer@example.com>"
    assert commits[0].commit_date == datetime.fromtimestamp(EPOCH + 300, UTC)
    assert commits[0].branch == ""  # Kargo records the subscription's branch, empty for the default one
    # the token went as a header, never in a URL or into the mirror's config
    assert any(h.startswith("Basic ") for h in env.server.auth_headers)
    mirror = GitMirrors().path_for(url)
    assert TOKEN not in (mirror / "config").read_text()
    freight_commit = commits[0].to_freight_commit("app")
    assert freight_commit.id == commits[0].id
    assert freight_commit.message == "change 4"


def test_branch_and_discovery_limit(env: Env) -> None:
    history = linear(3)
    base = history.heads["main"]
    for i in range(30):
        history.commit(f"release {i}", {"r.txt": str(i)}, branch="release", parent=base if i == 0 else None)
    path, url = env.repo("app.git", history)
    result = discover_git_one(GitWatch(repo_url=url, branch="release", discovery_limit=7))
    assert [c.subject for c in result.commits] == [f"release {i}" for i in range(29, 22, -1)]
    assert result.commits[0].branch == "release"
    default = discover_git_one(GitWatch(repo_url=url)).commits
    assert default[0].id == rev(path, "main")


def _paths_history() -> History:
    history = History()
    history.commit("root", {"README.md": "r"})
    history.commit("app a", {"apps/a/deploy.yaml": "1"})
    history.commit("app b", {"apps/b/deploy.yaml": "1"})
    history.commit("docs", {"docs/index.md": "1"})
    history.commit("app a readme", {"apps/a/README.md": "1"})
    history.commit("deep values", {"charts/x/env/prod/values.yaml": "1"})
    history.commit("a and docs", {"apps/a/x.yaml": "2", "docs/y.md": "2"})
    history.commit("apps2", {"apps2/z.yaml": "1"})
    return history


PATH_CASES = [
    (("apps/a",), (), ["a and docs", "app a readme", "app a"]),
    (("apps/a/deploy.yaml",), (), ["app a"]),
    (("apps",), (), ["a and docs", "app a readme", "app b", "app a"]),
    (("apps",), ("glob:**/*.md",), ["a and docs", "app b", "app a"]),
    (("glob:apps/*/deploy.yaml",), (), ["app b", "app a"]),
    (("glob:**/values.yaml",), (), ["deep values"]),
    (("glob:charts/**",), (), ["deep values"]),
    (("glob:apps/{a,b}/*.yaml",), (), ["a and docs", "app b", "app a"]),
    (("regex:^docs/",), (), ["a and docs", "docs"]),
    (("regexp:\\.md$",), ("docs",), ["app a readme", "root"]),
    ((), ("apps", "docs"), ["apps2", "deep values", "root"]),
    (("docs",), ("docs",), []),
]


@pytest.mark.parametrize(("include", "exclude", "expected"), PATH_CASES)
def test_include_and_exclude_paths(
    env: Env, include: tuple[str, ...], exclude: tuple[str, ...], expected: list[str]
) -> None:
    _, url = env.repo("mono.git", _paths_history())
    (result,) = discover_git([GitQuery(GitWatch(repo_url=url, include_paths=include, exclude_paths=exclude))])
    if expected:
        assert result.error is None
        assert [c.subject for c in result.commits] == expected
    else:
        assert isinstance(result.error, GitNothingDiscoveredError)
        assert "no commit on branch main passes" in str(result.error)


def test_merge_commits_count_by_their_first_parent_diff(env: Env) -> None:
    history = History()
    root = history.commit("root", {"README.md": "r"})
    side = history.commit("side change", {"apps/a/x.yaml": "1"}, branch="feature", parent=root)
    history.commit("unrelated", {"other.txt": "1"})
    history.commit("Merge feature", {"apps/a/x.yaml": "1"}, merge=side)
    path, url = env.repo("merge.git", history)
    commits = discover_git_one(GitWatch(repo_url=url, include_paths=("apps/a",))).commits
    # first-parent history: the merge brings the change; the side commit itself is not on main's first-parent line
    assert [c.subject for c in commits] == ["Merge feature"]
    assert commits[0].id == rev(path, "main")


def test_since_stops_at_older_commits(env: Env) -> None:
    _, url = env.repo("since.git", linear(6))
    since = datetime.fromtimestamp(EPOCH + 240, UTC)
    commits = discover_git_one(GitWatch(repo_url=url, since=since)).commits
    assert [c.subject for c in commits] == ["change 5", "change 4", "change 3"]


def _tagged_history() -> History:
    history = History()
    marks = {
        name: history.commit(f"commit for {name}", {f"{name}.txt": name})
        for name in ["a", "b", "c", "d", "e", "f"]
    }
    history.tag("v1.0.0", marks["a"])
    history.tag("v1.1.0", marks["b"], "Release 1.1.0\n\nNotes here.", at=EPOCH + 10_000)
    history.tag("v2.0.0-rc.1", marks["c"])
    history.tag("v1.2", marks["d"], "non-strict", at=EPOCH + 5_000)
    history.tag("latest", marks["e"])
    history.tag("v0.9.0", marks["f"], "old name, newest tag", at=EPOCH + 20_000)
    return history


TAG_CASES = [
    (
        GitWatch(repo_url="", commit_selection_strategy="SemVer"),
        ["v2.0.0-rc.1", "v1.1.0", "v1.0.0", "v0.9.0"],
    ),
    (
        GitWatch(repo_url="", commit_selection_strategy="SemVer", semver_constraint="^1.0.0"),
        ["v1.1.0", "v1.0.0"],
    ),
    (
        GitWatch(
            repo_url="", commit_selection_strategy="SemVer", semver_constraint="^1.0.0", strict_semvers=False
        ),
        ["v1.2", "v1.1.0", "v1.0.0"],
    ),
    (GitWatch(repo_url="", commit_selection_strategy="SemVer", discovery_limit=1), ["v2.0.0-rc.1"]),
    (
        GitWatch(repo_url="", commit_selection_strategy="Lexical"),
        ["v2.0.0-rc.1", "v1.2", "v1.1.0", "v1.0.0", "v0.9.0", "latest"],
    ),
    (
        GitWatch(
            repo_url="",
            commit_selection_strategy="Lexical",
            allow_tags_regexes=("^v1",),
            ignore_tags_regexes=("^v1\\.2$", "latest"),
        ),
        ["v1.1.0", "v1.0.0"],
    ),
    (
        GitWatch(repo_url="", commit_selection_strategy="NewestTag", discovery_limit=3),
        ["v0.9.0", "v1.1.0", "v1.2"],
    ),
    (
        GitWatch(
            repo_url="",
            commit_selection_strategy="SemVer",
            include_paths=("glob:[bd].txt",),
            strict_semvers=False,
        ),
        ["v1.2", "v1.1.0"],
    ),
]


@pytest.mark.parametrize(("watch", "expected"), TAG_CASES)
def test_tag_strategies(env: Env, watch: GitWatch, expected: list[str]) -> None:
    path, url = env.repo("tags.git", _tagged_history())
    from dataclasses import replace

    commits = discover_git_one(replace(watch, repo_url=url)).commits
    assert [c.tag for c in commits] == expected
    for commit in commits:
        assert commit.id == rev(path, commit.tag)


def test_annotated_tag_metadata(env: Env) -> None:
    _, url = env.repo("tags.git", _tagged_history())
    (commit,) = discover_git_one(
        GitWatch(repo_url=url, commit_selection_strategy="SemVer", semver_constraint="=1.1.0")
    ).commits
    assert commit.tag == "v1.1.0"
    assert commit.tagger == "Test Tagger <tagger@example.com>"
    assert commit.annotation == "Release 1.1.0\n\nNotes here."
    assert commit.creator_date == datetime.fromtimestamp(EPOCH + 10_000, UTC)
    assert commit.subject == "commit for b"
    assert commit.to_freight_commit().tag == "v1.1.0"


def test_unchanged_refs_cost_one_ls_remote_and_no_fetch(env: Env) -> None:
    path, url = env.repo("app.git", linear(3))
    watch = GitWatch(repo_url=url)
    first = discover_git([GitQuery(watch)], mirrors=GitMirrors())[0]
    assert first.commits
    assert first.state
    env.server.reset_counts()
    mirrors = GitMirrors()
    (again,) = discover_git([GitQuery(watch, first.state)], mirrors=mirrors)
    assert again.unchanged
    assert not again.commits
    assert again.state == first.state
    assert mirrors.fetches == 0
    assert all("info/refs" in r or "git-upload-pack" in r for r in env.server.requests)
    assert len(env.server.requests) <= 2  # ls-remote: advertisement (+ ls-refs with protocol v2)

    # a new commit changes the state: one fetch into the existing mirror, the new commit is found
    git(path, "update-ref", "refs/heads/main", _commit_on(path, "main", "change 3"))
    env.server.reset_counts()
    mirrors = GitMirrors()
    (changed,) = discover_git([GitQuery(watch, first.state)], mirrors=mirrors)
    assert not changed.unchanged
    assert changed.state != first.state
    assert changed.commits[0].subject == "change 3"
    assert mirrors.fetches == 1


def _commit_on(repo: Path, branch: str, message: str) -> str:
    tree = git(repo, "rev-parse", f"{branch}^{{tree}}").strip()
    parent = git(repo, "rev-parse", branch).strip()
    return git(repo, "commit-tree", tree, "-p", parent, "-m", message).strip()


def test_changed_subscription_fields_change_the_state(env: Env) -> None:
    _, url = env.repo("app.git", linear(3))
    first = discover_git_one(GitWatch(repo_url=url))
    (second,) = discover_git([GitQuery(GitWatch(repo_url=url, discovery_limit=1), first.state)])
    assert not second.unchanged
    assert len(second.commits) == 1


def test_subscriptions_of_one_url_share_one_clone(env: Env) -> None:
    _, url = env.repo("tags.git", _tagged_history())
    mirrors = GitMirrors()
    results = discover_git(
        [
            GitQuery(GitWatch(repo_url=url)),
            GitQuery(GitWatch(repo_url=url + "/", commit_selection_strategy="SemVer")),
            GitQuery(GitWatch(repo_url=url, commit_selection_strategy="NewestTag", include_paths=("a.txt",))),
        ],
        mirrors=mirrors,
    )
    assert [r.error for r in results] == [None, None, None]
    assert mirrors.fetches == 1
    advertisements = [r for r in env.server.requests if r.startswith("GET") and "info/refs" in r]
    assert len(advertisements) == 2  # one ls-remote, one clone
    assert results[2].commits[0].tag == "v1.0.0"


def test_mirror_is_blobless_and_bare(env: Env) -> None:
    _, url = env.repo("app.git", linear(4))
    mirrors = GitMirrors()
    discover_git([GitQuery(GitWatch(repo_url=url, include_paths=("file1.txt",)))], mirrors=mirrors)
    mirror = mirrors.path_for(url)
    assert git(mirror, "config", "remote.origin.partialclonefilter").strip() == "blob:none"
    assert git(mirror, "rev-parse", "--is-bare-repository").strip() == "true"
    missing = git(mirror, "rev-list", "--objects", "--missing=print", "--all")
    assert sum(1 for line in missing.splitlines() if line.startswith("?")) == 4  # no blob was fetched


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_errors_name_the_subscription_and_others_still_run(env: Env) -> None:
    _, url = env.repo("app.git", linear(2))
    queries = [
        GitQuery(GitWatch(repo_url=env.server.repo_url("missing.git"))),
        GitQuery(GitWatch(repo_url=f"http://127.0.0.1:{_closed_port()}/x.git")),
        GitQuery(GitWatch(repo_url=url, branch="nope")),
        GitQuery(GitWatch(repo_url=url, commit_selection_strategy="SemVer")),
        GitQuery(GitWatch(repo_url=url, name="good")),
    ]
    results = discover_git(queries)
    assert isinstance(results[0].error, GitRepositoryNotFoundError)
    assert "missing.git is not a git repository" in str(results[0].error)
    assert isinstance(results[1].error, GitUnreachableError)
    assert "cannot reach" in str(results[1].error)
    assert isinstance(results[2].error, GitBranchNotFoundError)
    assert "branch nope does not exist" in str(results[2].error)
    assert "branches there: main" in str(results[2].error)
    assert isinstance(results[3].error, GitNothingDiscoveredError)
    assert "no tag passes" in str(results[3].error)
    assert results[4].error is None
    assert len(results[4].commits) == 2
    for result, query in zip(results[:4], queries[:4], strict=True):
        assert str(result.error).startswith(f"git subscription {query.watch.repo_url}")
        assert TOKEN not in str(result.error)


def test_dns_failure_is_unreachable() -> None:
    (result,) = discover_git([GitQuery(GitWatch(repo_url="https://no-such-host.invalid/org/repo.git"))])
    assert isinstance(result.error, GitUnreachableError)
    assert "Could not resolve host" in str(result.error)
    assert str(result.error).startswith(
        "git subscription https://no-such-host.invalid/org/repo.git: cannot reach"
    )


@pytest.mark.parametrize("token", [None, "wrong"])
def test_401_without_or_with_a_wrong_token(env: Env, token: str | None) -> None:
    _, url = env.repo("app.git", linear(1))
    if token is None:
        env.monkeypatch.delenv("GITHUB_TOKEN")
    else:
        env.monkeypatch.setenv("GITHUB_TOKEN", token)
    (result,) = discover_git([GitQuery(GitWatch(repo_url=url))])
    assert isinstance(result.error, GitAuthenticationError)
    assert "refused access" in str(result.error)
    assert "GITHUB_TOKEN" in str(result.error)


def test_token_goes_only_to_the_github_host(env: Env) -> None:
    _, url = env.repo("app.git", linear(1))
    env.monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example.com")
    (result,) = discover_git([GitQuery(GitWatch(repo_url=url))])
    assert isinstance(result.error, GitAuthenticationError)
    assert all(h == "" for h in env.server.auth_headers)


def test_git_own_config_supplies_credentials(env: Env, tmp_path: Path) -> None:
    _, url = env.repo("app.git", linear(2))
    env.monkeypatch.delenv("GITHUB_TOKEN")
    home = Path(subprocess.check_output(["sh", "-c", "echo $HOME"], text=True).strip())
    with (home / ".gitconfig").open("a") as config:
        config.write(f'[http "{env.server.url}/"]\n\textraHeader = Authorization: Bearer {TOKEN}\n')
    assert len(discover_git_one(GitWatch(repo_url=url)).commits) == 2


def test_bad_fields_are_reported_together_before_any_network() -> None:
    watch = GitWatch(
        repo_url="http://127.0.0.1:9/never",
        commit_selection_strategy="SemVer",
        semver_constraint="not a range",
        allow_tags_regexes=("(",),
        include_paths=("glob:apps/[x",),
        discovery_limit=500,
    )
    with pytest.raises(InvalidInputError) as info:
        discover_git([GitQuery(watch)])
    text = str(info.value)
    for expected in (
        "subscriptions[0].git.discoveryLimit",
        "subscriptions[0].git.includePaths[0]",
        "subscriptions[0].git.allowTagsRegexes[0]",
        "subscriptions[0].git.semverConstraint",
    ):
        assert expected in text


SELECTOR_CASES = [
    ("apps", "apps", True),
    ("apps", "apps/x/y.yaml", True),
    ("apps/", "apps/x", True),
    ("apps", "apps2/x", False),
    (".", "anything/at/all", True),
    ("glob:*.md", "README.md", True),
    ("glob:*.md", "docs/README.md", False),
    ("glob:**/*.md", "README.md", True),
    ("glob:**/*.md", "a/b/c.md", True),
    ("glob:a/**/z", "a/z", True),
    ("glob:a/**/z", "a/b/c/z", True),
    ("glob:a/**", "a", True),
    ("glob:a/**", "a/b/c", True),
    ("glob:a/**", "ab", False),
    ("glob:a/?.txt", "a/b.txt", True),
    ("glob:a/?.txt", "a/bc.txt", False),
    ("glob:a/[!x].txt", "a/y.txt", True),
    ("glob:a/[!x].txt", "a/x.txt", False),
    ("glob:{apps,charts}/**/*.yaml", "charts/x/v.yaml", True),
    ("glob:a*b", "a/b", False),
    ("regex:env/(dev|prod)/", "charts/env/prod/values.yaml", True),
    ("regexp:^env/", "charts/env/prod/values.yaml", False),
]


@pytest.mark.parametrize(("selector", "path", "expected"), SELECTOR_CASES)
def test_path_selectors(selector: str, path: str, expected: bool) -> None:
    assert PathSelector.parse(selector).matches(path) is expected


def test_watch_from_the_warehouse_model() -> None:
    from kargo_actions.model.warehouse import GitSubscription

    sub = GitSubscription.model_validate(
        {
            "repoURL": "https://github.com/org/repo.git",
            "commitSelectionStrategy": "SemVer",
            "semverConstraint": "^1.0.0",
            "allowTags": "^v",
            "ignoreTagsRegexes": ["rc"],
            "includePaths": ["apps", "glob:charts/**"],
            "since": "2024-01-31T00:00:00Z",
            "discoveryLimit": 5,
        }
    )
    watch = GitWatch.from_subscription(sub, name="src")
    assert watch.commit_selection_strategy == "SemVer"
    assert watch.allow_tags_regexes == ("^v",)
    assert watch.ignore_tags_regexes == ("rc",)
    assert watch.include_paths == ("apps", "glob:charts/**")
    assert watch.since == datetime(2024, 1, 31, tzinfo=UTC)
    assert watch.discovery_limit == 5
    assert "(name src)" in watch.subject


EXPRESSION_CASES = [
    (
        GitWatch(repo_url="", expression_filter="!(subject contains 'skip')"),
        "subject",
        ["keep 3", "keep 1", "commit for f"],
    ),
    (GitWatch(repo_url="", expression_filter="id == ''"), "subject", []),
    (
        GitWatch(
            repo_url="",
            expression_filter='commitDate > date("2023-11-15T00:00:00Z") && author contains "<author@"',
        ),
        "subject",
        ["keep 3", "skip 2", "keep 1"],
    ),
    (
        GitWatch(
            repo_url="",
            commit_selection_strategy="SemVer",
            expression_filter="annotation startsWith 'Release'",
        ),
        "tag",
        ["v1.1.0"],
    ),
    (
        GitWatch(
            repo_url="", commit_selection_strategy="Lexical", expression_filter="tag matches '^v1\\\\.[01]'"
        ),
        "tag",
        ["v1.1.0", "v1.0.0"],
    ),
    (GitWatch(repo_url="", commit_selection_strategy="NewestTag", expression_filter="'true'"), "tag", None),
]


@pytest.mark.parametrize(("watch", "attribute", "expected"), EXPRESSION_CASES)
def test_expression_filter(env: Env, watch: GitWatch, attribute: str, expected: list[str] | None) -> None:
    from dataclasses import replace

    history = _tagged_history()
    for i in range(1, 4):
        history.commit(f"{'keep' if i % 2 else 'skip'} {i}", {"k.txt": str(i)})
    _, url = env.repo("expr.git", history)
    (result,) = discover_git([GitQuery(replace(watch, repo_url=url))])
    if expected == []:
        assert isinstance(result.error, GitNothingDiscoveredError)
        return
    assert result.error is None
    found = [getattr(c, attribute) for c in result.commits]
    if expected is None:
        assert len(found) == 6  # a string "true" reads as true, as Go's strconv.ParseBool does
    else:
        assert found[: len(expected)] == expected
        if "skip" in watch.expression_filter:
            assert not any("skip" in c.subject for c in result.commits)
        if "commitDate" in watch.expression_filter:
            assert found == expected


def test_expression_filter_errors(env: Env) -> None:
    _, url = env.repo("app.git", linear(2))
    with pytest.raises(
        InvalidInputError, match=r"subscriptions\[0\]\.git\.expressionFilter: expressionFilter does not parse"
    ):
        discover_git([GitQuery(GitWatch(repo_url=url, expression_filter="subject ==="))])
    (result,) = discover_git([GitQuery(GitWatch(repo_url=url, expression_filter="subject"))])
    assert result.error is not None
    assert "expressionFilter failed" in str(result.error)
    assert "not a boolean" in str(result.error)


def test_tls_error_and_insecure_skip_tls_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.discovery.registry_server import self_signed

    cert, key, _ = self_signed(tmp_path / "tls")
    root = tmp_path / "srv"
    path = make_bare_repo(root, "app.git")
    linear(2).write(path)
    with serve_git(root, token=TOKEN, tls=(cert, key)) as server:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_SERVER_URL", server.url)
        url = server.repo_url("app.git")
        (refused,) = discover_git([GitQuery(GitWatch(repo_url=url))])
        assert isinstance(refused.error, GitUnreachableError)
        assert "certificate" in str(refused.error)
        assert "insecureSkipTLSVerify skips the check" in str(refused.error)
        (accepted,) = discover_git([GitQuery(GitWatch(repo_url=url, insecure_skip_tls_verify=True))])
        assert accepted.error is None
        assert [c.subject for c in accepted.commits] == ["change 1", "change 0"]


@pytest.fixture
def git_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every git the discovery code starts is logged (a wrapper first on PATH that runs the real git)."""
    import shutil

    real = shutil.which("git")
    assert real is not None
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    log = tmp_path / "git-calls.log"
    shim = shim_dir / "git"
    shim.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim_dir}:{os.environ['PATH']}")
    return log


def _subcommands(log: Path) -> list[str]:
    calls = log.read_text().splitlines() if log.exists() else []
    out = []
    for call in calls:
        words = call.split()
        while words and (words[0] in ("-c", "-C") or words[0].startswith(("core.", "/"))):
            words = words[1:]
        out.append(words[0] if words else "")
    return out


def test_path_filtering_is_one_git_log_and_unchanged_refs_only_ls_remote(env: Env, git_calls: Path) -> None:
    history = History()
    for i in range(300):
        mark = history.commit(f"c{i}", {"watched/x.txt" if i % 50 == 0 else f"other/{i}.txt": str(i)})
        if i % 10 == 0:
            history.tag(f"t{i:03d}", mark)
    _, url = env.repo("many.git", history)
    git_calls.unlink(missing_ok=True)
    watch = GitWatch(
        repo_url=url, include_paths=("regex:^watched/",)
    )  # no pathspec: paths of all 300 commits
    first = discover_git_one(watch)
    assert [c.subject for c in first.commits] == [f"c{i}" for i in range(250, -1, -50)]
    client = [c for c in _subcommands(git_calls) if c != "http-backend"]  # the server's own calls
    assert client.count("log") == 1
    assert client.count("ls-remote") == 1
    assert client.count("clone") == 1

    git_calls.unlink()
    (again,) = discover_git([GitQuery(watch, first.state)])
    assert again.unchanged
    assert [c for c in _subcommands(git_calls) if c != "http-backend"] == ["ls-remote"]

    git_calls.unlink()
    tags = discover_git_one(
        GitWatch(repo_url=url, commit_selection_strategy="Lexical", include_paths=("watched",))
    )
    assert [c.tag for c in tags.commits] == ["t250", "t200", "t150", "t100", "t050", "t000"]
    client = [c for c in _subcommands(git_calls) if c != "http-backend"]
    assert client.count("for-each-ref") == 2  # the mirror's refs against ls-remote, then the tags
    assert client.count("log") == 1


def test_default_branch_comes_from_the_remote_head(env: Env) -> None:
    history = linear(2, branch="trunk")
    history.commit("on main", {"m.txt": "m"}, branch="main", parent=history.heads["trunk"])
    path, url = env.repo("trunk.git", history)
    git(path, "symbolic-ref", "HEAD", "refs/heads/trunk")
    commits = discover_git_one(GitWatch(repo_url=url)).commits
    assert [c.subject for c in commits] == ["change 1", "change 0"]


def test_deleted_and_moved_tags_are_pruned_by_the_next_fetch(env: Env) -> None:
    history = History()
    a = history.commit("a", {"a": "a"})
    history.tag("v1.0.0", a)
    b = history.commit("b", {"b": "b"})
    history.tag("v2.0.0", b)
    history.tag("v3.0.0", b)
    path, url = env.repo("prune.git", history)
    watch = GitWatch(repo_url=url, commit_selection_strategy="SemVer")
    first = discover_git_one(watch)
    assert [c.tag for c in first.commits] == ["v3.0.0", "v2.0.0", "v1.0.0"]
    git(path, "tag", "-d", "v3.0.0")
    git(path, "tag", "-f", "v2.0.0", rev(path, "v1.0.0"))
    mirrors = GitMirrors()
    (second,) = discover_git([GitQuery(watch, first.state)], mirrors=mirrors)
    assert mirrors.fetches == 1
    assert [(c.tag, c.subject) for c in second.commits] == [("v2.0.0", "a"), ("v1.0.0", "a")]
