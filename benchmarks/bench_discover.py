"""Benchmark: a whole `discover` run (image + git + chart Warehouses) cold, warm, and warm on a fresh runner.

Real servers on 127.0.0.1 (docker-registry, git http-backend, a Helm index); requests are counted on the
server side (the registry's access log, the git and chart servers' own logs). Exit 1 when a warm run makes
any manifest or blob GET, more than one git request per repository, any ledger write, or takes 2 s or more.

    .venv/bin/python benchmarks/bench_discover.py [--warehouses 10] [--tags 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.discovery.run import DiscoveryRun, discover_warehouses  # noqa: E402
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy  # noqa: E402
from kargo_actions.manifests import load_project  # noqa: E402
from tests.support.discover_world import World, world  # noqa: E402

WARM_TARGET_SECONDS = 2.0


def ledger_commits(repo: Path) -> int:
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-list", "--count", "refs/heads/kargo/ledger"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return int(out or 0)


def timed_run(w: World) -> tuple[float, DiscoveryRun, dict[str, int]]:
    mark = w.registry.mark()
    w.git.reset_counts()
    chart_before = len(w.charts.requests)
    before = ledger_commits(w.repo)
    started = time.perf_counter()
    project = load_project(w.repo / ".kargo")
    with Ledger(w.repo, LedgerConfig(remote=None, signing=SigningPolicy.NEVER)) as ledger:
        result = discover_warehouses(project, ledger)
    seconds = time.perf_counter() - started
    counts = dict(w.registry.count(since=mark))
    counts["git info/refs"] = sum(1 for r in w.git.requests if "/info/refs" in r)
    counts["git requests"] = len(w.git.requests)
    counts["chart requests"] = len(w.charts.requests) - chart_before
    counts["ledger commits"] = ledger_commits(w.repo) - before
    return seconds, result, counts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--warehouses", type=int, default=10, help="Warehouses, all watching the same 3 repos"
    )
    parser.add_argument("--tags", type=int, default=30, help="image tags in the registry")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["KARGO_ACTIONS_CACHE"] = str(base / "cache")
        os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
        os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
        os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
        os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.com")
        with world(base / "world") as w:
            w.registry.retag("demo/app", "1.0.0", [f"1.0.{n}" for n in range(1, args.tags)])
            w.write_manifests("---\n".join(w.warehouse(f"wh-{n}") for n in range(args.warehouses)))
            subs = args.warehouses * 3
            print(
                f"{args.warehouses} Warehouses x (image, git, chart) = {subs} subscriptions, {args.tags} tags"
            )
            failed = False
            for label in ("cold", "warm", "warm, fresh runner (no git mirror cache)"):
                if label.startswith("warm, fresh"):
                    shutil.rmtree(base / "cache" / "git")
                seconds, result, counts = timed_run(w)
                created = len(result.created())
                print(f"{label:42s} {seconds:6.2f} s  created {created:2d}  {counts}")
                if result.failed:
                    print("  errors:", result.errors())
                    failed = True
                if label != "cold":
                    misses = [
                        counts.get("manifest", 0) > 0,
                        counts.get("blob", 0) > 0,
                        counts["git info/refs"] > 1,
                        counts["ledger commits"] > 0,
                        created > 0,
                        seconds >= WARM_TARGET_SECONDS,
                    ]
                    if any(misses):
                        print(
                            f"  MISSED a target of the warm run (< {WARM_TARGET_SECONDS} s, no GETs, 1 ls-remote)"
                        )
                        failed = True
            return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
