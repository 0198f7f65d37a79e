"""set-metadata: config table, runs on a real git repository's ledger, and an engine run in which a later step
reads the metadata back through stageMetadata() / freightMetadata()."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.model.freight import Freight
from kargo_actions.promotion.result import PromotionPhase
from kargo_actions.promotion.step_api import (
    StepConfigError,
    StepContext,
    TerminalStepError,
    validate_config,
)
from kargo_actions.promotion.steps.set_metadata import SetMetadata, SetMetadataConfig
from tests.ledger.helpers import git, make_freight, make_repo
from tests.promotion.helpers import FAST, promote, write_project

UNSIGNED = LedgerConfig(signing=SigningPolicy.NEVER)


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"updates": [{"kind": "Stage", "name": "dev", "values": {"a": 1}}]}, []),
        ({"updates": [{"kind": "Freight", "name": "f", "values": {"a": {"b": [1, True, None]}}}]}, []),
        ({}, ["config.updates: required field is missing"]),
        ({"updates": []}, ["config.updates: must have at least 1 item"]),
        (
            {"updates": [{"kind": "Warehouse", "name": "w", "values": {"a": 1}}]},
            ["config.updates[0].kind: must be one of 'Stage' or 'Freight', not 'Warehouse'"],
        ),
        (
            {"updates": [{"kind": "Stage", "name": "", "values": {"a": 1}}]},
            ["config.updates[0].name: must not be empty"],
        ),
        (
            {"updates": [{"kind": "Stage", "name": "dev", "values": {}}]},
            ["config.updates[0].values: must have at least 1 item"],
        ),
        (
            {"updates": [{"kind": "Stage", "name": "dev"}]},
            ["config.updates[0].values: required field is missing"],
        ),
        (
            {"updates": [{"kind": "Stage", "name": "dev", "values": {"a": 1}, "value": 2}]},
            ["config.updates[0].value: unknown field (did you mean 'values'?)"],
        ),
    ],
)
def test_config(config: dict[str, Any], problems: list[str]) -> None:
    if not problems:
        assert isinstance(validate_config("set-metadata", SetMetadataConfig, config), SetMetadataConfig)
        return
    with pytest.raises(StepConfigError) as caught:
        validate_config("set-metadata", SetMetadataConfig, config)
    assert caught.value.lines() == problems


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as opened:
        yield opened


def _run(ledger: Ledger, work: Path, config: dict[str, Any]) -> Any:
    work.mkdir(parents=True, exist_ok=True)
    ctx = StepContext(work_dir=work, ledger=ledger)
    return SetMetadata().run(ctx, validate_config("set-metadata", SetMetadataConfig, config))


def test_values_merge_into_the_ledger_records(ledger: Ledger, tmp_path: Path) -> None:
    recorded = ledger.record_freight(make_freight(1)).freight
    first = {
        "updates": [
            {"kind": "Stage", "name": "dev", "values": {"deployedBy": "ci", "count": 1}},
            {"kind": "Freight", "name": recorded.name, "values": {"deployed": True}},
        ]
    }
    result = _run(ledger, tmp_path / "work", first)
    assert result.message == f"metadata set on Stage dev, Freight {recorded.name}"
    # A second update by alias: named keys change, others stay.
    _run(
        ledger,
        tmp_path / "work",
        {"updates": [{"kind": "Stage", "name": "dev", "values": {"count": 2, "list": [1, {"a": None}]}}]},
    )
    _run(
        ledger,
        tmp_path / "work",
        {"updates": [{"kind": "Freight", "name": recorded.alias, "values": {"notes": "ok"}}]},
    )
    assert ledger.metadata("Stage", "dev") == {"deployedBy": "ci", "count": 2, "list": [1, {"a": None}]}
    assert ledger.metadata("Freight", recorded.name) == {"deployed": True, "notes": "ok"}
    assert ledger.metadata("Stage", "prod") is None
    # One ledger commit per change, saying what changed; the same values again write nothing.
    log = git(
        ledger.repo if hasattr(ledger, "repo") else tmp_path / "repo", "log", "--format=%s", "kargo/ledger"
    )
    assert log.splitlines()[0].startswith(f"metadata: Freight {recorded.name[:12]}: notes")
    before = len(log.splitlines())
    _run(
        ledger,
        tmp_path / "work",
        {"updates": [{"kind": "Freight", "name": recorded.name, "values": {"notes": "ok"}}]},
    )
    assert len(git(tmp_path / "repo", "log", "--format=%s", "kargo/ledger").splitlines()) == before


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (
            {"kind": "Freight", "name": "no-such-freight", "values": {"a": 1}},
            "no Freight matches 'no-such-freight'",
        ),
        ({"kind": "Stage", "name": "Not_A_Stage", "values": {"a": 1}}, "is not a valid Stage name"),
    ],
)
def test_bad_names_are_terminal_errors(
    ledger: Ledger, tmp_path: Path, update: dict[str, Any], message: str
) -> None:
    with pytest.raises(TerminalStepError, match=message):
        _run(ledger, tmp_path / "work", {"updates": [update]})


def test_without_a_ledger_the_step_says_how_to_run_it(tmp_path: Path) -> None:
    config = validate_config(
        "set-metadata", SetMetadataConfig, {"updates": [{"kind": "Stage", "name": "d", "values": {"a": 1}}]}
    )
    with pytest.raises(TerminalStepError, match="kargo-actions promote"):
        SetMetadata().run(StepContext(work_dir=tmp_path), config)


def test_a_later_step_reads_what_set_metadata_wrote(ledger: Ledger, tmp_path: Path) -> None:
    recorded: Freight = ledger.record_freight(make_freight(2)).freight
    project = write_project(
        tmp_path / "project",
        [
            {
                "uses": "set-metadata",
                "config": {
                    "updates": [
                        {
                            "kind": "Stage",
                            "name": "${{ ctx.stage }}",
                            "values": {"deployedBy": "${{ ctx.meta.promotion.actor }}"},
                        },
                        {
                            "kind": "Freight",
                            "name": "${{ ctx.targetFreight.name }}",
                            "values": {"components": [{"name": "frontend", "version": "2.1.0"}]},
                        },
                    ]
                },
            },
            {
                "uses": "compose-output",
                "as": "seen",
                "config": {
                    "by": "${{ stageMetadata('dev').deployedBy }}",
                    "component": "${{ freightMetadata(ctx.targetFreight.name).components[0].version }}",
                    "one": "${{ freightMetadata(ctx.targetFreight.name, 'components')[0].name }}",
                    "missing": "${{ stageMetadata('prod') == nil }}",
                },
            },
        ],
    )
    result = promote(project, tmp_path / "work", options=replace(FAST, ledger=ledger), target=recorded)
    assert result.phase is PromotionPhase.SUCCEEDED, result.message
    assert result.outputs["seen"] == {
        "by": "octocat",
        "component": "2.1.0",
        "one": "frontend",
        "missing": True,
    }


def test_kargo_actions_promote_records_metadata_and_alias(tmp_path: Path) -> None:
    """Through the `promote` command: the steps get the repository's ledger and record on it."""
    from tests.promotion.test_service import record, run, write

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    steps = [
        {
            "uses": "set-metadata",
            "config": {
                "updates": [
                    {
                        "kind": "Stage",
                        "name": "dev",
                        "values": {"release": "${{ imageFrom('ghcr.io/example/app').Tag }}"},
                    },
                    {
                        "kind": "Freight",
                        "name": "${{ ctx.targetFreight.name }}",
                        "values": {"promotedTo": ["dev"]},
                    },
                ]
            },
        },
        {
            "uses": "set-freight-alias",
            "config": {"name": "${{ ctx.targetFreight.name }}", "alias": "release-one"},
        },
        {
            "uses": "compose-output",
            "as": "seen",
            "config": {"release": "${{ stageMetadata('dev').release }}"},
        },
    ]
    write(
        repo,
        [
            {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "p"}},
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Warehouse",
                "metadata": {"name": "app"},
                "spec": {"subscriptions": [{"image": {"repoURL": "ghcr.io/example/app"}}]},
            },
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Stage",
                "metadata": {"name": "dev"},
                "spec": {
                    "requestedFreight": [
                        {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
                    ],
                    "promotionTemplate": {"spec": {"steps": steps}},
                },
            },
        ],
    )
    fid = record(repo, 1, 1)
    code, _out, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1", "-q")
    assert code == 0, err
    with Ledger(repo, UNSIGNED) as ledger:
        assert ledger.metadata("Stage", "dev") == {"release": "1.0.1"}
        assert ledger.metadata("Freight", fid) == {"promotedTo": ["dev"]}
        assert ledger.get_freight("release-one").name == fid
        history = ledger.stage_history("dev").records
    assert history[-1].outputs is not None
    assert history[-1].outputs["seen"] == {"release": "1.0.1"}
