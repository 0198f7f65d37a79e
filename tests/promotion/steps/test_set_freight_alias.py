"""set-freight-alias: config table and runs on a real git repository's ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.promotion.step_api import (
    StepConfigError,
    StepContext,
    TerminalStepError,
    validate_config,
)
from kargo_actions.promotion.steps.set_freight_alias import SetFreightAlias, SetFreightAliasConfig
from tests.ledger.helpers import make_freight, make_repo

UNSIGNED = LedgerConfig(signing=SigningPolicy.NEVER)


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"name": "abc", "alias": "release-1"}, []),
        ({}, ["config.name: required field is missing", "config.alias: required field is missing"]),
        ({"name": "abc", "alias": ""}, ["config.alias: must not be empty"]),
        (
            {"freightName": "abc", "newAlias": "x"},
            [
                "config.name: required field is missing",
                "config.freightName: unknown field (known fields: alias, name)",
                "config.newAlias: unknown field (did you mean 'alias'?)",
            ],
        ),
        ({"name": 1, "alias": "x"}, ["config.name: expected a string, found an integer"]),
    ],
)
def test_config(config: dict[str, Any], problems: list[str]) -> None:
    if not problems:
        assert isinstance(
            validate_config("set-freight-alias", SetFreightAliasConfig, config), SetFreightAliasConfig
        )
        return
    with pytest.raises(StepConfigError) as caught:
        validate_config("set-freight-alias", SetFreightAliasConfig, config)
    assert caught.value.lines() == problems


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    repo = make_repo(tmp_path / "repo")
    with Ledger(repo, UNSIGNED) as opened:
        yield opened


def _run(ledger: Ledger | None, work: Path, name: str, alias: str) -> Any:
    work.mkdir(parents=True, exist_ok=True)
    config = validate_config("set-freight-alias", SetFreightAliasConfig, {"name": name, "alias": alias})
    return SetFreightAlias().run(StepContext(work_dir=work, ledger=ledger), config)


def test_alias_changes_and_old_one_is_released(ledger: Ledger, tmp_path: Path) -> None:
    first = ledger.record_freight(make_freight(1, alias="old-name")).freight
    result = _run(ledger, tmp_path / "w", first.name, "release-1")
    assert result.message == f"Freight {first.name} is now 'release-1'"
    assert ledger.get_freight("release-1").name == first.name
    # The old alias is free again: another Freight may take it, and the renamed one is found by its new alias.
    second = ledger.record_freight(make_freight(2)).freight
    _run(ledger, tmp_path / "w", second.name, "old-name")
    assert ledger.get_freight("old-name").name == second.name
    # Setting the alias a Freight already has is a no-op that succeeds.
    assert _run(ledger, tmp_path / "w", "release-1", "release-1").message.endswith("'release-1'")


@pytest.mark.parametrize(
    ("name", "alias", "message"),
    [
        ("second", "taken", "alias 'taken' is already used by Freight"),
        ("nobody", "free", "no Freight matches 'nobody'"),
        ("second", "Not Valid", "cannot set alias 'Not Valid'"),
    ],
)
def test_refusals(ledger: Ledger, tmp_path: Path, name: str, alias: str, message: str) -> None:
    ledger.record_freight(make_freight(1, alias="taken"))
    ledger.record_freight(make_freight(2, alias="second"))
    with pytest.raises(TerminalStepError, match=message):
        _run(ledger, tmp_path / "w", name, alias)
    assert ledger.get_freight("second").alias == "second"


def test_without_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(TerminalStepError, match="kargo-actions promote"):
        _run(None, tmp_path / "w", "a", "b")
