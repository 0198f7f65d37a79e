"""compose-output: its config is its outputs; inside a task the engine also gives them to the task."""

from __future__ import annotations

from pathlib import Path

import pytest

from kargo_actions.promotion.step_api import StepConfigError, StepContext, validate_config
from kargo_actions.promotion.steps.compose_output import ComposeOutput, ComposeOutputConfig


@pytest.mark.parametrize(
    "config",
    [
        {"a": 1},
        {"url": "https://x/pull/3", "n": None, "nested": {"list": [1, "two"]}},
        {"inPath": "kept as given"},
    ],
)
def test_outputs_are_the_config(tmp_path: Path, config: dict[str, object]) -> None:
    parsed = validate_config("compose-output", ComposeOutputConfig, config)
    result = ComposeOutput().run(StepContext(work_dir=tmp_path), parsed)
    assert dict(result.outputs) == config
    assert list(tmp_path.iterdir()) == []  # touches no file


def test_empty_config_is_refused() -> None:
    with pytest.raises(StepConfigError) as caught:
        validate_config("compose-output", ComposeOutputConfig, {})
    assert caught.value.lines() == [
        "config: compose-output needs at least one key: each key becomes an output"
    ]


def test_declares_task_output_propagation() -> None:
    assert ComposeOutput.propagates_task_outputs is True
