"""fail: fails the promotion, with an optional message (usually behind an `if`)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from kargo_actions.promotion.step_api import StepConfig, StepContext, StepFailed, StepResult


class FailConfig(StepConfig):
    """Kargo's FailConfig."""

    message: Annotated[str, Field(min_length=1)] | None = None
    """Why; the step's message becomes `failed: <message>`."""


class Fail:
    """Always fails (status Failed, never retried); the message says why."""

    name: ClassVar[str] = "fail"
    config_model: ClassVar[type[StepConfig]] = FailConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    work_dir_free: ClassVar[bool] = True
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: FailConfig) -> StepResult:
        raise StepFailed(f"failed: {config.message}" if config.message else "failed")
