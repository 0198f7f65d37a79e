"""Crashes and races with real processes: kill -9 mid-write, concurrent writers on one bare remote."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy, verify_freight
from tests.conftest import REPO_ROOT
from tests.ledger.helpers import clone, git, make_repo

WRITER = """
import sys
from pathlib import Path
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from tests.ledger.helpers import make_freight
repo, first, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
    for n in range(first, first + count):
        ledger.record_freight(make_freight(n))
        print(n, flush=True)
"""


def start_writer(repo: Path, first: int, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(repo), str(first), str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def assert_consistent(repo: Path, expect_at_least: int = 0) -> set[str]:
    """The ledger reads cleanly and every record has its tag (and every tag its record)."""
    with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
        listed = ledger.list_freight()
        assert listed.problems == []
        checks = verify_freight(ledger)
    failed = [c.line(SigningPolicy.NEVER) for c in checks if c.failed(SigningPolicy.NEVER)]
    assert failed == []
    names = {f.name for f in listed.records}
    assert len(names) >= expect_at_least
    return names


@pytest.mark.slow
@pytest.mark.parametrize("with_remote", [False, True], ids=["local", "remote"])
def test_kill_9_at_random_points_never_corrupts_and_a_rerun_finishes(
    tmp_path: Path, with_remote: bool
) -> None:
    remote = tmp_path / "remote.git" if with_remote else None
    repo = make_repo(tmp_path / "repo", remote)
    rng = random.Random(4)
    total = 6
    for _ in range(6):
        writer = start_writer(repo, 0, total)
        time.sleep(rng.uniform(0.3, 1.2))  # imports take ~0.3 s, then a write every ~50 ms
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        time.sleep(0.05)  # let git children of the killed writer finish, as they do in real life
        assert_consistent(repo)
        if remote is not None:
            assert git(remote, "fsck", "--no-dangling") == ""
    rerun = start_writer(repo, 0, total)
    _out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    names = assert_consistent(repo, expect_at_least=total)
    assert len(names) == total
    if remote is not None:
        fresh = clone(remote, tmp_path / "fresh")
        assert assert_consistent(fresh) == names


@pytest.mark.slow
def test_concurrent_writer_processes_lose_nothing(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    make_repo(tmp_path / "seed", remote)
    writers, per_writer = 4, 5
    clones = [clone(remote, tmp_path / f"clone{i}") for i in range(writers)]
    # Two writers share one clone too: concurrent fetches into one remote-tracking ref must not fail.
    procs = [start_writer(c, i * 100, per_writer) for i, c in enumerate(clones)]
    procs.append(start_writer(clones[0], 1000, per_writer))
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    fresh = clone(remote, tmp_path / "fresh")
    names = assert_consistent(fresh)
    assert len(names) == (writers + 1) * per_writer
    files = git(remote, "ls-tree", "-r", "--name-only", "kargo/ledger", "freight").splitlines()
    assert len(files) == (writers + 1) * per_writer
    assert len(git(remote, "tag", "--list", "kargo/freight/*").splitlines()) == (writers + 1) * per_writer
    assert git(remote, "fsck", "--no-dangling") == ""
