"""Benchmark (c): NewestFromBranch with includePaths on 20,000 commits, the watched path changed in 7.

Builds the repository with `git fast-import`, serves it over smart HTTP with token auth (git http-backend),
clones once (cold run), then times a new run after the clone (ls-remote + mirror check + one `git log`)
against the plain `git log --first-parent -- PATH` a user would run on the same mirror.
Exit 1 when the run after the clone takes 1 s or more, or when the two disagree.

    .venv/bin/python benchmarks/bench_git_discovery.py [--commits 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.discovery.git import GitQuery, GitWatch, discover_git  # noqa: E402
from kargo_actions.discovery.gitcache import GitMirrors  # noqa: E402
from tests.support.git_http_server import make_bare_repo, serve_git  # noqa: E402

WATCHED = "apps/watched"
TARGET_SECONDS = 1.0
TOKEN = "bench-token"


def build_stream(commits: int, changes: int) -> bytes:
    """A linear history touching one of 500 files per commit; WATCHED changes in `changes` commits."""
    step = commits // (changes + 1)
    watched_at = {step * (i + 1) for i in range(changes)}
    out: list[bytes] = []
    for n in range(1, commits + 1):
        when = 1_700_000_000 + n * 60
        path = f"{WATCHED}/config.yaml" if n in watched_at else f"src/mod{n % 50}/file{n % 500}.txt"
        content = f"revision {n}\n".encode()
        message = f"commit {n}".encode()
        out.append(
            b"commit refs/heads/main\nmark :%d\n" % n
            + b"author Bench <bench@example.com> %d +0000\n" % when
            + b"committer Bench <bench@example.com> %d +0000\n" % when
            + b"data %d\n%s\n" % (len(message), message)
            + (b"from :%d\n" % (n - 1) if n > 1 else b"")
            + f"M 100644 inline {path}\n".encode()
            + b"data %d\n%s\n" % (len(content), content)
        )
    return b"".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-git-") as tmp_dir:
        tmp = Path(tmp_dir)
        os.environ["KARGO_ACTIONS_CACHE"] = str(tmp / "cache")
        os.environ["GIT_TERMINAL_PROMPT"] = "0"
        srv = tmp / "srv"
        repo = make_bare_repo(srv, "mono.git")
        started = time.perf_counter()
        subprocess.run(
            ["git", "fast-import", "--quiet"],
            cwd=repo,
            input=build_stream(args.commits, args.changes),
            check=True,
        )
        built = time.perf_counter() - started

        with serve_git(srv, token=TOKEN) as server:
            os.environ["GITHUB_TOKEN"] = TOKEN
            os.environ["GITHUB_SERVER_URL"] = server.url
            watch = GitWatch(repo_url=server.repo_url("mono.git"), include_paths=(WATCHED,))

            started = time.perf_counter()
            (cold,) = discover_git([GitQuery(watch)], mirrors=GitMirrors())
            cold_s = time.perf_counter() - started
            assert cold.error is None, cold.error

            after_clone: list[float] = []
            for _ in range(args.repeat):
                mirrors = GitMirrors()
                started = time.perf_counter()
                (warm,) = discover_git([GitQuery(watch)], mirrors=mirrors)
                after_clone.append(time.perf_counter() - started)
                assert warm.error is None
                assert mirrors.fetches == 0
            unchanged: list[float] = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                (same,) = discover_git([GitQuery(watch, cold.state)], mirrors=GitMirrors())
                unchanged.append(time.perf_counter() - started)
                assert same.unchanged

            # a regex include has no pathspec equivalent: every commit's paths stream through one git log
            regex_watch = GitWatch(repo_url=watch.repo_url, include_paths=(f"regex:^{WATCHED}/",))
            regex_runs: list[float] = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                (by_regex,) = discover_git([GitQuery(regex_watch)], mirrors=GitMirrors())
                regex_runs.append(time.perf_counter() - started)
            regex_agree = [c.id for c in by_regex.commits] == [c.id for c in warm.commits]

            mirror = GitMirrors().path_for(watch.repo_url)
            plain: list[float] = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                out = subprocess.run(
                    ["git", "log", "--first-parent", "--format=%H", "refs/heads/main", "--", WATCHED],
                    cwd=mirror,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                plain.append(time.perf_counter() - started)
            plain_ids = out.split()

    ours = [c.id for c in warm.commits]
    agree = ours == plain_ids
    best = min(after_clone)
    print(f"repository: {args.commits} commits, {WATCHED} changed in {args.changes} (built in {built:.2f} s)")
    print(f"cold discovery (ls-remote + blobless clone + log):       {cold_s:.3f} s")
    print(
        f"discovery after the clone (ls-remote + mirror check + log): "
        f"median {statistics.median(after_clone):.3f} s, best {best:.3f} s"
    )
    print(
        f"discovery with unchanged refs (ls-remote only):           median {statistics.median(unchanged):.3f} s"
    )
    print(
        f"same with includePaths regex: (no pathspec, names of all commits): "
        f"median {statistics.median(regex_runs):.3f} s, same commits: {regex_agree}"
    )
    print(
        f"plain `git log --first-parent -- {WATCHED}` on the mirror:  median {statistics.median(plain):.3f} s"
    )
    print(f"commits found: {len(ours)}; same as plain git log: {agree}")
    ok = (
        agree
        and regex_agree
        and len(ours) == args.changes
        and statistics.median(after_clone) < TARGET_SECONDS
    )
    print(
        "PASS" if ok else f"FAIL: target < {TARGET_SECONDS} s after the clone and the same commits as git log"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
