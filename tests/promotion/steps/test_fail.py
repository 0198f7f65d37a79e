"""fail: always fails (Kargo's status Failed), with its message."""

from __future__ import annotations

from pathlib import Path

import pytest

from kargo_actions.promotion.step_api import StepConfigError, StepContext, StepFailed, validate_config
from kargo_actions.promotion.steps.fail import Fail, FailConfig


@pytest.mark.parametrize(
    ("config", "message"),
    [({}, "failed"), ({"message": "chart name mismatch"}, "failed: chart name mismatch")],
)
def test_run(tmp_path: Path, config: dict[str, object], message: str) -> None:
    with pytest.raises(StepFailed) as caught:
        Fail().run(StepContext(work_dir=tmp_path), validate_config("fail", FailConfig, config))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"message": ""}, "config.message: must not be empty"),
        ({"message": 1}, "config.message: expected a string, found an integer"),
        ({"msg": "x"}, "config.msg: unknown field (did you mean 'message'?)"),
        ({"reason": "x"}, "config.reason: unknown field (known fields: message)"),
    ],
)
def test_config(config: dict[str, object], problem: str) -> None:
    with pytest.raises(StepConfigError) as caught:
        validate_config("fail", FailConfig, config)
    assert caught.value.lines() == [problem]
