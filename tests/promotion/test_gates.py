"""Kargo's availability rules, table-driven over Stage manifests and ledger Stage states at a fixed moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kargo_actions.ledger.records import (
    ApprovedFreight,
    CurrentFreight,
    StageStateRecord,
    VerifiedFreight,
)
from kargo_actions.model.freight import FreightOrigin
from kargo_actions.model.project import Project
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.gates import (
    availability,
    candidates,
    go_duration,
    human,
    settle_control_flow,
    soak_time,
)
from tests.ledger.helpers import make_freight

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
F1 = make_freight(1)
F2 = make_freight(2)
OTHER = make_freight(3, warehouse="other")
STEPS = {"promotionTemplate": {"spec": {"steps": [{"uses": "fail"}]}}}


def stage(name: str, sources: dict[str, Any], *, steps: bool = True, origin: str = "app") -> Stage:
    spec: dict[str, Any] = {
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": origin}, "sources": sources}],
        **(STEPS if steps else {}),
    }
    return Stage.model_validate(
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": {"name": name}, "spec": spec}
    )


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def verified(
    name: str, minutes_ago: float, *, current: bool = True, longest: str | None = None
) -> StageStateRecord:
    return StageStateRecord(
        stage=name,
        current_freight=[
            CurrentFreight(name=F1.name, origin=FreightOrigin(name="app"), since=at(minutes_ago))
        ]
        if current
        else [],
        verified={F1.name: VerifiedFreight(verified_at=at(minutes_ago), longest_soak=longest)},
    )


CASES: list[tuple[str, dict[str, Any], list[StageStateRecord], str | None]] = [
    # (id, sources, states, None when available else a piece of the message)
    ("direct", {"direct": True}, [], None),
    ("not-verified", {"stages": ["dev"]}, [], "not verified in dev; or approve it: kargo-actions approve"),
    ("verified", {"stages": ["dev"]}, [verified("dev", 1)], None),
    (
        "soak-short",
        {"stages": ["dev"], "requiredSoakTime": "10m"},
        [verified("dev", 4)],
        "verified in dev 4m ago; qa requires 10m soak (soaked 4m, 6m to go)",
    ),
    ("soak-long", {"stages": ["dev"], "requiredSoakTime": "10m"}, [verified("dev", 11)], None),
    (
        "soak-completed",
        {"stages": ["dev"], "requiredSoakTime": "1h"},
        [verified("dev", 1, current=False, longest="1h5m0s")],
        None,
    ),
    (
        "soak-left-early",
        {"stages": ["dev"], "requiredSoakTime": "1h"},
        [verified("dev", 300, current=False, longest="5m0s")],
        "qa requires 1h soak (soaked 5m",
    ),
    ("oneof-one", {"stages": ["a", "b"]}, [verified("b", 1)], None),
    (
        "oneof-none",
        {"stages": ["a", "b"]},
        [],
        "qa needs it verified in one of a, b; not verified in a; not verified in b",
    ),
    (
        "all-one",
        {"stages": ["a", "b"], "availabilityStrategy": "All"},
        [verified("a", 1)],
        "verified in all of its upstream Stages; not verified in b",
    ),
    (
        "all-both",
        {"stages": ["a", "b"], "availabilityStrategy": "All"},
        [verified("a", 1), verified("b", 1)],
        None,
    ),
    (
        "approved",
        {"stages": ["dev"], "requiredSoakTime": "1h"},
        [StageStateRecord(stage="qa", approved={F1.name: ApprovedFreight(approved_at=at(1))})],
        None,
    ),
]


@pytest.mark.parametrize(("sources", "states", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_availability(sources: dict[str, Any], states: list[StageStateRecord], expected: str | None) -> None:
    result = availability(stage("qa", sources), F1, {s.stage: s for s in states}, NOW)
    if expected is None:
        assert result.available, result.message
    else:
        assert not result.available
        assert expected in result.message


def test_origin_never_skipped_even_when_approved() -> None:
    states = {"qa": StageStateRecord(stage="qa", approved={OTHER.name: ApprovedFreight(approved_at=at(1))})}
    result = availability(stage("qa", {"direct": True}), OTHER, states, NOW)
    assert not result.available
    assert "comes from Warehouse other; Stage qa requests Freight from app" in result.message


def test_rollback_allows_freight_once_verified_in_the_stage() -> None:
    states = {"qa": verified("qa", 30, current=False)}
    target = stage("qa", {"stages": ["dev"]})
    assert not availability(target, F1, states, NOW).available
    assert availability(target, F1, states, NOW, rollback=True).via == "verified in qa before (rollback)"


def test_control_flow_marks_available_freight_verified_in_itself() -> None:
    stages = {
        "a": stage("a", {"direct": True}),
        "b": stage("b", {"direct": True}),
        "hub": stage("hub", {"stages": ["a", "b"], "availabilityStrategy": "All"}, steps=False),
        "out": stage("out", {"stages": ["hub"]}),
    }
    project = Project(name="p", config_dir=__import__("pathlib").Path("."), stages=stages)
    only_a = {"a": verified("a", 5)}
    settled = settle_control_flow(project, only_a, [F1, F2], NOW)
    assert "hub" not in settled  # All: b has not verified it
    assert not availability(stages["out"], F1, settled, NOW).available
    both = {"a": verified("a", 5), "b": verified("b", 5)}
    settled = settle_control_flow(project, both, [F1, F2], NOW)
    assert list(settled["hub"].verified) == [F1.name]
    assert availability(stages["out"], F1, settled, NOW).via == "verified in hub"


def test_candidates_newest_first() -> None:
    older = make_freight(4).model_copy(
        update={"metadata": make_freight(4).metadata.model_copy(update={"creation_timestamp": at(60)})}
    )
    newer = make_freight(5).model_copy(
        update={"metadata": make_freight(5).metadata.model_copy(update={"creation_timestamp": at(1)})}
    )
    found = candidates(stage("dev", {"direct": True}), [older, newer, OTHER], {}, NOW)
    assert [f.name for f in found.available] == [newer.name, older.name]
    assert OTHER.name in found.refused


@pytest.mark.parametrize(
    ("seconds", "go", "short"),
    [
        (0, "0s", "0s"),
        (59, "59s", "59s"),
        (240, "4m0s", "4m"),
        (5400, "1h30m0s", "1h30m"),
        (3 * 86400 + 3600, "73h0m0s", "3d1h"),
    ],
)
def test_durations(seconds: int, go: str, short: str) -> None:
    assert go_duration(timedelta(seconds=seconds)) == go
    assert human(timedelta(seconds=seconds)) == short


def test_soak_is_the_longer_of_completed_and_current() -> None:
    state = verified("dev", 10, longest="1h0m0s")
    assert soak_time(state, F1.name, NOW) == timedelta(hours=1)
    assert soak_time(verified("dev", 10), F1.name, NOW) == timedelta(minutes=10)
    assert soak_time(state, F2.name, NOW) is None
