"""Config tables for step tests: the problems the engine reports for a config, as it prints them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kargo_actions.promotion.step_api import StepConfig, StepConfigError, validate_config


def problems(model: type[StepConfig], data: Mapping[str, Any]) -> list[str]:
    """Every problem validate_config finds (Kargo's JSON rules), as "config.field: message (hint)"."""
    try:
        validate_config("step", model, data)
    except StepConfigError as err:
        return err.lines()
    return []
