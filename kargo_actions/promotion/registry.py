"""The explicit registry of built-in steps: step name -> "module:Class", imported only when used."""

from __future__ import annotations

import importlib
from typing import Any

from kargo_actions.errors import InvalidInputError, Problem, did_you_mean
from kargo_actions.promotion.steps.base import Step

_PACKAGE = "kargo_actions.promotion.steps"

# One line per step; the module is named after the step (git-clone -> git_clone).
STEPS: dict[str, str] = {}


def step_names() -> frozenset[str]:
    return frozenset(STEPS)


def get_step(name: str) -> Step[Any]:
    """A new instance of the step called `name`; InvalidInputError with a suggestion when there is none."""
    target = STEPS.get(name)
    if target is None:
        raise InvalidInputError(
            [Problem(path="uses", message=f"unknown step {name!r}", hint=did_you_mean(name, STEPS))]
        )
    module_name, _, attr = target.partition(":")
    step_class = getattr(importlib.import_module(f"{_PACKAGE}.{module_name}"), attr)
    step: Step[Any] = step_class()
    return step
