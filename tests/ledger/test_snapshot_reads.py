"""A snapshot is one commit: what a command asks of it several times is read from git once (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.records import CurrentFreight, StageStateRecord
from tests.ledger.helpers import make_freight, make_repo


def counting_reads(ledger: Ledger) -> list[int]:
    """Counts the objects the ledger's cat-file process is asked for (one entry per request)."""
    reader = ledger.git.reader
    asked: list[int] = []
    get, get_many = reader.get, reader.get_many

    def one(spec: str) -> Any:
        asked.append(1)
        return get(spec)

    def many(specs: Any) -> Any:
        asked.append(len(specs))
        return get_many(specs)

    reader.get = one  # type: ignore[method-assign]
    reader.get_many = many  # type: ignore[method-assign]
    return asked


def test_stage_states_and_the_freight_listing_are_read_once_per_snapshot(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
        items = [make_freight(n, warehouse=f"wh-{n % 3}") for n in range(6)]
        for item in items:
            ledger.record_freight(item)
        held = CurrentFreight(name=items[0].name, origin=items[0].origin, since="2026-01-01T00:00:00Z")

        def hold(state: StageStateRecord) -> StageStateRecord:
            return state.model_copy(update={"current_freight": [held]})

        for stage in ("dev", "prod"):
            ledger.update_stage_state(stage, hold)
        snap = ledger.snapshot()
        asked = counting_reads(ledger)
        first = snap.stage_states()
        entries = snap.freight_entries()
        read = sum(asked)
        assert read > 0
        first.records.clear()  # a caller's list is its own
        entries.clear()
        again = snap.stage_states()
        assert [s.stage for s in again.records] == ["dev", "prod"]
        assert sorted(e.id for e in snap.freight_entries()) == sorted(i.name for i in items)
        assert sum(asked) == read  # nothing read from git the second time
        # One Warehouse's Freight is listed afresh (a small read), and a new snapshot reads again.
        assert len(snap.freight_entries("wh-1")) == 2
        assert [s.stage for s in ledger.snapshot().stage_states().records] == ["dev", "prod"]
        assert sum(asked) > read
