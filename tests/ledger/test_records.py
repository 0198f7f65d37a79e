"""Record models: every kind round-trips through its file, bad names never become paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kargo_actions.errors import InvalidInputError
from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.records import (
    AnalysisResult,
    ApprovalRecord,
    DiscoveredArtifactsRecord,
    DiscoveryResult,
    FreightRecord,
    FreightReference,
    PromotionRecord,
    PromotionSummary,
    StageStateRecord,
    StepRecord,
    VerificationRecord,
    alias_path,
    approval_path,
    discovered_path,
    dump_record,
    freight_path,
    load_freight,
    load_record,
    promotion_path,
    stage_path,
)
from kargo_actions.model.freight import FreightOrigin, Image
from tests.ledger.helpers import git, make_freight, make_repo

ORIGIN = FreightOrigin(name="app")
REF = FreightReference(name="a" * 40, alias="brave-otter", origin=ORIGIN)


def test_freight_record_is_the_kargo_resource_plus_schema_version() -> None:
    freight = make_freight(1, alias="brave-otter")
    data = json.loads(dump_record(FreightRecord.of(freight)))
    assert data["schemaVersion"] == 1
    assert (data["apiVersion"], data["kind"], data["metadata"]["name"]) == (
        "kargo.akuity.io/v1alpha1",
        "Freight",
        freight.name,
    )
    assert "status" not in data
    assert FreightRecord.model_validate(data).freight() == freight


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (lambda: freight_path("app", "a" * 40), f"freight/app/{'a' * 40}.json"),
        (lambda: alias_path("brave-otter"), "aliases/brave-otter.json"),
        (lambda: stage_path("prod-eu.1"), "stages/prod-eu.1.json"),
        (lambda: freight_path("../etc", "a" * 40), "not a valid Warehouse name"),
        (lambda: freight_path("app", "abc"), "not a Freight ID"),
        (lambda: stage_path("Prod"), "not a valid Stage name"),
        (lambda: alias_path("a/b"), "not a valid alias name"),
        (lambda: promotion_path("dev", "x/../../y"), "not a valid Promotion name"),
        (lambda: approval_path("dev", "A" * 40), "not a Freight ID"),
        (lambda: discovered_path(""), "not a valid Warehouse name"),
    ],
)
def test_paths_accept_names_and_refuse_anything_else(path, expected: str) -> None:  # type: ignore[no-untyped-def]
    if "/" in expected:
        assert path() == expected
    else:
        with pytest.raises(InvalidInputError, match=expected):
            path()


def test_unknown_field_and_wrong_type_name_the_file_and_field() -> None:
    with pytest.raises(InvalidInputError) as err:
        load_record(
            StageStateRecord, b'{"schemaVersion": 1, "stage": 3, "extra": true}', "kargo/ledger:stages/x.json"
        )
    lines = err.value.lines()
    assert (
        lines[0]
        == "kargo/ledger:stages/x.json: stage: expected a string, found an integer (not a valid StageStateRecord)"
    )
    assert lines[1].startswith(
        "kargo/ledger:stages/x.json: extra: unknown field (not a valid StageStateRecord) (known"
    )
    with pytest.raises(InvalidInputError) as err:
        load_freight(b'{"schemaVersion": 1, "origin": {"name": "app"}, "metdata": {}}', "freight/app/x.json")
    assert err.value.lines() == [
        "freight/app/x.json: metdata: unknown field (not a valid FreightRecord) (did you mean 'metadata'?)"
    ]


def test_every_record_kind_round_trips_through_the_ledger(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    discovered = DiscoveredArtifactsRecord(
        warehouse="app",
        discovered_at="2026-01-01T00:00:00Z",
        results=[
            DiscoveryResult(
                kind="image",
                repo_url="ghcr.io/example/app",
                images=[Image(repo_url="ghcr.io/example/app", tag="1.0.0", digest="sha256:" + "0" * 64)],
            )
        ],
    )
    promotion = PromotionRecord(
        name=f"dev.01J00000000000000000000000.{'a' * 7}",
        stage="dev",
        freight=REF,
        phase="Failed",
        created_at="2026-01-01T00:00:00Z",
        steps=[StepRecord(alias="step-1", uses="git-clone", status="Failed", message="no such repo")],
        run_url="https://github.com/o/r/actions/runs/1",
        outputs={"step-1": {"commit": "abc"}},
    )
    verification = VerificationRecord(
        id="01J00000000000000000000001",
        stage="dev",
        freight=REF,
        phase="Successful",
        started_at="2026-01-01T00:00:00Z",
        results=[AnalysisResult(template="smoke", phase="Successful")],
    )
    approval = ApprovalRecord(
        freight="a" * 40, stage="prod", approved_at="2026-01-01T00:00:00Z", actor="octocat"
    )
    state = StageStateRecord(
        stage="dev",
        last_promotions=[PromotionSummary(name=promotion.name, freight="a" * 40, phase="Failed")],
    )
    with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
        ledger.record_discovery(discovered)
        ledger.record_promotion(promotion, state)
        ledger.record_verification(verification)
        ledger.record_approval(approval)
        snap = ledger.snapshot()
        assert snap.load(DiscoveredArtifactsRecord, discovered_path("app")) == discovered
        assert ledger.stage_history("dev").records == [promotion]
        assert snap.load(VerificationRecord, f"verifications/dev/{verification.id}.json") == verification
        assert snap.load(ApprovalRecord, approval_path("prod", "a" * 40)) == approval
        assert ledger.stage_state("dev") == state
        assert ledger.stage_state("qa") == StageStateRecord(stage="qa")
    subjects = git(repo, "log", "--format=%s", "kargo/ledger").splitlines()
    assert [s.split(":")[0] for s in subjects] == ["approval", "verification", "promotion", "discovery"]
    with pytest.raises(ValueError, match="at most 10"):
        StageStateRecord(stage="dev", last_promotions=[state.last_promotions[0]] * 11)
