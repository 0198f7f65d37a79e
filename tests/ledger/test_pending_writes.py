"""Pending writes (ledger/pending.py): a write that lost a race waits as `refs/kargo/pending/<id>` on the
remote and the next winner lands it. Real clones of a real bare remote; a writer process is killed right
after publishing its pending write, as a matrix job cancelled mid-write would be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.continuity import LedgerRewoundError
from kargo_actions.ledger.records import CurrentFreight, StageStateRecord
from kargo_actions.model.freight import FreightOrigin
from tests.conftest import REPO_ROOT
from tests.ledger.helpers import clone, git, make_freight, make_repo

UNSIGNED = LedgerConfig(signing=SigningPolicy.NEVER)
BRANCH = "kargo/ledger"

# Records Freight 1 of Warehouse wh-a: its first push loses (as to a concurrent writer), it publishes its
# write as pending, and the process is killed at once (exit 9) before it could land it itself.
KILLED_AFTER_PUBLISHING = """
import os, sys
from pathlib import Path
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.store import Ledger as L
from tests.ledger.helpers import make_freight

real_push, real_publish, lost = L._push, L._publish_pending, []

def push(self, *args):
    if not lost:
        lost.append(1)
        return False
    return real_push(self, *args)

def publish(self, write):
    if real_publish(self, write):
        os._exit(9)
    return False

L._push, L._publish_pending = push, publish
with Ledger(Path(sys.argv[1]), LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
    ledger.record_freight(make_freight(1, warehouse="wh-a"))
"""


def seeded(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    seed = make_repo(tmp_path / "seed", remote)
    with Ledger(seed, UNSIGNED) as ledger:
        ledger.record_freight(make_freight(0, warehouse="seed"))
    return remote


def killed_after_publishing(remote: Path, where: Path) -> str:
    """Run the writer above in a new clone; the pending ref it left on the remote."""
    repo = clone(remote, where)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_PUBLISHING, str(repo)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 9, proc.stderr
    refs = git(remote, "for-each-ref", "--format=%(refname)", "refs/kargo/pending/").splitlines()
    assert len(refs) == 1
    return refs[0]


def listing(remote: Path, path: str) -> list[str]:
    return git(remote, "ls-tree", "-r", "--name-only", BRANCH, path).splitlines()


def own_commits(remote: Path) -> list[str]:
    """The subjects of the writes' own commits (landing commits merge them): each write appears once."""
    return git(remote, "log", "--no-merges", "--format=%s", BRANCH).splitlines()


def test_a_writer_killed_after_publishing_has_its_write_landed_by_the_next(tmp_path: Path) -> None:
    remote = seeded(tmp_path)
    lost = make_freight(1, warehouse="wh-a")
    killed_after_publishing(remote, tmp_path / "killed")
    # Readers see only landed records: the pending write is not on the ledger branch.
    with Ledger(clone(remote, tmp_path / "reader"), UNSIGNED) as reader:
        reader.sync()
        assert [f.name for f in reader.list_freight().records] == [make_freight(0, warehouse="seed").name]
    assert git(remote, "tag", "--list", f"kargo/freight/wh-a/{lost.name}") == ""

    with Ledger(clone(remote, tmp_path / "next"), UNSIGNED) as writer:
        result = writer.record_freight(make_freight(2, warehouse="wh-b"))
    assert result.created
    freight = listing(remote, "freight")
    assert f"freight/wh-a/{lost.name}.json" in freight
    assert len(freight) == 3
    assert len(listing(remote, "aliases")) == 3
    # The killed writer's tag landed with its record (the same tag object it made), and its ref is gone.
    tags = git(remote, "tag", "--list", "kargo/freight/*").splitlines()
    assert f"kargo/freight/wh-a/{lost.name}" in tags
    assert len(tags) == 3
    assert git(remote, "for-each-ref", "refs/kargo/pending/") == ""
    subjects = own_commits(remote)
    assert len(subjects) == len(set(subjects)) == 3
    tip = git(remote, "cat-file", "-p", BRANCH)
    assert tip.count("parent ") == 3  # the tip it built on, its own write, the killed writer's
    assert git(remote, "fsck", "--no-dangling") == ""


def test_a_pending_write_already_landed_is_not_landed_twice(tmp_path: Path) -> None:
    remote = seeded(tmp_path)
    ref = killed_after_publishing(remote, tmp_path / "killed")
    meta = git(remote, "rev-parse", ref)
    with Ledger(clone(remote, tmp_path / "b"), UNSIGNED) as b:
        b.record_freight(make_freight(2, warehouse="wh-b"))
    assert git(remote, "for-each-ref", "refs/kargo/pending/") == ""
    before = set(listing(remote, "."))
    # The same pending write shows up again (a copy left behind): the next winner finds it in already.
    git(remote, "update-ref", ref, meta)
    with Ledger(clone(remote, tmp_path / "c"), UNSIGNED) as c:
        c.record_freight(make_freight(3, warehouse="wh-c"))
    after = set(listing(remote, "."))
    added = after - before  # c's Freight and its alias; nothing of the write found in already
    assert len(added) == 2
    assert f"freight/wh-c/{make_freight(3, warehouse='wh-c').name}.json" in added
    assert len(listing(remote, "freight")) == 4
    lost = make_freight(1, warehouse="wh-a")
    changes = git(
        remote, "log", "--first-parent", "--format=%H", BRANCH, "--", f"freight/wh-a/{lost.name}.json"
    )
    assert len(changes.splitlines()) == 1  # written once, by the landing of b
    assert git(remote, "for-each-ref", "refs/kargo/pending/") == ""
    subjects = own_commits(remote)
    assert len(subjects) == len(set(subjects)) == 4


def test_a_pending_write_the_tip_made_wrong_is_taken_back_and_written_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-modify-write of a Stage's state loses to another writer of the same state: its pending
    write cannot land on the new tip (the state it read changed), so its writer withdraws it and writes
    again on the new state; both changes are kept and the withdrawn version never lands."""
    remote = seeded(tmp_path)
    repo_a = clone(remote, tmp_path / "a")
    repo_b = clone(remote, tmp_path / "b")
    real_push = Ledger._push
    pushes: list[int] = []

    def hold(origin: str) -> Any:
        def change(state: StageStateRecord) -> StageStateRecord:
            held = CurrentFreight(name=f"{origin}-freight", origin=FreightOrigin(name=origin), since="")
            return state.model_copy(update={"current_freight": [*state.current_freight, held]})

        return change

    def push(self: Ledger, *args: Any) -> bool:
        pushes.append(1)
        if self.git.repo == repo_a and len(pushes) == 1:
            with Ledger(repo_b, UNSIGNED) as b:  # b writes the same state first: a loses
                b.update_stage_state("dev", hold("from-b"))
        return real_push(self, *args)

    monkeypatch.setattr(Ledger, "_push", push)
    published: list[str] = []
    real_publish = Ledger._publish_pending

    def publish(self: Ledger, write: Any) -> bool:
        published.append(write.id)
        return real_publish(self, write)

    monkeypatch.setattr(Ledger, "_publish_pending", publish)
    with Ledger(repo_a, UNSIGNED) as a:
        state = a.update_stage_state("dev", hold("from-a"))
    assert [c.origin.name for c in state.current_freight] == ["from-b", "from-a"]
    assert len(published) == 2  # the first version waited, was withdrawn, the second landed
    assert git(remote, "for-each-ref", "refs/kargo/pending/") == ""
    subjects = own_commits(remote)
    assert len(subjects) == 3  # the seed's Freight, b's state, a's second version: never the first
    assert sum("stage: update dev" in s for s in subjects) == 2


def test_a_rewound_ledger_is_refused_with_writes_pending(tmp_path: Path) -> None:
    remote = seeded(tmp_path)
    repo_b = clone(remote, tmp_path / "b")
    with Ledger(repo_b, UNSIGNED) as b:
        rewind_to = git(remote, "rev-parse", BRANCH)
        b.record_freight(make_freight(2, warehouse="wh-b"))
    killed_after_publishing(remote, tmp_path / "killed")
    git(remote, "update-ref", f"refs/heads/{BRANCH}", rewind_to)  # force-pushed to an older commit
    with Ledger(repo_b, UNSIGNED) as b, pytest.raises(LedgerRewoundError, match="rewound"):
        b.record_freight(make_freight(3, warehouse="wh-c"))
    # Nothing was written, and the pending write still waits for a writer the ledger lets write.
    assert git(remote, "rev-parse", BRANCH) == rewind_to
    assert len(git(remote, "for-each-ref", "refs/kargo/pending/").splitlines()) == 1
