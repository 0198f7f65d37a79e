"""No ledger record is lost when the remote ledger branch is rewound (force-pushed to an older commit).

A real bare remote and clones of it: the rewound branch refuses the next write (exit 3, naming what is
missing, changing nothing), `ledger repair` restores the records from this clone, another clone, or the Freight
tags alone, and `freight verify --all` reports the tags whose record the remote lacks.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from kargo_actions.cli.main import main
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.continuity import LedgerRewoundError
from kargo_actions.ledger.records import (
    CurrentFreight,
    FreightReference,
    PromotionRecord,
    StageStateRecord,
)
from kargo_actions.model.freight import Freight, FreightOrigin
from tests.ledger.helpers import clone, git, make_freight, make_repo

UNSIGNED = LedgerConfig(signing=SigningPolicy.NEVER)
BRANCH = "kargo/ledger"


@dataclass(frozen=True)
class World:
    remote: Path
    writer: Path  # the clone that wrote the records the rewind drops
    kept: Freight  # recorded before the rewind point
    lost: Freight  # recorded after it: its record, alias and tag
    promotion: str  # a Promotion recorded after it
    before: str  # the commit the remote is rewound to
    after: str  # the tip the writer saw


def promotion_of(freight: Freight, n: int) -> tuple[PromotionRecord, StageStateRecord]:
    origin = FreightOrigin(name=freight.origin.name)
    promotion = PromotionRecord(
        name=f"dev.01J000000000000000000000{n:02d}.{freight.name[:7]}",
        stage="dev",
        freight=FreightReference(name=freight.name, origin=origin),
        phase="Succeeded",
        created_at=f"2026-01-0{n}T00:00:00Z",
    )
    state = StageStateRecord(
        stage="dev",
        current_freight=[CurrentFreight(name=freight.name, origin=origin, since=f"2026-01-0{n}T00:00:00Z")],
    )
    return promotion, state


def rewind(remote: Path, to: str, tmp_path: Path) -> None:
    """Someone force-pushes the ledger branch back from a clone of their own."""
    culprit = clone(remote, tmp_path / "culprit")
    git(culprit, "fetch", "-q", "origin", f"{BRANCH}:{BRANCH}")
    git(culprit, "push", "-q", "--force", "origin", f"{to}:refs/heads/{BRANCH}")
    shutil.rmtree(culprit)


@pytest.fixture
def world(tmp_path: Path) -> World:
    remote = tmp_path / "remote.git"
    writer = make_repo(tmp_path / "writer", remote)
    with Ledger(writer, UNSIGNED) as ledger:
        kept = ledger.record_freight(make_freight(1, alias="brave-otter")).freight
        ledger.record_promotion(*promotion_of(kept, 1))
        before = git(remote, "rev-parse", BRANCH)
        lost = ledger.record_freight(make_freight(2, alias="calm-heron")).freight
        promotion, state = promotion_of(lost, 2)
        ledger.record_promotion(promotion, state)
    after = git(remote, "rev-parse", BRANCH)
    rewind(remote, before, tmp_path)
    return World(remote, writer, kept, lost, promotion.name, before, after)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags")


def ledger_files(repo: Path, rev: str = BRANCH) -> dict[str, str]:
    """path -> blob id of every file of the ledger at `rev`."""
    listing = git(repo, "ls-tree", "-r", rev).splitlines()
    return {line.split("\t")[1]: line.split()[2] for line in listing}


def test_a_write_after_a_rewind_is_refused_naming_what_is_missing_and_changes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    local_before = refs(world.writer)
    remote_before = refs(world.remote)
    code, _, err = run(
        capsys,
        "--repo",
        str(world.writer),
        "freight",
        "alias",
        world.kept.name,
        "bold-otter",
        "--sign",
        "never",
    )
    assert code == 3, err
    assert f"ledger branch {BRANCH} on origin was rewound (force-pushed to an older commit)" in err
    for what in (
        f"Freight app/{world.lost.name}",
        "alias calm-heron",
        f"Promotion dev/{world.promotion}",
        "state of Stage dev",
    ):
        assert f"error:   {what}\n" in err, what
    assert "run `kargo-actions ledger repair` to restore them" in err
    assert "Traceback" not in err
    assert refs(world.remote) == remote_before
    assert refs(world.writer) == local_before
    assert git(world.writer, "rev-parse", BRANCH) == world.after
    # the API refuses the same way, and this clone still reads every record it saw
    with Ledger(world.writer, UNSIGNED) as ledger:
        with pytest.raises(LedgerRewoundError) as refused:
            ledger.record_freight(make_freight(3))
        assert f"Freight app/{world.lost.name}" in refused.value.lost
        assert ledger.get_freight("calm-heron").name == world.lost.name
    assert git(world.remote, "rev-parse", BRANCH) == world.before


def test_repair_restores_the_records_from_this_clone_once(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(world.writer)
    code, out, err = run(capsys, "--repo", repo, "-o", "json", "ledger", "repair", "--dry-run")
    assert code == 0, err
    dry = json.loads(out)
    assert dry["dryRun"] is True
    assert dry["commit"] is None
    assert git(world.remote, "rev-parse", BRANCH) == world.before  # a dry run writes nothing

    code, out, err = run(capsys, "--repo", repo, "-o", "json", "ledger", "repair")
    assert code == 0, err
    result = json.loads(out)
    restored = {r["path"]: r for r in result["restored"]}
    assert set(restored) == {
        f"freight/app/{world.lost.name}.json",
        "aliases/calm-heron.json",
        f"promotions/dev/{world.promotion}.json",
        "stages/dev.json",
    }
    assert {r["from"] for r in restored.values()} == {f"this clone's {BRANCH}"}
    assert [r["path"] for r in dry["restored"]] == [r["path"] for r in result["restored"]]
    assert result["kept"] == []
    tip = git(world.remote, "rev-parse", BRANCH)
    assert tip == result["commit"]
    assert git(world.remote, "rev-parse", f"{tip}^") == world.before  # a fast-forward of the rewound tip
    assert ledger_files(world.remote) == ledger_files(world.writer, world.after)  # every record, as it was

    code, out, _ = run(capsys, "--repo", repo, "ledger", "repair")
    assert code == 0
    assert "nothing to restore" in out
    assert git(world.remote, "rev-parse", BRANCH) == tip  # idempotent: no second commit

    code, _, err = run(
        capsys, "--repo", repo, "freight", "alias", world.kept.name, "bold-otter", "--sign", "never"
    )
    assert code == 0, err  # writes go on


def test_repair_from_another_clone_when_this_one_never_saw_the_records(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = clone(world.remote, tmp_path / "fresh")
    with Ledger(fresh, UNSIGNED) as ledger:  # a fresh clone knows the lost Freight by its tag alone
        with pytest.raises(LedgerRewoundError) as refused:
            ledger.record_freight(make_freight(3))
        assert refused.value.lost == (f"Freight app/{world.lost.name}",)
    assert git(world.remote, "rev-parse", BRANCH) == world.before

    code, out, err = run(capsys, "--repo", str(fresh), "ledger", "repair", "--from", str(world.writer))
    assert code == 0, err
    assert f"restored Promotion dev/{world.promotion} from {world.writer}" in out
    assert ledger_files(world.remote) == ledger_files(world.writer, world.after)
    assert git(fresh, "for-each-ref", "refs/kargo-actions") == ""  # the other clone's branch is not kept
    with Ledger(fresh, UNSIGNED) as ledger:
        assert ledger.record_freight(make_freight(3)).created
    with Ledger(world.writer, UNSIGNED) as ledger:  # nothing is missing for the writer any more
        assert ledger.record_freight(make_freight(4)).created
        assert ledger.get_freight("calm-heron").name == world.lost.name


def test_repair_from_the_freight_tags_when_both_copies_are_gone(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(world.writer)
    fresh = clone(world.remote, tmp_path / "fresh")
    code, out, err = run(capsys, "--repo", str(fresh), "-o", "json", "ledger", "repair")
    assert code == 0, err
    restored = {r["path"]: r["from"] for r in json.loads(out)["restored"]}
    tag = f"tag kargo/freight/app/{world.lost.name}"
    assert restored == {f"freight/app/{world.lost.name}.json": tag, "aliases/calm-heron.json": tag}
    after = ledger_files(world.remote)
    lost_files = ledger_files(world.remote, world.after)
    for path in restored:  # the same bytes as the records the rewind dropped
        assert after[path] == lost_files[path]
    with Ledger(fresh, UNSIGNED) as ledger:
        assert ledger.get_freight("calm-heron").name == world.lost.name
        assert ledger.record_freight(make_freight(3)).created


def test_freight_verify_all_reports_records_missing_for_existing_tags(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(world.writer)
    code, out, _ = run(capsys, "--repo", repo, "freight", "verify", "--all", "--sign", "never")
    assert code == 3
    assert f"app/{world.lost.name}: missing-record, unsigned - no record on {BRANCH}" in out
    assert "`kargo-actions ledger repair` restores it from the tag" in out
    assert f"app/{world.kept.name} (brave-otter): ok (unsigned; signing policy never)" in out
    code, out, _ = run(capsys, "--repo", repo, "-o", "json", "freight", "verify", "--all", "--sign", "never")
    findings = {c["name"]: c["findings"] for c in json.loads(out)}
    assert findings == {world.kept.name: ["unsigned"], world.lost.name: ["missing-record", "unsigned"]}

    assert run(capsys, "--repo", repo, "ledger", "repair")[0] == 0
    code, out, _ = run(capsys, "--repo", repo, "freight", "verify", "--all", "--sign", "never")
    assert code == 0, out
    assert "2 of 2 Freight verified" in out


def test_records_that_only_came_by_fetch_count_as_seen(world: World, tmp_path: Path) -> None:
    """A clone that synced the lost records before the rewind also refuses, and can repair alone."""
    reader = clone(world.remote, tmp_path / "reader")
    git(reader, "update-ref", f"refs/heads/{BRANCH}", world.after)  # what a sync before the rewind left
    with Ledger(reader, UNSIGNED) as ledger:
        with pytest.raises(LedgerRewoundError):
            ledger.update_stage_state("prod", lambda s: s)
        ledger.sync()  # reading keeps working and keeps the memory
        assert git(reader, "rev-parse", BRANCH) == world.after
    with Ledger(reader, UNSIGNED) as ledger:
        from kargo_actions.ledger.repair import repair

        result = repair(ledger)
        assert result.commit is not None
        assert len(result.restored) == 4


def test_repair_keeps_what_was_written_on_the_rewound_branch_since(world: World, tmp_path: Path) -> None:
    """A clone that last saw the rewind point writes on the rewound tip (nothing it saw is missing); the
    repair then restores the other records and keeps that newer write where both changed a record."""
    other = clone(world.remote, tmp_path / "other")
    git(other, "update-ref", f"refs/heads/{BRANCH}", world.before)  # it never saw the lost records
    git(other, "tag", "-d", f"kargo/freight/app/{world.lost.name}")
    with Ledger(other, UNSIGNED) as ledger:
        promotion, state = promotion_of(world.kept, 3)
        ledger.record_promotion(promotion, state)
    newer = git(world.remote, "show", f"{BRANCH}:stages/dev.json")
    with Ledger(world.writer, UNSIGNED) as ledger:
        from kargo_actions.ledger.repair import repair

        result = repair(ledger)
    assert result.kept == ("stages/dev.json",)
    assert {r.path for r in result.restored} == {
        f"freight/app/{world.lost.name}.json",
        "aliases/calm-heron.json",
        f"promotions/dev/{world.promotion}.json",
    }
    assert git(world.remote, "show", f"{BRANCH}:stages/dev.json") == newer
    assert git(world.remote, "show", f"{BRANCH}:promotions/dev/{promotion.name}.json")
    with Ledger(world.writer, UNSIGNED) as ledger:  # nothing this clone saw is missing now
        assert ledger.record_freight(make_freight(3)).created
