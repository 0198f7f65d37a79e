"""A LedgerRepo that began a fetch ahead hands what it learnt of the repository to the next one opened on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.reader import LedgerRepo
from tests.ledger.helpers import clone, git, make_freight, make_repo, record_git_runs

UNSIGNED = LedgerConfig(signing=SigningPolicy.NEVER)


def _recording(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    from kargo_actions.ledger import reader

    monkeypatch.setattr(reader, "_AHEAD", {})
    monkeypatch.setattr(reader, "_HANDED", {})
    return record_git_runs(monkeypatch)


def test_the_command_s_ledger_asks_git_nothing_the_fetch_ahead_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = tmp_path / "remote.git"
    with Ledger(make_repo(tmp_path / "a", remote), UNSIGNED) as a:
        a.record_freight(make_freight(0))
    repo = clone(remote, tmp_path / "b")
    started = _recording(monkeypatch)
    with LedgerRepo(repo, UNSIGNED) as ahead:
        ahead.start_fetch()
    asked = [args[0] for args in started]
    assert asked.count("rev-parse") == 1
    assert asked.count("config") == 1
    started.clear()
    with Ledger(repo, UNSIGNED) as ledger:
        assert ledger.remote == "origin"
        assert ledger.git.git_dir == (repo / ".git").resolve()
        ledger.sync()
        assert [f.name for f in ledger.list_freight().records] == [make_freight(0).name]
    assert "config" not in [args[0] for args in started]
    assert ("rev-parse", "--absolute-git-dir") not in started
    # Handed over once: a third LedgerRepo asks git itself.
    started.clear()
    with LedgerRepo(repo, UNSIGNED) as third:
        assert third.remote == "origin"
    assert [args[0] for args in started] == ["rev-parse", "config"]


def test_a_handover_serves_only_its_own_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = tmp_path / "remote.git"
    first = make_repo(tmp_path / "a", remote)
    other = clone(remote, tmp_path / "b")
    git(other, "config", "kargo.marker", "b")
    started = _recording(monkeypatch)
    with LedgerRepo(first, UNSIGNED) as ahead:
        ahead.start_fetch()
    started.clear()
    with LedgerRepo(other, UNSIGNED) as repo:
        assert repo.git_config().get("kargo.marker") == "b"
        assert repo.git.git_dir == (other / ".git").resolve()
    assert [args[0] for args in started] == ["rev-parse", "config"]
