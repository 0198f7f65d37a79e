"""One step alone (`kargo-actions step run`): the engine's path for a single step, fed by a JSON context."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.model.freight import Freight
from kargo_actions.model.messages import dotted, field_problems
from kargo_actions.promotion.engine import Engine, PromotionRun, StepResolver, prepare_work_dir
from kargo_actions.promotion.options import EngineOptions
from kargo_actions.promotion.registry import get_step
from kargo_actions.promotion.result import PromotionResult
from kargo_actions.promotion.tasks import PlannedStep, PromotionPlan


class _Open(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Origin(_Open):
    name: str = ""


class _TargetFreight(_Open):
    # alias and origin are read from the Freight itself; accepted so a ctx copied from Kargo loads.
    name: str = ""
    alias: str = ""
    origin: _Origin = Field(default_factory=_Origin)


class _PromotionMeta(_Open):
    actor: str = ""
    rollback: bool = False


class _StepMeta(_Open):
    alias: str = ""


class _Meta(_Open):
    promotion: _PromotionMeta = Field(default_factory=_PromotionMeta)
    step: _StepMeta = Field(default_factory=_StepMeta)


class _Ctx(_Open):
    ui_base_url: str = Field(default="", alias="uiBaseUrl")
    project: str = ""
    stage: str = ""
    promotion: str = ""
    target_freight: _TargetFreight = Field(default_factory=_TargetFreight, alias="targetFreight")
    meta: _Meta = Field(default_factory=_Meta)


class _Task(_Open):
    outputs: dict[str, Any] = Field(default_factory=dict)


class StepRunContext(_Open):
    """What `step run --context` may hold: ctx, vars, freight (a list of Kargo Freight), outputs, task."""

    ctx: _Ctx = Field(default_factory=_Ctx)
    vars: dict[str, Any] = Field(default_factory=dict)
    freight: list[Freight] = Field(default_factory=list)
    outputs: dict[str, Any] = Field(default_factory=dict)
    task: _Task | None = None

    @classmethod
    def parse(cls, data: Any) -> StepRunContext:
        """The context from JSON data; InvalidInputError naming every field that does not fit."""
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise InvalidInputError(
                [
                    Problem(path=dotted(("--context", *p.loc)), message=p.message, hint=p.hint)
                    for p in field_problems(err, cls)
                ]
            ) from err

    def target(self) -> Freight | None:
        """The Freight named by ctx.targetFreight.name, else the first of the list."""
        wanted = self.ctx.target_freight.name
        found = next((f for f in self.freight if f.name == wanted), None) if wanted else None
        if wanted and found is None:
            raise InvalidInputError(
                [
                    Problem(
                        path="--context.ctx.targetFreight.name", message=f"no Freight {wanted!r} in freight"
                    )
                ]
            )
        return found or (self.freight[0] if self.freight else None)


def run_single_step(
    name: str,
    config: dict[str, Any],
    *,
    work_dir: Path,
    context: StepRunContext | None = None,
    alias: str = "",
    abort: threading.Event | None = None,
    options: EngineOptions | None = None,
    resolve_step: StepResolver = get_step,
) -> PromotionResult:
    """Run step `name` once, exactly as the engine runs a step of a promotion (expressions, schema, retry)."""
    resolve_step(name)  # an unknown name is invalid input (exit 2), not a failed step
    context = context or StepRunContext()
    ctx = context.ctx
    run = PromotionRun(
        project=ctx.project,
        stage=ctx.stage,
        name=ctx.promotion,
        target_freight=context.target(),
        freight=list(context.freight),
        actor=ctx.meta.promotion.actor,
        work_dir=prepare_work_dir(work_dir),
        abort=abort if abort is not None else threading.Event(),
        preset_vars=dict(context.vars),
        preset_outputs=dict(context.outputs),
        preset_task_outputs=dict(context.task.outputs) if context.task is not None else None,
    )
    opts = options or EngineOptions(rollback=ctx.meta.promotion.rollback, ui_base_url=ctx.ui_base_url)
    alias = alias or ctx.meta.step.alias or "step"
    plan = PromotionPlan(steps=(PlannedStep(alias=alias, uses=name, config=config),))
    return Engine(run, opts, resolve_step).run(plan)
