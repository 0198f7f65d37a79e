"""Expand a Stage's promotion template into the flat list of steps a Promotion runs (Kargo's inflation).

A `task:` step becomes the steps of its PromotionTask / ClusterPromotionTask, each named
`<task alias>::<step alias>`, with the task's variables resolved as Kargo resolves them: a task default
yields to a value the Stage or template sets, the task step's own vars come next, the inner step's last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.model.project import Project
from kargo_actions.model.promotion_task import PromotionStep, PromotionVar, StepRetry
from kargo_actions.model.stage import Stage
from kargo_actions.struct import struct

ALIAS_SEPARATOR = "::"

Loc = tuple[str | int, ...]


@struct
class Source:
    """Where a step is written: a manifest (kind, name) and the field path of the step in it."""

    kind: str
    name: str
    path: Loc

    def problem(self, project: Project | None, *sub: str | int, message: str, hint: str = "") -> Problem:
        """A Problem at this step (or a field under it), with file:line:col when the project knows them."""
        # The loader's path format, imported here, on the error path, as it brings ruamel.
        from kargo_actions.manifest_yaml import format_path

        where = (self.path, *sub)
        loc: Loc = tuple(p for part in where for p in (part if isinstance(part, tuple) else (part,)))
        if project is not None and project.locator is not None:
            base = project.locate(self.kind, self.name, loc)
        else:
            base = Problem(path=format_path(loc))
        return Problem(
            file=base.file,
            line=base.line,
            col=base.col,
            path=f"{self.kind}/{self.name}: {base.path or format_path(loc)}",
            message=message,
            hint=hint,
        )


@struct
class PlannedStep:
    """One step as the engine runs it: alias, the step it uses, its condition, policy, vars and raw config."""

    alias: str
    uses: str
    if_: str = ""
    continue_on_error: bool = False
    retry: StepRetry | None = None
    vars: tuple[PromotionVar, ...] = ()
    config: Mapping[str, Any] | None = None
    task: str = ""  # the alias of the task step it came from: its outputs namespace
    source: Source | None = None

    @property
    def short_alias(self) -> str:
        """The alias inside its task (what task.outputs and status() know it by)."""
        return self.alias.split(ALIAS_SEPARATOR, 1)[1] if self.task else self.alias


@struct
class PromotionPlan:
    """The Promotion's variables (Stage vars, then template vars) and its expanded steps."""

    vars: tuple[PromotionVar, ...] = ()
    steps: tuple[PlannedStep, ...] = ()


def plan_promotion(project: Project, stage: Stage) -> PromotionPlan:
    """The plan of one promotion into `stage`; InvalidInputError for a missing task or required variable."""
    template = stage.spec.promotion_template
    promotion_vars = (*stage.spec.vars, *(template.spec.vars if template else ()))
    if template is None:
        return PromotionPlan(vars=tuple(promotion_vars))
    base: Loc = ("spec", "promotionTemplate", "spec", "steps")
    steps: list[PlannedStep] = []
    problems: list[Problem] = []
    for index, step in enumerate(template.spec.steps):
        source = Source("Stage", stage.name, (*base, index))
        alias = step.alias(index)
        if step.task is None:
            steps.append(_planned(step, alias, tuple(step.vars), "", source))
            continue
        # Kargo's admission webhook refuses these: the task's own steps carry conditions and configs.
        if step.if_:
            problems.append(
                source.problem(project, "if", message="a step referencing a task cannot have an `if`")
            )
        if step.config is not None:
            problems.append(
                source.problem(project, "config", message="a step referencing a task cannot have a config")
            )
        task = project.task(step.task)
        if task is None:
            problems.append(
                source.problem(
                    project, "task", "name", message=f"{step.task.kind} {step.task.name!r} does not exist"
                )
            )
            continue
        task_vars, missing = _task_vars(task.spec.vars, promotion_vars, step.vars)
        problems.extend(
            source.problem(
                project,
                "task",
                message=f"{step.task.kind} {task.name!r} requires variable {name!r}, which is not set",
                hint="set it in this step's vars, the promotionTemplate's vars or the Stage's vars",
            )
            for name in missing
        )
        for inner_index, inner in enumerate(task.spec.steps):
            inner_source = Source(step.task.kind, task.name, ("spec", "steps", inner_index))
            inner_alias = f"{alias}{ALIAS_SEPARATOR}{inner.alias(inner_index)}"
            steps.append(_planned(inner, inner_alias, (*task_vars, *inner.vars), alias, inner_source))
    seen: dict[str, PlannedStep] = {}
    for planned in steps:
        if planned.alias in seen and planned.source is not None:
            problems.append(
                planned.source.problem(
                    project,
                    "as",
                    message=f"two steps are named {planned.alias!r}",
                    hint="give each a unique `as`",
                )
            )
        seen[planned.alias] = planned
    if problems:
        raise InvalidInputError(problems)
    return PromotionPlan(vars=tuple(promotion_vars), steps=tuple(steps))


def _planned(
    step: PromotionStep, alias: str, vars: tuple[PromotionVar, ...], task: str, source: Source
) -> PlannedStep:
    assert step.uses is not None  # the models guarantee it for steps that are not task references
    return PlannedStep(
        alias=alias,
        uses=step.uses,
        if_=step.if_ or "",
        continue_on_error=step.continue_on_error,
        retry=step.retry,
        vars=vars,
        config=step.config,
        task=task,
        source=source,
    )


def _task_vars(
    declared: Sequence[PromotionVar],
    promotion_vars: Sequence[PromotionVar],
    step_vars: Sequence[PromotionVar],
) -> tuple[tuple[PromotionVar, ...], list[str]]:
    """The vars a task's steps start with (defaults the Promotion does not set, then the task step's vars),
    and the required variables nobody sets."""
    set_by_promotion = {v.name for v in promotion_vars if v.value}
    set_by_step = {v.name for v in step_vars if v.value}
    defaults: list[PromotionVar] = []
    missing: list[str] = []
    for var in declared:
        if var.name in set_by_promotion:
            continue
        if var.value:
            defaults.append(var)
        elif var.name not in set_by_step:
            missing.append(var.name)
    return (*defaults, *step_vars), missing


def resume_blocker(plan: PromotionPlan, index: int, resolve: Callable[[str], object]) -> PlannedStep | None:
    """The step that keeps a promotion from stopping at step `index` and resuming in another process, or None.

    A resumed promotion keeps every step's outputs but not the work dir. So the waiting step itself, and every
    later step, must not need files in it, unless a later git-clone makes a new checkout first (the steps
    after it are taken to work on that checkout). An unknown step counts as needing the work dir.
    """
    from kargo_actions.promotion.step_api import needs_work_dir

    fresh = False
    for at, planned in enumerate(plan.steps[index:], start=index):
        if at > index and planned.uses == "git-clone":
            fresh = True
            continue
        if fresh:
            continue
        try:
            step = resolve(planned.uses)
        except (InvalidInputError, ImportError):  # an unknown or unloadable step: assume the worst
            return planned
        if needs_work_dir(step, planned.config):
            return planned
    return None


def suspend_points(
    plan: PromotionPlan, resolve: Callable[[str], object]
) -> list[tuple[PlannedStep, PlannedStep]]:
    """(waiting step, the step that needs the work dir after it) for every step that can report Running where
    the promotion could not stop and resume (`validate` warns of each; the run waits in its process there)."""
    from kargo_actions.promotion.step_api import may_wait

    found: list[tuple[PlannedStep, PlannedStep]] = []
    for index, planned in enumerate(plan.steps):
        try:
            step = resolve(planned.uses)
        except (InvalidInputError, ImportError):  # the loader reports unknown steps
            continue
        if not may_wait(step):
            continue
        blocker = resume_blocker(plan, index, resolve)
        if blocker is not None:
            found.append((planned, blocker))
    return found


def resume_warnings(project: Project) -> list[Problem]:
    """A warning at each step that can wait where a promotion could not stop and resume in another process
    (`promote --no-wait` waits in its process there instead); `validate` reports them."""
    from kargo_actions.promotion.registry import get_step

    warnings: list[Problem] = []
    for name in project.stage_order():
        stage = project.stages[name]
        if stage.is_control_flow:
            continue
        try:
            plan = plan_promotion(project, stage)
        except InvalidInputError:  # the loader reports a template that does not expand
            continue
        for waiting, blocker in suspend_points(plan, get_step):
            message = (
                f"step {waiting.alias!r} ({waiting.uses}) can wait, but a promotion cannot stop there and resume "
                f"later: step {blocker.alias!r} ({blocker.uses}) after it needs files in the work dir, which a "
                "resumed promotion does not have; `promote --no-wait` waits in its process at this step"
            )
            hint = (
                "move the steps that need the work dir before the waiting step, or add a git-clone after it"
            )
            if waiting.source is not None:
                warnings.append(waiting.source.problem(project, message=message, hint=hint))
            else:
                warnings.append(Problem(path=f"Stage/{name}", message=message, hint=hint))
    return warnings
