"""Settings discoveryShardThreshold: a positive integer, else exit 2 naming FILE:LINE and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kargo_actions.model.settings import SettingsSpec
from tests.promotion.test_service import run


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (1, ""),
        (50, ""),
        (400, ""),
        (0, "0 is not a positive integer"),
        (-3, "-3 is not a positive integer"),
        ("50", "'50' is not a positive integer"),
        (2.5, "2.5 is not a positive integer"),
        (True, "True is not a positive integer"),
        (None, "None is not a positive integer"),
    ],
)
def test_shard_threshold_values(value: object, problem: str) -> None:
    if not problem:
        assert (
            SettingsSpec.model_validate({"discoveryShardThreshold": value}).discovery_shard_threshold == value
        )
        return
    with pytest.raises(ValidationError, match=problem):
        SettingsSpec.model_validate({"discoveryShardThreshold": value})


def test_default_is_fifty() -> None:
    assert SettingsSpec().discovery_shard_threshold == 50


def test_a_bad_threshold_is_exit_2_with_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / ".kargo"
    config.mkdir()
    (config / "settings.yaml").write_text(
        "apiVersion: kargo-actions/v1alpha1\nkind: Settings\nmetadata:\n  name: settings\n"
        "spec:\n  ledgerBranch: kargo/ledger\n  discoveryShardThreshold: many\n"
    )
    code, _out, err = run(tmp_path, "--config-dir", str(config), "validate")
    assert code == 2
    assert "settings.yaml:7:3: spec.discoveryShardThreshold: 'many' is not a positive integer" in err
    assert "Traceback" not in err
