"""Promotion steps and the PromotionTask / ClusterPromotionTask kinds that bundle reusable steps.

A step's `config` stays raw data: expressions in it are evaluated just before the step runs, and
the config is checked against the step's schema then (as Kargo does).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kargo_actions.model.base import KARGO_API_VERSION, ManifestModel, Resource
from kargo_actions.model.fields import GoDuration, ResourceName, VarName


class PromotionVar(ManifestModel):
    """A variable; in a task's declaration, no value means the caller must set it."""

    name: VarName
    value: str | None = None


class TaskReference(ManifestModel):
    name: ResourceName
    kind: Literal["PromotionTask", "ClusterPromotionTask"] = "PromotionTask"


class StepRetry(ManifestModel):
    """errorThreshold: consecutive errors before the step fails (Kargo treats 0 as 1)."""

    error_threshold: int = Field(default=1, ge=0)
    timeout: GoDuration | None = None


class PromotionStep(ManifestModel):
    """One step: `uses` a built-in step, or (in a Stage only) expands a `task`."""

    uses: str | None = Field(default=None, min_length=1)
    task: TaskReference | None = None
    as_: str | None = Field(default=None, alias="as")
    if_: str | None = Field(default=None, alias="if")
    continue_on_error: bool = False
    retry: StepRetry | None = None
    vars: list[PromotionVar] = Field(default_factory=list)
    config: dict[str, Any] | None = None

    def alias(self, index: int) -> str:
        """The step's name in outputs: its `as`, else step-N / task-N (N = 1-based position)."""
        if self.as_:
            return self.as_
        return f"{'task' if self.task is not None else 'step'}-{index + 1}"


class StageStep(PromotionStep):
    """A step of a Stage's promotion template: exactly one of uses or task."""

    @model_validator(mode="after")
    def _uses_xor_task(self) -> StageStep:
        if (self.uses is None) == (self.task is None):
            raise ValueError("a step needs exactly one of uses or task")
        if self.task is not None and self.continue_on_error:
            raise ValueError("a step referencing a task cannot set continueOnError")
        if self.task is not None and self.retry is not None:
            raise ValueError("a step referencing a task cannot set retry")
        return self


class TaskStep(PromotionStep):
    """A step inside a PromotionTask: it must use a step and cannot nest another task."""

    @model_validator(mode="after")
    def _uses_only(self) -> TaskStep:
        if self.task is not None:
            raise ValueError("a PromotionTask step cannot reference another task: use uses")
        if self.uses is None:
            raise ValueError("a PromotionTask step needs uses: the name of the step to run")
        return self


def check_unique_aliases(steps: list[Any]) -> None:
    """Two steps with one alias would overwrite each other's outputs."""
    seen: dict[str, int] = {}
    for i, step in enumerate(steps):
        name = step.alias(i)
        if name in seen:
            raise ValueError(
                f"steps[{seen[name]}] and steps[{i}] are both named {name!r}: give each a unique `as`"
            )
        seen[name] = i


class PromotionTaskSpec(ManifestModel):
    vars: list[PromotionVar] = Field(default_factory=list)
    steps: list[TaskStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _aliases(cls, steps: list[TaskStep]) -> list[TaskStep]:
        check_unique_aliases(steps)
        return steps

    @property
    def required_vars(self) -> list[str]:
        """Declared variables without a value: every Stage using the task must set them."""
        return [v.name for v in self.vars if v.value is None]


class PromotionTask(Resource):
    """Reusable steps in one project (kind PromotionTask)."""

    api_version: Literal["kargo.akuity.io/v1alpha1"] = KARGO_API_VERSION
    kind: Literal["PromotionTask"] = "PromotionTask"
    spec: PromotionTaskSpec


class ClusterPromotionTask(Resource):
    """Reusable steps shared by every project (kind ClusterPromotionTask); here: found in the same folder."""

    api_version: Literal["kargo.akuity.io/v1alpha1"] = KARGO_API_VERSION
    kind: Literal["ClusterPromotionTask"] = "ClusterPromotionTask"
    spec: PromotionTaskSpec
