"""compose-output: makes its config (any keys, any values, usually expressions) the step's outputs."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict, model_validator

from kargo_actions.promotion.step_api import StepConfig, StepContext, StepResult


class ComposeOutputConfig(StepConfig):
    """Kargo's ComposeOutput: an object of at least one key; each key becomes an output."""

    model_config = ConfigDict(extra="allow", alias_generator=None)

    @model_validator(mode="after")
    def _not_empty(self) -> ComposeOutputConfig:
        if not self.model_extra:
            raise ValueError("compose-output needs at least one key: each key becomes an output")
        return self

    @property
    def values(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ComposeOutput:
    """Outputs exactly its config. Inside a PromotionTask they also become the task's outputs."""

    name: ClassVar[str] = "compose-output"
    config_model: ClassVar[type[StepConfig]] = ComposeOutputConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    work_dir_free: ClassVar[bool] = True
    outputs: ClassVar[dict[str, str]] = {
        "<key>": "one per config key, with that key's value; inside a PromotionTask also merged into the task "
        "step's alias (`outputs.<task alias>.<key>`)",
    }
    # Kargo's "task output propagation": the engine also merges the outputs into the task's alias.
    propagates_task_outputs: ClassVar[bool] = True

    def run(self, ctx: StepContext, config: ComposeOutputConfig) -> StepResult:
        values = config.values
        return StepResult(message=f"composed {len(values)} output(s): {', '.join(values)}", outputs=values)
