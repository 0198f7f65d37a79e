"""A monorepo's Warehouses (issue 18 item 1): one fetch and one walk for all of them, Freight only where paths
changed, and the one walk keeping exactly what each subscription's own `git log` keeps."""

from __future__ import annotations

import random
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kargo_actions.discovery.git import GitQuery, GitWatch, _select, compile_watch, discover_git
from kargo_actions.discovery.gitcache import GitMirrors, RemoteRefs
from kargo_actions.discovery.monorepo import select_branches
from kargo_actions.discovery.run import DiscoveryRun, discover_warehouses
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.records import DiscoveredArtifactsRecord, discovered_path
from kargo_actions.manifests import load_project
from tests.support.git_history import History, rev
from tests.support.git_http_server import GitHttpServer, git, make_bare_repo, serve_git

APPS = 30
COMMITS = 500


def app_path(i: int) -> str:
    return f"apps/app-{i:02d}"


@dataclass
class Mono:
    server: GitHttpServer
    served: Path
    pipeline: Path
    history: History

    @property
    def url(self) -> str:
        return self.server.repo_url("mono.git")

    def push(self, message: str, files: dict[str, str | None]) -> str:
        """One commit on main added to the served repository (what a push does); its ID."""
        self.history.chunks.clear()
        self.history.commit(message, files, parent=None)
        head = rev(self.served, "main")
        stream = self.history.stream().replace(
            f"from :{self.history.marks - 1}\n".encode(), f"from {head}\n".encode()
        )
        git(self.served, "fast-import", "--quiet", "--force", input=stream)
        return rev(self.served, "main")

    def discover(self) -> DiscoveryRun:
        project = load_project(self.pipeline / ".kargo")
        with Ledger(self.pipeline, LedgerConfig(remote=None, signing=SigningPolicy.NEVER)) as ledger:
            return discover_warehouses(project, ledger)

    def connections(self) -> int:
        """info/refs GETs: one per ls-remote, one more per clone or fetch."""
        return sum(1 for r in self.server.requests if r.startswith("GET") and r.endswith("/info/refs"))

    def recorded(self, warehouse: str) -> list[str]:
        with Ledger(self.pipeline, LedgerConfig(remote=None, signing=SigningPolicy.NEVER)) as ledger:
            record = ledger.snapshot().load(DiscoveredArtifactsRecord, discovered_path(warehouse))
        assert record is not None
        return [c.id for c in record.results[0].commits]


def warehouses_yaml(url: str) -> str:
    docs = []
    for i in range(APPS):
        docs.append(
            f"""apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app-{i:02d}
  namespace: mono
spec:
  subscriptions:
  - git:
      repoURL: {url}
      branch: main
      discoveryLimit: 5
      includePaths:
      - {app_path(i)}
"""
        )
    return "---\n".join(docs)


@pytest.fixture
def mono(tmp_path: Path) -> Iterator[Mono]:
    rng = random.Random(18)
    history = History()
    for n in range(COMMITS):
        if rng.random() < 0.8:
            path = f"{app_path(rng.randrange(APPS))}/values.yaml"
        else:
            path = f"shared/file{rng.randrange(5)}.txt"
        history.commit(f"change {n}", {path: str(n)})
    srv = tmp_path / "srv"
    served = make_bare_repo(srv, "mono.git")
    history.write(served)
    pipeline = tmp_path / "pipeline"
    pipeline.mkdir()
    subprocess.run(["git", "init", "-q", str(pipeline)], check=True)
    subprocess.run(
        ["git", "-C", str(pipeline), "commit", "-q", "--allow-empty", "-m", "pipeline"], check=True
    )
    with serve_git(srv) as server:
        (pipeline / ".kargo").mkdir()
        (pipeline / ".kargo" / "warehouses.yaml").write_text(warehouses_yaml(server.repo_url("mono.git")))
        yield Mono(server, served, pipeline, history)


def alone(url: str, i: int, cache: Path) -> list[str]:
    """What app i's subscription finds discovered on its own (a fresh mirror, its own `git log -- PATH`)."""
    watch = GitWatch(repo_url=url, branch="main", discovery_limit=5, include_paths=(app_path(i),))
    (result,) = discover_git([GitQuery(watch)], mirrors=GitMirrors(cache))
    assert result.error is None
    return [c.id for c in result.commits]


def test_thirty_warehouses_fetch_once_and_get_freight_only_where_paths_changed(
    mono: Mono, tmp_path: Path
) -> None:
    first = mono.discover()
    assert not first.failed, first.errors()
    assert len(first.created()) == APPS
    assert mono.connections() == 2  # one ls-remote, one clone for all 30

    mono.server.reset_counts()
    again = mono.discover()
    assert again.created() == []
    assert mono.connections() == 1  # nothing new: the ls-remote alone

    mono.server.reset_counts()
    pushed = mono.push("touch app 7", {f"{app_path(7)}/values.yaml": "pushed"})
    one = mono.discover()
    assert [(f.origin.name, f.commits[0].id) for f in one.created()] == [("app-07", pushed)]
    assert mono.connections() == 2  # one ls-remote, one fetch

    mono.server.reset_counts()
    mono.push("shared only", {"shared/file1.txt": "pushed"})
    mono.push("touch app 3 and 12", {f"{app_path(3)}/a.yaml": "x", f"{app_path(12)}/b.yaml": "y"})
    two = mono.discover()
    assert sorted(f.origin.name for f in two.created()) == ["app-03", "app-12"]
    assert mono.connections() == 2

    # Every Warehouse's recorded commits are what its subscription finds on its own.
    for i in range(APPS):
        assert mono.recorded(f"app-{i:02d}") == alone(mono.url, i, tmp_path / "alone"), i


def test_one_walk_stands_for_every_subscription_after_a_push(mono: Mono) -> None:
    queries = [
        GitQuery(GitWatch(repo_url=mono.url, branch="main", discovery_limit=5, include_paths=(app_path(i),)))
        for i in range(APPS)
    ]
    compiled = [compile_watch(q.watch) for q in queries]
    before = rev(mono.served, "main")
    remote = RemoteRefs(refs={"refs/heads/main": before}, peeled={}, head="refs/heads/main")
    cold = select_branches(compiled, queries, range(APPS), mono.served, remote)
    assert sorted(cold) == list(range(APPS))  # one whole-history walk for all, none left to its own walk
    assert all(r.state.endswith("@" + before) for r in cold.values())

    after = mono.push("touch app 9", {f"{app_path(9)}/values.yaml": "pushed"})
    remote = RemoteRefs(refs={"refs/heads/main": after}, peeled={}, head="refs/heads/main")
    known = [
        GitQuery(q.watch, cold[i].state, tuple(c.id for c in cold[i].commits)) for i, q in enumerate(queries)
    ]
    warm = select_branches(compiled, known, range(APPS), mono.served, remote)
    assert sorted(warm) == list(range(APPS))
    for i in range(APPS):
        expected = _select(compiled[i], mono.served, remote)
        assert [c.id for c in warm[i].commits] == [c.id for c in expected.commits], i
        assert warm[i].state == expected.state
    assert warm[9].commits[0].id == after
    assert warm[8].commits == cold[8].commits

    # A previous state of other subscription fields does not vouch for the commits given with it.
    other = GitWatch(repo_url=mono.url, branch="main", include_paths=(app_path(1),))
    changed = [GitQuery(other, known[0].previous_state, known[0].previous_commits)]
    result = select_branches([compile_watch(changed[0].watch)], changed, [0], mono.served, remote)
    assert result == {}  # alone and unvouched: left to its own walk


PATHS = [
    "apps/a/x.yaml",
    "apps/a/b/y.yaml",
    "apps/b/x.yaml",
    "apps/bb/z.md",
    "apps/a..b.yaml",
    "docs/r.md",
    "README.md",
    "charts/c/values.yaml",
]
INCLUDES = [
    "apps/a",
    "apps/b",
    "apps",
    "apps/a/x.yaml",
    ".",
    "../apps",
    "glob:apps/*/x.yaml",
    "glob:**/*.md",
    "glob:apps/{a,bb}/**",
    "regex:^charts/",
    "regexp:\\.md$",
    "docs",
]
EXCLUDES = ["glob:**/*.md", "apps/a/b", "regex:y\\.yaml$", "apps/b"]

commit_changes = st.lists(st.sampled_from(PATHS), min_size=1, max_size=3, unique=True)
step = st.tuples(
    commit_changes, st.integers(0, 9)
)  # the integer: 0 makes the commit a merge of a side branch
watch_fields = st.tuples(
    st.lists(st.sampled_from(INCLUDES), max_size=2, unique=True),
    st.lists(st.sampled_from(EXCLUDES), max_size=2, unique=True),
    st.integers(1, 6),
    st.sampled_from(["", "subject != 'c3'", "!(subject endsWith '1')"]),
)


def _build(
    history: History, steps: list[tuple[list[str], int]], start: int, parent: int | None = None
) -> None:
    for n, (paths, kind) in enumerate(steps, start):
        base = parent if n == start and parent is not None else history.heads.get("main")
        if kind == 0 and base is not None:
            side = history.commit(f"s{n}", {paths[0]: f"side {n}"}, branch=f"side{n}", parent=base)
            history.commit(f"c{n}", {p: f"merge {n}" for p in paths[1:]}, merge=side, parent=base)
        else:
            history.commit(f"c{n}", {p: str(n) for p in paths}, parent=base)


def _results(compiled: list, queries: list[GitQuery], repo: Path, head: str) -> tuple[dict, list]:
    """select_branches' results and each subscription's own, with main at `head`."""
    git(repo, "update-ref", "refs/heads/main", head)
    remote = RemoteRefs(refs={"refs/heads/main": head}, peeled={}, head="refs/heads/main")
    together = select_branches(compiled, queries, range(len(queries)), repo, remote)
    return together, [_select(c, repo, remote) for c in compiled]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    old=st.lists(step, min_size=1, max_size=25),
    new=st.lists(step, min_size=1, max_size=8),
    fields=st.lists(watch_fields, min_size=2, max_size=7),
    force=st.booleans(),
)
def test_one_walk_equals_each_subscriptions_own_walk(
    old: list[tuple[list[str], int]],
    new: list[tuple[list[str], int]],
    fields: list[tuple[list[str], list[str], int, str]],
    force: bool,
) -> None:
    watches = [
        GitWatch(
            repo_url="https://example.invalid/mono.git",
            include_paths=tuple(inc),
            exclude_paths=tuple(exc),
            discovery_limit=limit,
            expression_filter=expression,
        )
        for inc, exc, limit, expression in fields
    ]
    compiled = [compile_watch(w) for w in watches]
    history = History()
    _build(history, old, 0)
    first_mark = 1
    history.chunks.append(f"reset refs/heads/before\nfrom :{history.heads['main']}\n\n".encode())
    # A push continues the line; a force push starts again from its first commit.
    _build(history, new, len(old), parent=first_mark if force else None)
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_bare_repo(Path(tmp), "mono.git")
        history.write(repo)
        before, after = rev(repo, "before"), rev(repo, "main")

        cold, own = _results(compiled, [GitQuery(w) for w in watches], repo, before)
        for i, expected in enumerate(own):
            if i in cold:
                assert [c.id for c in cold[i].commits] == [c.id for c in expected.commits]
                assert cold[i].state == expected.state
            else:
                assert expected.error is not None  # nothing passed its filters (or its filter failed)

        known = [
            GitQuery(w, r.state, tuple(c.id for c in r.commits)) if r.error is None else GitQuery(w)
            for w, r in zip(watches, own, strict=True)
        ]
        warm, now = _results(compiled, known, repo, after)
        for i, expected in enumerate(now):
            if i in warm:
                assert [c.id for c in warm[i].commits] == [c.id for c in expected.commits]
                assert warm[i].state == expected.state
            elif not force:
                assert expected.error is not None or known[i].previous_state is None
