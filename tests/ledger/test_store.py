"""Ledger writes and reads on real repositories: local only, with a bare remote, and in fresh clones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kargo_actions.errors import FailedError, InvalidInputError
from kargo_actions.ledger import Ledger, LedgerConfig, NoWrite, SigningPolicy, WritePlan
from kargo_actions.ledger.records import (
    ApprovedFreight,
    CurrentFreight,
    FreightReference,
    PromotionRecord,
    StageStateRecord,
    VerifiedFreight,
)
from kargo_actions.model.freight import FreightOrigin
from tests.ledger.helpers import clone, git, make_commit_freight, make_freight, make_repo

UNSIGNED = LedgerConfig(signing=SigningPolicy.NEVER)


def test_record_freight_local_only_touches_no_work_tree_or_index(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "dirty.txt").write_text("user's work in progress\n")
    git(repo, "add", "dirty.txt")
    index = repo / ".git" / "index"
    before = (git(repo, "rev-parse", "HEAD"), index.read_bytes(), git(repo, "status", "--porcelain"))

    with Ledger(repo, UNSIGNED) as ledger:
        result = ledger.record_freight(make_freight(1))

    assert result.created
    assert result.freight.alias
    assert (git(repo, "rev-parse", "HEAD"), index.read_bytes(), git(repo, "status", "--porcelain")) == before
    files = git(repo, "ls-tree", "-r", "--name-only", "kargo/ledger").splitlines()
    assert files == [
        ".kargo-ledger.json",
        f"aliases/{result.freight.alias}.json",
        f"freight/app/{result.freight.name}.json",
    ]
    assert git(repo, "cat-file", "-t", f"refs/tags/kargo/freight/app/{result.freight.name}") == "tag"
    # Not a repository commit, so the tag points at the ledger commit that recorded the Freight.
    assert git(repo, "rev-parse", f"{result.tag}^{{}}") == result.ledger_commit


def test_record_is_idempotent_and_checks_the_id(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        first = ledger.record_freight(make_freight(1))
        again = ledger.record_freight(make_freight(1))
        assert (again.created, again.freight.alias) == (False, first.freight.alias)
        bad = make_freight(2).model_copy(update={"metadata": make_freight(3).metadata})
        with pytest.raises(InvalidInputError, match="is not the ID of its artifacts"):
            ledger.record_freight(bad)
    assert git(repo, "rev-list", "--count", "kargo/ledger") == "1"


def test_freight_recorded_in_one_second_keep_their_order(tmp_path: Path) -> None:
    """Timestamps are whole seconds: a Freight recorded in the same second as an earlier one of its Warehouse
    gets the next second, so newest-first order is the order they were recorded in, whatever their IDs."""
    from kargo_actions.promotion.gates import newest_first

    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        made = [ledger.record_freight(make_freight(n)).freight for n in range(1, 5)]
        other = ledger.record_freight(make_freight(1, warehouse="other")).freight
        run = ledger.record_discovery_run([], [make_freight(5), make_freight(6, warehouse="other")])
        made.append(run.freight[0].freight)
        listed = ledger.list_freight(warehouse="app").records
    stamps = [f.metadata.creation_timestamp or "" for f in made]
    assert stamps == sorted(set(stamps))  # strictly increasing
    assert [f.name for f in newest_first(listed)] == [f.name for f in reversed(made)]
    # Each Warehouse keeps its own order.
    assert (run.freight[1].freight.metadata.creation_timestamp or "") > (
        other.metadata.creation_timestamp or ""
    )


def test_commit_message_says_what_and_who(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    with Ledger(repo, UNSIGNED) as ledger:
        result = ledger.record_freight(make_freight(1, alias="first-one"))
    message = git(repo, "log", "-1", "--format=%B", "kargo/ledger")
    assert f"record app/{result.freight.name[:12]} as first-one" in message
    assert "By: octocat" in message


def test_remote_write_pushes_branch_and_tag_and_fresh_clone_reads_it(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    repo = make_repo(tmp_path / "repo", remote)
    with Ledger(repo, UNSIGNED) as ledger:
        result = ledger.record_freight(make_freight(1))
    assert git(remote, "rev-parse", "refs/heads/kargo/ledger") == result.ledger_commit
    assert git(remote, "cat-file", "-t", f"refs/tags/{result.tag}") == "tag"

    fresh = clone(remote, tmp_path / "fresh")
    assert git(fresh, "for-each-ref", "refs/heads/kargo") == ""  # only refs/remotes/origin/kargo/ledger
    with Ledger(fresh, UNSIGNED) as ledger:
        listed = ledger.list_freight()
        assert [f.name for f in listed.records] == [result.freight.name]
        second = ledger.record_freight(make_freight(2))
    assert second.attempts == 1
    assert git(remote, "rev-parse", "refs/heads/kargo/ledger") == second.ledger_commit
    assert git(remote, "rev-parse", f"{second.ledger_commit}^") == result.ledger_commit


def test_tag_targets_the_freights_commit_when_it_is_this_repository(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    repo = make_repo(tmp_path / "repo", remote)
    head = git(repo, "rev-parse", "HEAD")
    ours = make_commit_freight(f"file://{remote}", head)
    other = make_commit_freight("https://github.com/example/other.git", head, warehouse="other")
    # A file:// URL for the remote: normalize_git_url must match it with the Freight's repoURL.
    git(repo, "remote", "set-url", "origin", f"file://{remote}")
    with Ledger(repo, UNSIGNED) as ledger:
        mine = ledger.record_freight(ours)
        theirs = ledger.record_freight(other)
    assert git(repo, "rev-parse", f"{mine.tag}^{{}}") == head
    assert git(repo, "rev-parse", f"{theirs.tag}^{{}}") == theirs.ledger_commit


def test_branch_that_is_not_a_ledger_is_refused_not_overwritten(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "branch", "kargo/ledger", "main")  # someone's branch of that name, holding README.md
    before = git(repo, "rev-parse", "kargo/ledger")
    with Ledger(repo, UNSIGNED) as ledger, pytest.raises(InvalidInputError) as err:
        ledger.record_freight(make_freight(1))
    assert "not a kargo-actions ledger (unexpected files README.md)" in str(err.value)
    assert git(repo, "rev-parse", "kargo/ledger") == before


def test_rejected_push_fails_with_gits_message_and_records_nothing(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    repo = make_repo(tmp_path / "repo", remote)
    with Ledger(repo, UNSIGNED) as ledger:
        first = ledger.record_freight(make_freight(1))
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'kargo/ledger is protected: ask an admin' >&2\nexit 1\n")
    hook.chmod(0o755)
    with Ledger(repo, UNSIGNED) as ledger:
        with pytest.raises(FailedError) as err:
            ledger.record_freight(make_freight(2))
        assert "kargo/ledger is protected: ask an admin" in str(err.value)
        assert "pre-receive hook declined" in str(err.value)
    assert git(repo, "rev-parse", "kargo/ledger") == first.ledger_commit
    assert git(repo, "rev-parse", "origin/kargo/ledger") == first.ledger_commit
    assert git(repo, "tag", "--list", "kargo/freight/*").splitlines() == [first.tag]
    assert git(remote, "rev-parse", "kargo/ledger") == first.ledger_commit


def test_compare_and_swap_rebuilds_on_a_newer_tip(tmp_path: Path) -> None:
    """A writer whose first attempt loses the race retries on the new tip and keeps both records."""
    remote = tmp_path / "remote.git"
    repo_a = make_repo(tmp_path / "a", remote)
    repo_b = clone(remote, tmp_path / "b")
    with Ledger(repo_a, UNSIGNED) as a, Ledger(repo_b, UNSIGNED) as b:
        a.record_freight(make_freight(0))
        calls: list[str | None] = []

        def build(snap):  # type: ignore[no-untyped-def]
            calls.append(snap.commit)
            if len(calls) == 1:
                a.record_freight(make_freight(1))  # lands between b's fetch and b's push
            return WritePlan(
                summary="test: note",
                files={"stages/dev.json": b'{"schemaVersion":1,"stage":"dev"}'},
                result=None,
            )

        outcome = b.write(build)
    assert outcome.attempts == 2
    assert calls[0] != calls[1]
    names = git(remote, "ls-tree", "-r", "--name-only", "kargo/ledger").splitlines()
    assert len([n for n in names if n.startswith("freight/")]) == 2
    assert "stages/dev.json" in names


def test_a_write_after_our_own_push_builds_on_it_without_a_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tip this process pushed last is where its next write starts (no fetch); when another writer moved
    the remote since, the push is refused and the write goes round with a fetch, losing nothing."""
    remote = tmp_path / "remote.git"
    repo_a = make_repo(tmp_path / "a", remote)
    repo_b = clone(remote, tmp_path / "b")
    fetched: list[str] = []
    real_fetch = Ledger._fetch

    def counting(self: Ledger, listing: bool = True) -> tuple[str | None, str | None]:
        fetched.append(str(self.git.repo))
        return real_fetch(self, listing)

    monkeypatch.setattr(Ledger, "_fetch", counting)
    with Ledger(repo_a, UNSIGNED) as a, Ledger(repo_b, UNSIGNED) as b:
        a.record_freight(make_freight(0))
        assert len(fetched) == 1
        second = a.record_freight(make_freight(1))
        assert (len(fetched), second.attempts) == (1, 1)  # built on its own push
        b.record_freight(make_freight(2))  # the remote moves under a
        fetched.clear()
        third = a.record_freight(make_freight(3))
        assert fetched == [str(repo_a)]  # refused on the stale tip, then one fetch
        assert third.attempts == 1
        # A refusal on the guessed tip is checked again on the fetched one, and stands.
        taken = b.list_freight().records[-1].alias
        with pytest.raises(InvalidInputError, match="already used"):
            a.record_freight(make_freight(4, alias=taken))
    names = git(remote, "ls-tree", "-r", "--name-only", "kargo/ledger").splitlines()
    assert len([n for n in names if n.startswith("freight/")]) == 4


def test_a_fetch_begun_ahead_is_taken_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`start_fetch` runs the ledger fetch in the background; the next fetch of the same ref waits for it
    instead of starting its own, unless it began too long ago to stand for a fetch now."""
    from kargo_actions.ledger import reader

    remote = tmp_path / "remote.git"
    repo_a = make_repo(tmp_path / "a", remote)
    repo_b = clone(remote, tmp_path / "b")
    with Ledger(repo_a, UNSIGNED) as a:
        a.record_freight(make_freight(0))
    tip = git(remote, "rev-parse", "kargo/ledger")
    started: list[tuple[str, ...]] = []
    real_run = reader.Git.run

    def recording(self: object, *args: str, **kwargs: object) -> object:
        started.append(args)
        return real_run(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reader.Git, "run", recording)
    monkeypatch.setattr(reader, "_AHEAD", {})  # none left by other tests of this process
    with Ledger(repo_b, UNSIGNED) as b:
        b.start_fetch()
        assert len(reader._AHEAD) == 1
        b.sync()
        assert not reader._AHEAD
        assert not [args for args in started if args[0] == "fetch" and "--no-tags" in args]
        assert git(repo_b, "rev-parse", "refs/remotes/origin/kargo/ledger") == tip
        # Begun too long ago: waited for, then fetched again.
        b.start_fetch()
        monkeypatch.setattr(reader, "_AHEAD_FOR", 0.0)
        b.sync()
        assert [args for args in started if args[0] == "fetch" and "--no-tags" in args]


def test_nowrite_changes_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        ledger.record_freight(make_freight(1))
        tip = git(repo, "rev-parse", "kargo/ledger")
        outcome = ledger.write(lambda snap: NoWrite(snap.commit))
    assert (outcome.commit, outcome.result) == (None, tip)
    assert git(repo, "rev-parse", "kargo/ledger") == tip


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("exact-id", "one"),
        ("alias", "one"),
        ("unique-prefix", "one"),
        ("nothing", "no Freight matches"),
    ],
)
def test_resolve_refs(tmp_path: Path, ref: str, expected: str) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        one = ledger.record_freight(make_freight(1, alias="brave-otter")).freight
        ledger.record_freight(make_freight(2, alias="calm-heron"))
        given = {
            "exact-id": one.name,
            "alias": "brave-otter",
            "unique-prefix": one.name[:8],
            "nothing": "bravo-otter",
        }[ref]
        if expected == "one":
            assert ledger.get_freight(given).name == one.name
        else:
            with pytest.raises(InvalidInputError, match=expected) as err:
                ledger.get_freight(given)
            assert "brave-otter" in str(err.value.problems[0].hint)


def test_ambiguous_prefix_lists_candidates(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        ids = [ledger.record_freight(make_freight(n)).freight.name for n in range(40)]
        first = ids[0][0]
        sharing = sorted(i for i in ids if i.startswith(first))
        assert len(sharing) >= 2  # 40 IDs over 16 leading digits always collide somewhere
        with pytest.raises(InvalidInputError) as err:
            ledger.get_freight(first)
    message = str(err.value)
    assert f"matches {len(sharing)} Freight" in message
    assert all(f"app/{i}" in message for i in sharing[:10])


def test_alias_is_unique_and_recorded(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        one = ledger.record_freight(make_freight(1, alias="brave-otter")).freight
        two = ledger.record_freight(make_freight(2)).freight
        with pytest.raises(InvalidInputError, match="already used by Freight"):
            ledger.set_alias(two.name, "brave-otter")
        with pytest.raises(InvalidInputError, match="already used by another Freight"):
            ledger.record_freight(make_freight(3, alias="brave-otter"))
        renamed = ledger.set_alias("brave-otter", "bold-otter")
        assert renamed.alias == "bold-otter"
        assert ledger.get_freight("bold-otter").name == one.name
        with pytest.raises(InvalidInputError):
            ledger.get_freight("brave-otter")
        ledger.set_alias(two.name, "brave-otter")  # released, so reusable
    names = git(repo, "ls-tree", "--name-only", "kargo/ledger:aliases").splitlines()
    assert names == ["bold-otter.json", "brave-otter.json"]
    assert "alias" in git(repo, "log", "-1", "--format=%s", "kargo/ledger")


def test_stage_state_gives_freight_status_and_history(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        one = ledger.record_freight(make_freight(1)).freight
        two = ledger.record_freight(make_freight(2)).freight
        origin = FreightOrigin(name="app")
        for n, freight in enumerate((one, two)):
            ledger.record_promotion(
                PromotionRecord(
                    name=f"dev.01J0000000000000000000000{n}.{freight.name[:7]}",
                    stage="dev",
                    freight=FreightReference(name=freight.name, origin=origin),
                    phase="Succeeded",
                    created_at=f"2026-01-0{n + 1}T00:00:00Z",
                ),
                StageStateRecord(
                    stage="dev",
                    current_freight=[
                        CurrentFreight(name=freight.name, origin=origin, since="2026-01-02T00:00:00Z")
                    ],
                    verified={
                        one.name: VerifiedFreight(verified_at="2026-01-01T01:00:00Z", longest_soak="1h0m0s")
                    },
                    approved={two.name: ApprovedFreight(approved_at="2026-01-01T02:00:00Z")},
                ),
            )
        in_dev = ledger.list_freight(stage="dev").records
        assert [f.name for f in in_dev] == [two.name]
        status = ledger.get_freight(one.name).status
        assert status is not None
        assert status.currently_in is None
        assert status.verified_in is not None
        assert status.verified_in["dev"].longest_soak == "1h0m0s"
        assert in_dev[0].status is not None
        assert in_dev[0].status.approved_for is not None
        history = ledger.stage_history("dev").records
        assert [p.freight.name for p in history] == [one.name, two.name]
        assert ledger.list_freight(warehouse="nope").records == []
        updated = ledger.update_stage_state("dev", lambda s: s.model_copy(update={"current_freight": []}))
        assert updated.current_freight == []
        assert ledger.list_freight(stage="dev").records == []


def test_corrupted_record_names_the_file_and_others_stay_readable(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        good = ledger.record_freight(make_freight(1)).freight
        bad = ledger.record_freight(make_freight(2)).freight
        path = f"freight/app/{bad.name}.json"
        ledger.write(
            lambda _s: WritePlan(
                summary="test: corrupt", files={path: b'{"schemaVersion": 1, "kind": '}, result=None
            )
        )
        listed = ledger.list_freight()
        assert [f.name for f in listed.records] == [good.name]
        assert [p.file for p in listed.problems] == [f"kargo/ledger:{path}"]
        assert "not valid JSON" in listed.problems[0].message
        assert ledger.get_freight(good.name).name == good.name
        with pytest.raises(InvalidInputError, match=path):
            ledger.get_freight(bad.name)


def test_newer_schema_version_is_refused_clearly(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        ledger.record_freight(make_freight(1))
        path = "stages/dev.json"
        ledger.write(
            lambda _s: WritePlan(
                summary="test: future",
                files={path: b'{"schemaVersion": 3, "stage": "dev", "newField": 1}'},
                result=None,
            )
        )
        with pytest.raises(InvalidInputError) as err:
            ledger.stage_state("dev")
    assert str(err.value) == (
        f"kargo/ledger:{path}: schemaVersion: written by a newer kargo-actions (schemaVersion 3; "
        "this version reads 2) (upgrade kargo-actions to read this ledger)"
    )


def test_newer_ledger_format_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        ledger.record_freight(make_freight(1))
        ledger.write(
            lambda _s: WritePlan(
                summary="test: future format",
                files={".kargo-ledger.json": b'{"schemaVersion":1,"kind":"KargoActionsLedger","format":2}'},
                result=None,
            )
        )
        with pytest.raises(InvalidInputError, match="ledger format 2 is newer"):
            ledger.list_freight()


def test_custom_branch_and_tag_prefix(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    config = LedgerConfig(
        branch="ops/records", tag_prefix="releases/freight", signing=SigningPolicy.NEVER, remote=None
    )
    with Ledger(repo, config) as ledger:
        result = ledger.record_freight(make_freight(1))
    assert result.tag == f"releases/freight/app/{result.freight.name}"
    assert git(repo, "rev-parse", "--verify", "-q", "refs/heads/ops/records")
    with pytest.raises(InvalidInputError, match="not a usable git ref name"):
        LedgerConfig(branch="bad..name")


def test_writers_in_the_same_clone_and_env_isolation(tmp_path: Path) -> None:
    """Two Ledger objects on one local repository: the local compare-and-swap keeps both writes."""
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as a, Ledger(repo, UNSIGNED) as b:
        calls = 0

        def build(snap):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            if calls == 1:
                a.record_freight(make_freight(1))
            return WritePlan(
                summary="test: b", files={"stages/qa.json": b'{"schemaVersion":1,"stage":"qa"}'}, result=None
            )

        assert b.write(build).attempts == 2
    names = git(repo, "ls-tree", "-r", "--name-only", "kargo/ledger").splitlines()
    assert "stages/qa.json" in names
    assert any(n.startswith("freight/app/") for n in names)
    assert os.environ.get("GIT_DIR") is None


def test_runner_without_git_identity_writes_as_the_github_actor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var)
    git(repo, "config", "user.useConfigOnly", "true")  # like a runner with no identity configured
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    with Ledger(repo, UNSIGNED) as ledger:
        result = ledger.record_freight(make_freight(1))
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn", "kargo/ledger") == (
        "octocat <octocat@users.noreply.github.com>|octocat"
    )
    assert "tagger octocat <octocat@users.noreply.github.com>" in git(repo, "cat-file", "tag", result.tag)


def test_long_lived_writer_sees_objects_fetched_after_it_started(tmp_path: Path) -> None:
    """Objects that arrive in new packs after the writer's helper processes started are still usable."""
    remote = tmp_path / "remote.git"
    repo_a = make_repo(tmp_path / "a", remote)
    repo_b = clone(remote, tmp_path / "b")
    git(repo_b, "config", "fetch.unpackLimit", "1")  # every fetch lands as a pack, never as loose objects
    with Ledger(repo_a, UNSIGNED) as a, Ledger(repo_b, UNSIGNED) as b:
        for n in range(0, 8, 2):
            a.record_freight(make_freight(n))
            b.record_freight(make_freight(n + 1))
    assert len(git(remote, "ls-tree", "--name-only", "kargo/ledger:freight/app").splitlines()) == 8
    assert git(remote, "fsck", "--no-dangling") == ""
