"""A promotion's tag check reads its own Freight's tag, not every tag of the ledger, and fetches that tag
when the clone lacks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.verify import check_promotable
from tests.ledger.helpers import clone, git, make_freight, make_repo, record_git_runs

UNSIGNED = LedgerConfig(signing=SigningPolicy.NEVER)


def test_the_check_lists_the_promoted_freight_s_tag_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as ledger:
        recorded = [ledger.record_freight(make_freight(n)) for n in range(3)]
        ran = record_git_runs(monkeypatch)
        check_promotable(ledger, recorded[1].freight.name, ledger.snapshot())
    listings = [args for args in ran if args[0] == "for-each-ref" and "refs/tags" in " ".join(args)]
    assert listings == [
        (
            "for-each-ref",
            "--format=%(refname) %(objectname) %(objecttype)",
            f"refs/tags/{recorded[1].tag}",
        )
    ]


def test_a_clone_without_the_tag_fetches_it_and_the_check_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = tmp_path / "remote.git"
    with Ledger(make_repo(tmp_path / "a", remote), UNSIGNED) as writer:
        recorded = [writer.record_freight(make_freight(n)) for n in range(2)]
    other = clone(remote, tmp_path / "b")
    for tag in git(other, "tag", "--list").split():
        git(other, "tag", "-d", tag)
    with Ledger(other, UNSIGNED) as ledger:
        ledger.sync()
        for tag in git(other, "tag", "--list").split():
            git(other, "tag", "-d", tag)
        ran = record_git_runs(monkeypatch)
        check_promotable(ledger, recorded[0].freight.name, ledger.snapshot())
    fetched = [args for args in ran if args[0] == "fetch"]
    assert len(fetched) == 1
    assert fetched[0][-1] == f"refs/tags/{recorded[0].tag}:refs/tags/{recorded[0].tag}"
    assert recorded[0].tag in git(other, "tag", "--list").split()
