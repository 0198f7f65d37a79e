"""Single-Stage auto-promotion (`auto_promote(stage=S)`, what a dispatched auto-promotion runs) on a real
pipeline repository: the Freight selectionPolicy MatchUpstream picks is promoted in Mode.AUTO without a hold,
where the same Freight by hand sets one; a disabled policy or an existing hold skips with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig
from kargo_actions.manifests import load_project
from kargo_actions.promotion.pipeline import auto_promote
from kargo_actions.promotion.service import Mode, PromoteOptions, promote
from tests.ledger.helpers import make_repo
from tests.promotion.test_service import manifests, record, run, write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", tmp_path / "remote.git")


def match_upstream_pipeline(repo: Path, enabled: bool = True) -> tuple[str, str]:
    """dev and staging (MatchUpstream) auto-promote; dev holds f-1 with f-1 and f-2 both verified there, so
    f-2 is the newest Freight available to staging and f-1 is what MatchUpstream picks. Returns (f1, f2)."""
    policies: list[dict[str, Any]] = [{"stage": "dev", "autoPromotionEnabled": True}]
    if enabled:
        policies.append({"stage": "staging", "autoPromotionEnabled": True})
    docs = manifests(policies)
    docs[3]["spec"]["requestedFreight"][0]["sources"]["autoPromotionOptions"] = {
        "selectionPolicy": "MatchUpstream"
    }
    write(repo, docs)
    f1 = record(repo, 1, 1)
    f2 = record(repo, 2, 2)
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-2", "-q")[0] == 0
    assert run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")[0] == 0  # back on f-1
    return f1, f2


@dataclass(frozen=True)
class Case:
    """One way into staging and what it must leave behind."""

    id: str
    enabled: bool  # staging's promotion policy enables auto-promotion
    held_first: bool  # staging already has a hold (a hand promotion of f-1) before the call
    by_hand: bool  # promote f-1 by hand (Mode.MANUAL) instead of auto_promote(stage="staging")
    action: str  # the decision, or "promoted" for a hand promotion
    reason: str  # the decision's reason starts with this ("" for a hand promotion)
    hold_after: str  # "f1" when staging holds f-1 afterwards, "" when it has no hold


CASES = [
    Case("auto-match-upstream-no-hold", True, False, False, "promoted", "verified in dev", ""),
    Case("hand-same-freight-sets-hold", True, False, True, "promoted", "", "f1"),
    Case("auto-policy-disabled-skips", False, False, False, "skipped", "auto-promotion is not enabled", ""),
    Case("auto-held-skips", True, True, False, "skipped", "held at ", "f1"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_single_stage_auto_promotion_follows_the_policy_and_sets_no_hold(case: Case, repo: Path) -> None:
    f1, f2 = match_upstream_pipeline(repo, enabled=case.enabled)
    if case.held_first:
        assert run(repo, "promote", "--stage", "staging", "--freight", "f-1", "-q")[0] == 0
        # dev moves on to f-2: MatchUpstream would now pick f-2 for staging, but the hold stops it
        assert run(repo, "promote", "--stage", "dev", "--freight", "f-2", "-q")[0] == 0
    project = load_project(repo / ".kargo")
    options = PromoteOptions(work_dir=None)
    with Ledger(repo, LedgerConfig()) as ledger:
        before = ledger.stage_state("staging", ledger.snapshot())
        if case.by_hand:
            outcome = promote(project, ledger, "staging", f1, mode=Mode.MANUAL, options=options)
            assert outcome.succeeded
            assert outcome.hold == "set"
        else:
            decisions = auto_promote(project, ledger, options, stage="staging")
            # one Stage decided, never the others (dev would be promoted to f-2 by a full --auto run)
            assert [(d.stage, d.action) for d in decisions] == [("staging", case.action)]
            (decision,) = decisions
            assert decision.reason.startswith(case.reason), decision.reason
            if case.action == "promoted":
                assert decision.freight == f1  # what dev holds, not the newest (f2)
                assert decision.outcome is not None
                assert decision.outcome.hold == ""
        ledger.sync()
        after = ledger.stage_state("staging", ledger.snapshot())
        dev = ledger.stage_state("dev", ledger.snapshot())
    assert {wh: h.freight for wh, h in after.holds.items()} == ({"app": f1} if case.hold_after else {})
    if case.action == "promoted":
        assert [c.name for c in after.current_freight] == [f1]
    else:
        assert after.current_freight == before.current_freight  # nothing promoted
    expected_dev = f2 if case.held_first else f1
    assert [c.name for c in dev.current_freight] == [expected_dev]  # dev untouched by the call


def test_single_stage_auto_of_an_unknown_stage_is_bad_input(repo: Path) -> None:
    match_upstream_pipeline(repo)
    from kargo_actions.errors import InvalidInputError

    project = load_project(repo / ".kargo")
    with Ledger(repo, LedgerConfig()) as ledger, pytest.raises(InvalidInputError, match="stagin"):
        auto_promote(project, ledger, stage="stagin")
