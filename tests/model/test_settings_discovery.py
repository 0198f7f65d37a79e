"""Settings discoveryTimeout: the deadline of one subscription's discovery (flag > env > file > default)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from kargo_actions.model.settings import Settings, SettingsSpec

CASES: list[tuple[str, str]] = [
    ("1s", ""),
    ("90s", ""),
    ("1h", ""),
    ("999ms", "'999ms' is shorter than 1s"),
    ("0", "'0' is shorter than 1s"),
    ("-5m", "is shorter than 1s"),
    ("5 minutes", "invalid duration '5 minutes'"),
]


@pytest.mark.parametrize(("value", "problem"), CASES)
def test_discovery_timeout_values(value: str, problem: str) -> None:
    if not problem:
        SettingsSpec.model_validate({"discoveryTimeout": value})
        return
    with pytest.raises(ValidationError, match=problem):
        SettingsSpec.model_validate({"discoveryTimeout": value})


def test_default_is_five_minutes() -> None:
    assert SettingsSpec().discovery_timeout_duration == timedelta(minutes=5)


def test_flag_beats_env_beats_file() -> None:
    settings = Settings.model_validate({"spec": {"discoveryTimeout": "2m"}})
    env = {"KARGO_ACTIONS_DISCOVERY_TIMEOUT": "30s"}
    assert settings.resolved({}).discovery_timeout == "2m"
    assert settings.resolved(env).discovery_timeout == "30s"
    assert settings.resolved(env, discovery_timeout="7s").discovery_timeout == "7s"
    with pytest.raises(ValidationError, match="shorter than 1s"):
        settings.resolved({"KARGO_ACTIONS_DISCOVERY_TIMEOUT": "0s"})
