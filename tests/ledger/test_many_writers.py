"""Ten writer processes in ten clones of one bare remote, as ten matrix jobs: each records a Freight of its own
Warehouse, then a Promotion with its Stage's new state (two writers per Stage, so state updates race too).
Writes that lose a race wait as pending writes and land in other writers' commits (ledger/pending.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.ledger.helpers import clone, git, make_repo

WRITER = """
import sys
from pathlib import Path
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy, WritePlan
from kargo_actions.ledger.records import (
    CurrentFreight, FreightReference, PromotionRecord, StageStateRecord, dump_record, stage_path
)
from tests.ledger.helpers import make_freight

repo, n = Path(sys.argv[1]), int(sys.argv[2])
item = make_freight(n, warehouse=f"wh-{n}")
stage, now = f"stage-{n % 5}", "2026-12-01T00:00:00Z"
promotion = PromotionRecord(
    name=f"{stage}.w{n:03d}", stage=stage, phase="Succeeded", created_at=now,
    freight=FreightReference(name=item.name, origin=item.origin),
)

def build(snap):
    state = snap.load(StageStateRecord, stage_path(stage)) or StageStateRecord(stage=stage)
    held = [*state.current_freight, CurrentFreight(name=item.name, origin=item.origin, since=now)]
    files = {
        f"promotions/{stage}/{promotion.name}.json": dump_record(promotion),
        stage_path(stage): dump_record(state.model_copy(update={"current_freight": held})),
    }
    # What it read: the Stage's state; on a tip where that is unchanged, another writer may land it.
    combine = {stage_path(stage): snap.oid(stage_path(stage))}
    return WritePlan(summary=f"promotion: {promotion.name}", files=files, result=None, combine=combine)

with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
    ledger.record_freight(item)
    ledger.write(build)
"""


@pytest.mark.slow
def test_ten_writer_processes_in_ten_clones_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    make_repo(tmp_path / "seed", remote)
    writers = 10
    clones = [clone(remote, tmp_path / f"job-{i}") for i in range(writers)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(c), str(i)], env=env, stderr=subprocess.PIPE, text=True
        )
        for i, c in enumerate(clones)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err

    def listing(path: str) -> list[str]:
        return git(remote, "ls-tree", "-r", "--name-only", "kargo/ledger", path).splitlines()

    freight = listing("freight")
    assert sorted({f.split("/")[1] for f in freight}) == sorted(f"wh-{i}" for i in range(writers))
    assert len(freight) == writers
    assert len(listing("aliases")) == writers
    promotions = listing("promotions")
    assert sorted(p.rsplit("/", 1)[1] for p in promotions) == sorted(
        f"stage-{i % 5}.w{i:03d}.json" for i in range(writers)
    )
    assert len(git(remote, "tag", "--list", "kargo/freight/*").splitlines()) == writers
    held: list[str] = []
    for stage in range(5):
        state = json.loads(git(remote, "cat-file", "-p", f"kargo/ledger:stages/stage-{stage}.json"))
        held += [c["origin"]["name"] for c in state["currentFreight"]]
    # Every state update re-applied on the newest tip: none overwrote another writer's.
    assert sorted(held) == sorted(f"wh-{i}" for i in range(writers))
    # Each write's own commit is in the history once (directly, or as a parent of the commit that landed
    # it with others): no write landed twice, and none is left pending.
    subjects = git(remote, "log", "--no-merges", "--format=%s", "kargo/ledger").splitlines()
    assert len(subjects) == len(set(subjects)) == 2 * writers
    assert git(remote, "for-each-ref", "refs/kargo/pending/") == ""
    assert git(remote, "fsck", "--no-dangling") == ""
