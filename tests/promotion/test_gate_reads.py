"""A promotion's gate reads the Freight of the Warehouses it can look at, not the whole ledger (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy, WritePlan
from kargo_actions.ledger.records import LedgerRecordError
from kargo_actions.ledger.store import Snapshot
from kargo_actions.manifests import load_project
from kargo_actions.promotion.lifecycle import settled_states
from tests.ledger.helpers import make_freight, make_repo
from tests.promotion.test_service import manifests, write


def test_the_gate_of_one_stage_reads_the_freight_of_its_warehouses_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, manifests())
    project = load_project(repo / ".kargo")
    now = datetime.now(UTC)
    with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
        ours = ledger.record_freight(make_freight(1)).freight
        other = ledger.record_freight(make_freight(2, warehouse="elsewhere")).freight
        third = ledger.record_freight(make_freight(3, warehouse="third")).freight

        def break_it(_snap: Snapshot) -> WritePlan[None]:
            return WritePlan("test: a broken record", {f"freight/elsewhere/{other.name}.json": b"{"}, None)

        ledger.write(break_it)
        snap = ledger.snapshot()
        # Everything is read without a Stage: the broken record stops it, as before.
        with pytest.raises(LedgerRecordError, match=f"freight/elsewhere/{other.name}.json"):
            settled_states(project, snap, now)
        _, _, freight = settled_states(project, snap, now, for_stage="dev")
        assert [f.name for f in freight] == [ours.name]
        # The Warehouse of the Freight asked for is read too, so the gate refuses it for what it is.
        _, _, freight = settled_states(project, snap, now, for_stage="dev", also="third")
        assert sorted(f.name for f in freight) == sorted([ours.name, third.name])
