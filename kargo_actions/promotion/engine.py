"""The promotion engine: runs a Stage's expanded steps in one work dir, as Kargo's local orchestrator does.

Per step, just before it runs: its variables (the Promotion's, then its own), its `if`, and its config are
evaluated; the config is checked against the step's model; the step runs with its retry policy. Outputs go
to `outputs[alias]` (and, for compose-output inside a task, to the task's alias). Statuses, the final phase
and the `if` defaults are Kargo's; an abort (a threading.Event the CLI sets on SIGTERM/SIGINT) stops the
running step and ends the promotion Aborted.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kargo_actions.errors import InvalidInputError, KargoActionsError, Problem
from kargo_actions.expressions.values import format_duration
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.model.promotion import new_ulid, promotion_name
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.evaluation import Evaluator, StepOutcome, has_failures
from kargo_actions.promotion.options import EngineOptions, ResumePoint
from kargo_actions.promotion.registry import STEPS, get_step
from kargo_actions.promotion.result import SEVERITY, PromotionPhase, PromotionResult, StepRun
from kargo_actions.promotion.step_api import (
    Step,
    StepAborted,
    StepConfigError,
    StepContext,
    StepError,
    StepFailed,
    StepResult,
    StepStatus,
    StepTimedOut,
    TerminalStepError,
    WaitingOn,
    effects_local,
    validate_config,
)
from kargo_actions.promotion.tasks import PlannedStep, PromotionPlan, plan_promotion, resume_blocker
from kargo_actions.struct import struct

StepResolver = Callable[[str], Step[Any]]


@struct
class PromotionRun:
    """What a promotion is about: project, stage, the Freight, who asked, and where steps work."""

    project: str
    stage: str
    name: str
    target_freight: Freight | None
    freight: Sequence[Freight]
    actor: str
    work_dir: Path
    abort: threading.Event = field(default_factory=threading.Event)
    # Values known before any step runs (`step run --context`): already evaluated, never templates.
    preset_vars: Mapping[str, Any] = field(default_factory=dict)
    preset_outputs: Mapping[str, Any] = field(default_factory=dict)
    preset_task_outputs: Mapping[str, Any] | None = None


def run_promotion(
    project: Project,
    stage: Stage,
    freight: Freight,
    *,
    work_dir: Path,
    name: str = "",
    freight_collection: Sequence[Freight] = (),
    actor: str = "",
    abort: threading.Event | None = None,
    options: EngineOptions | None = None,
    resolve_step: StepResolver = get_step,
    fresh_work_dir: bool = False,
    resume: ResumePoint | None = None,
) -> PromotionResult:
    """Promote `freight` into `stage`: expand its template, run every step (from `resume` when given), return
    the typed result.

    `name` defaults to Kargo's `<stage>.<ULID>.<id7>`; with `fresh_work_dir` a work dir holding anything is
    refused (a promotion must not build on another's leftovers). Raises InvalidInputError before any step
    runs when the template cannot be expanded (a missing task or required variable) or the work dir is
    unusable; everything that goes wrong later is in the result.
    """
    plan = plan_promotion(project, stage)
    if not name:
        name = promotion_name(stage.name, new_ulid(), freight.name)
    run = PromotionRun(
        project=project.name,
        stage=stage.name,
        name=name,
        target_freight=freight,
        freight=_collection(freight, freight_collection),
        actor=actor,
        work_dir=prepare_work_dir(work_dir, require_empty=fresh_work_dir),
        abort=abort if abort is not None else threading.Event(),
    )
    return Engine(run, options or EngineOptions(), resolve_step, project).run(plan, resume)


def _collection(target: Freight, others: Sequence[Freight]) -> list[Freight]:
    """The target Freight plus the Stage's current Freight of every other origin (Kargo's collection)."""
    kept = [f for f in others if f.origin != target.origin and f.name != target.name]
    return [target, *kept]


def prepare_work_dir(work_dir: Path, *, require_empty: bool = False) -> Path:
    """The work dir, created when missing; InvalidInputError when it is a file (or, if asked, not empty)."""
    if work_dir.exists() and not work_dir.is_dir():
        raise InvalidInputError([Problem(file=str(work_dir), message="the work dir is not a directory")])
    if require_empty and work_dir.is_dir() and any(work_dir.iterdir()):
        raise InvalidInputError(
            [
                Problem(
                    file=str(work_dir),
                    message="the work dir is not empty: a promotion starts from an empty one",
                    hint="remove it or give another --work-dir",
                )
            ]
        )
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidInputError(
            [Problem(file=str(work_dir), message=f"cannot create the work dir: {err.strerror or err}")]
        ) from err
    return work_dir


@struct(frozen=False)
class _Progress:
    """The mutable bookkeeping of one step while it runs."""

    started_at: datetime
    attempts: int = 0
    errors: int = 0
    run_seconds: float = 0.0
    outputs: Mapping[str, Any] = field(default_factory=dict)
    deadline: datetime | None = None  # started_at + retry.timeout
    waiting: WaitingOn | None = None  # set when the run stops at this step (status Running)
    next_check_at: datetime | None = None


@struct
class _At:
    """The step the engine is at: its plan entry, the plan, its index, and the resume point when it is the
    step a resumed promotion goes on with."""

    planned: PlannedStep
    plan: PromotionPlan
    index: int
    resume: ResumePoint | None = None


class Engine:
    """Runs a PromotionPlan for one PromotionRun; create one per promotion."""

    def __init__(
        self,
        run: PromotionRun,
        options: EngineOptions,
        resolve_step: StepResolver = get_step,
        project: Project | None = None,
    ) -> None:
        self.run_info = run
        self.options = options
        self.resolve_step = resolve_step
        self.project = project
        self.env: Mapping[str, str] = dict(options.env if options.env is not None else os.environ)
        self.state: dict[str, Any] = dict(run.preset_outputs)
        self.runs: list[StepRun] = []
        self.evaluator = Evaluator(run, options, project, self.env, self.state, self.runs)

    def run(self, plan: PromotionPlan, resume: ResumePoint | None = None) -> PromotionResult:
        """Run every step of the plan in order (from `resume.index` when resuming) and decide the phase.

        With `options.suspend`, a step that reports Running where the promotion can resume elsewhere ends
        the run: phase Running, `current_step` at that step, whose StepRun says what it waits for.
        """
        first = 0
        started = self.options.now()
        if resume is not None:
            first = resume.index
            self.runs.extend(resume.runs[:first])
            self.state.update(resume.state)
            started = resume.started_at or started
        todo = plan.steps[first:]
        # Steps reached only behind an `if` are imported when reached: kargo-simple's pull-request steps
        # would otherwise cost every promotion the import of the GitHub client.
        deferred = {
            p.uses
            for p in todo
            if p.uses in STEPS
            and self.resolve_step is get_step
            and all(q.if_ for q in todo if q.uses == p.uses)
        }
        impls, problems = self._resolve([p for p in todo if p.uses not in deferred])
        # A step that cannot run and has no `if` would certainly be reached: refuse before anything runs
        # (Kargo would run up to it). One behind an `if` (kargo-simple's optional PR steps) errs only if reached.
        refused = [
            self._unresolved_run(planned, problems[planned.uses])
            for planned in todo
            if planned.uses in problems and not planned.if_ and planned.uses not in self.options.skip_steps
        ]
        if refused:
            return self._result(
                started, PromotionPhase.ERRORED, "; ".join(r.message for r in refused), refused
            )
        aborted = False
        for index, planned in enumerate(todo, start=first):
            if self.run_info.abort.is_set():
                aborted = True
                break
            step_run = self._step(
                _At(planned, plan, index, resume if resume is not None and index == first else None),
                impls.get(planned.uses),
                problems.get(planned.uses),
            )
            self.runs.append(step_run)
            if self.options.on_step is not None:
                self.options.on_step(step_run)
            if step_run.status is StepStatus.RUNNING:
                return self._result(started, PromotionPhase.RUNNING, step_run.message, (), current_step=index)
            if step_run.status is StepStatus.ABORTED:
                aborted = True
                break
        phase, message = self._final_phase(aborted)
        return self._result(started, phase, message, ())

    def probe(self, plan: PromotionPlan, resume: ResumePoint) -> StepResult | None:
        """One look, recording nothing, at the step a stopped promotion waits at: its result now, or None when
        it cannot be told here (the resume then finds out). Only for steps that read without changing
        anything (`probe_safe`), so `reconcile` can leave a promotion alone that cannot move yet."""
        planned = plan.steps[resume.index]
        step, _ = self._load(planned.uses)
        if step is None or not getattr(step, "probe_safe", False):
            return None
        self.runs.extend(resume.runs[: resume.index])
        self.state.update(resume.state)
        try:
            variables = self.evaluator.variables(planned, plan)
            config = validate_config(
                planned.uses, step.config_model, self.evaluator.config(planned, variables)
            )
            safe = step.probe_safe  # type: ignore[attr-defined]
            if callable(safe) and not safe(config):  # safe for some configs only (an http GET)
                return None
            return step.run(self._context(planned, None), config)
        except (StepOutcome, KargoActionsError):  # a resume records what is wrong
            return None

    def _result(
        self,
        started: datetime,
        phase: PromotionPhase,
        message: str,
        extra: Sequence[StepRun],
        current_step: int | None = None,
    ) -> PromotionResult:
        target = self.run_info.target_freight
        return PromotionResult(
            name=self.run_info.name,
            stage=self.run_info.stage,
            freight=target.name if target is not None else "",
            phase=phase,
            message=message,
            steps=(*self.runs, *extra),
            outputs=dict(self.state),
            actor=self.run_info.actor,
            started_at=started,
            finished_at=None if phase is PromotionPhase.RUNNING else self.options.now(),
            current_step=current_step,
        )

    def _resolve(self, steps: Sequence[PlannedStep]) -> tuple[dict[str, Step[Any]], dict[str, Problem]]:
        """Every step's implementation, and a problem for each name that has none."""
        impls: dict[str, Step[Any]] = {}
        problems: dict[str, Problem] = {}
        for planned in steps:
            if planned.uses in impls or planned.uses in problems:
                continue
            step, problem = self._load(planned.uses)
            if step is not None:
                impls[planned.uses] = step
            if problem is not None:
                problems[planned.uses] = problem
        return impls, problems

    def _load(self, uses: str) -> tuple[Step[Any] | None, Problem | None]:
        """One step's implementation, or the problem that prevents it."""
        try:
            return self.resolve_step(uses), None
        except InvalidInputError as err:
            return None, err.problems[0] if err.problems else Problem(message=str(err))
        except ImportError as err:  # a step whose optional dependency is not installed
            return None, Problem(
                message=f"step {uses!r} cannot be loaded: {err}",
                hint="install what it needs (see docs/steps)",
            )

    def _unresolved_run(self, planned: PlannedStep, found: Problem) -> StepRun:
        problem = self.evaluator.at(planned, "uses", message=found.message, hint=found.hint)
        return StepRun(
            alias=planned.alias,
            uses=planned.uses,
            status=StepStatus.ERRORED,
            message=str(problem),
            task=planned.task,
            problems=(problem,),
        )

    def _step(self, at: _At, step: Step[Any] | None, missing: Problem | None) -> StepRun:
        planned = at.planned
        resumed = at.resume
        progress = _Progress(
            started_at=resumed.step_started_at if resumed else self.options.now(),
            errors=resumed.error_count if resumed else 0,
        )
        clock = time.perf_counter()
        try:
            status, message, problems = self._attempt_all(at, step, missing, progress)
        except StepOutcome as outcome:
            status, message, problems = outcome.status, outcome.message, outcome.problems
        running = status is StepStatus.RUNNING
        return StepRun(
            alias=planned.alias,
            uses=planned.uses,
            status=status,
            message=message,
            outputs=progress.outputs,
            started_at=progress.started_at,
            finished_at=None if running else self.options.now(),
            duration=time.perf_counter() - clock,
            run_seconds=progress.run_seconds,
            attempts=progress.attempts,
            error_count=progress.errors,
            continue_on_error=planned.continue_on_error,
            task=planned.task,
            problems=problems,
            waiting=progress.waiting,
            next_check_at=progress.next_check_at,
            deadline=progress.deadline,
        )

    def _attempt_all(
        self, at: _At, step: Step[Any] | None, missing: Problem | None, progress: _Progress
    ) -> tuple[StepStatus, str, tuple[Problem, ...]]:
        planned = at.planned
        if not planned.if_ and has_failures(self.runs):
            return StepStatus.SKIPPED, "skipped: an earlier step failed", ()
        if planned.uses in self.options.skip_steps:
            return StepStatus.SKIPPED, f"skipped: step {planned.uses!r} is in the skip list", ()
        variables = self.evaluator.variables(planned, at.plan)
        if planned.if_ and not self.evaluator.condition(planned, variables):
            return StepStatus.SKIPPED, f"skipped: `if` is false ({planned.if_})", ()
        if step is None and missing is None:  # deferred until reached (see run)
            step, missing = self._load(planned.uses)
        if step is None:
            run = self._unresolved_run(planned, missing or Problem(message=f"no step {planned.uses!r}"))
            return run.status, run.message, run.problems
        data = self.evaluator.config(planned, variables)
        try:
            config = validate_config(planned.uses, step.config_model, data)
        except StepConfigError as err:
            located = tuple(
                self.evaluator.at(planned, "config", *loc, message=p.message, hint=p.hint)
                for p, loc in zip(err.problems, err.locs, strict=True)
            )
            count = f"{len(located)} problem{'s' if len(located) != 1 else ''}"
            text = f"invalid config for step {planned.alias!r} ({planned.uses}), {count}: " + "; ".join(
                map(str, located)
            )
            return StepStatus.FAILED, text, located
        if self.options.before_external is not None and not effects_local(step):
            self.options.before_external()  # may raise ClaimLost: nothing outside the work dir has changed
        return self._execute(at, step, config, progress)

    def _suspend_blocker(self, at: _At) -> str:
        """Why the run cannot stop at this step and resume elsewhere ("" when it can, or was not asked to)."""
        if not self.options.suspend:
            return "not asked to stop (--no-wait)"
        blocker = resume_blocker(at.plan, at.index, self.resolve_step)
        if blocker is None:
            return ""
        return f"step {blocker.alias!r} ({blocker.uses}) after it needs files in the work dir"

    def _execute(
        self, at: _At, step: Step[Any], config: Any, progress: _Progress
    ) -> tuple[StepStatus, str, tuple[Problem, ...]]:
        """Run the step with its retry policy until it succeeds, fails for good, times out, is aborted or (with
        `suspend`) reports Running where the promotion can stop. The timeout counts from the step's start,
        which for a resumed step is when it first ran."""
        planned = at.planned
        retry = planned.retry
        threshold = max(1, retry.error_threshold if retry is not None else 1)  # Kargo reads 0 as the default
        timeout = parse_go_duration(retry.timeout) if retry and retry.timeout else None
        label = retry.timeout if retry and retry.timeout else ""
        default_timeout = getattr(step, "default_timeout", None)
        if timeout is None and callable(default_timeout):  # a step that waits across runs (argocd-wait)
            timeout = default_timeout(self.env)
            label = format_duration(timeout) if timeout is not None else ""
        deadline: float | None = None
        if timeout is not None and timeout.total_seconds() > 0:
            progress.deadline = progress.started_at + timeout
            deadline = time.monotonic() + (progress.deadline - self.options.now()).total_seconds()
        backoff = self.options.retry_backoff
        alias = planned.alias
        timed_out = f"step {alias!r} timed out after {label}"
        if deadline is not None and time.monotonic() >= deadline:  # resumed after its deadline
            return StepStatus.ERRORED, timed_out, ()
        blocker: str | None = None
        while True:
            ctx = self._context(planned, deadline)
            progress.attempts += 1
            clock = time.perf_counter()
            try:
                result = step.run(ctx, config)
            except StepAborted as err:
                return StepStatus.ABORTED, str(err), ()
            except StepTimedOut:
                return StepStatus.ERRORED, timed_out, ()
            except StepFailed as err:
                return StepStatus.FAILED, str(err), ()
            except StepConfigError as err:
                return StepStatus.FAILED, str(err), err.problems
            except TerminalStepError as err:
                return StepStatus.ERRORED, f"an unrecoverable error occurred: {err}", ()
            except StepError as err:
                result = StepResult(StepStatus.ERRORED, str(err))
            except KargoActionsError as err:  # bad input found by the step itself (e.g. an expression)
                return StepStatus.ERRORED, f"an unrecoverable error occurred: {err}", ()
            except Exception as err:  # a bug in a step must end as a recorded Errored step, not a crash
                return (
                    StepStatus.ERRORED,
                    f"unexpected error in step {alias!r}: {type(err).__name__}: {err}",
                    (),
                )
            finally:
                progress.run_seconds += time.perf_counter() - clock
            self._store_outputs(planned, step, result.outputs)
            progress.outputs = dict(result.outputs)
            if result.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED, StepStatus.FAILED):
                return result.status, result.message, ()
            if result.status is StepStatus.ABORTED:
                return StepStatus.ABORTED, result.message or f"step {alias!r} aborted", ()
            wait = self.options.poll_interval if result.retry_after is None else result.retry_after
            if result.status is StepStatus.ERRORED:
                progress.errors += 1
                if progress.errors >= threshold:
                    prefix = f"step {alias!r} met error threshold of {threshold}: " if threshold > 1 else ""
                    return StepStatus.ERRORED, prefix + (result.message or "no details provided"), ()
                wait, backoff = backoff, min(backoff * 2, self.options.retry_backoff_max)
            elif result.status is StepStatus.RUNNING:
                if blocker is None:
                    blocker = self._suspend_blocker(at)
                if not blocker:
                    progress.waiting = result.waiting or WaitingOn(kind="step", description=result.message)
                    progress.next_check_at = self.options.now() + timedelta(seconds=wait)
                    return StepStatus.RUNNING, result.message or f"step {alias!r} is waiting", ()
                if self.options.on_wait is not None:
                    told = result.message or "waiting"
                    if self.options.suspend:
                        told += f" (waiting here: cannot stop, {blocker})"
                    self.options.on_wait(alias, told)
            if deadline is not None and time.monotonic() + wait > deadline:
                return StepStatus.ERRORED, timed_out, ()
            if self.run_info.abort.wait(wait):
                return StepStatus.ABORTED, f"step {alias!r} aborted while waiting to run again", ()

    def _context(self, planned: PlannedStep, deadline: float | None) -> StepContext:
        info = self.run_info
        return StepContext(
            work_dir=info.work_dir,
            project=info.project,
            stage=info.stage,
            promotion=info.name,
            alias=planned.alias,
            actor=info.actor,
            target_freight=info.target_freight,
            freight=info.freight,
            env=self.env,
            abort=info.abort,
            deadline=deadline,
            outputs=dict(self.state),
            ledger=self.options.ledger,
        )

    def _store_outputs(self, planned: PlannedStep, step: Step[Any], outputs: Mapping[str, Any]) -> None:
        self.state[planned.alias] = dict(outputs)
        # Kargo's task output propagation: compose-output inside a task also speaks for the task.
        if planned.task and getattr(step, "propagates_task_outputs", False):
            merged = self.state.get(planned.task)
            self.state[planned.task] = {**(merged if isinstance(merged, dict) else {}), **outputs}

    def _final_phase(self, aborted: bool) -> tuple[PromotionPhase, str]:
        """Kargo's rule: the worst status of the steps without continueOnError decides, with its message."""
        if aborted:
            last = next((r for r in reversed(self.runs) if r.status is StepStatus.ABORTED), None)
            return PromotionPhase.ABORTED, last.message if last else "aborted before the next step started"
        worst = StepStatus.SUCCEEDED
        message = ""
        for r in self.runs:
            if not r.continue_on_error and SEVERITY[r.status] > SEVERITY[worst]:
                worst, message = r.status, r.message
        phase = {
            StepStatus.SUCCEEDED: PromotionPhase.SUCCEEDED,
            StepStatus.SKIPPED: PromotionPhase.SUCCEEDED,
            StepStatus.ABORTED: PromotionPhase.ABORTED,
            StepStatus.FAILED: PromotionPhase.FAILED,
        }.get(worst, PromotionPhase.ERRORED)
        return phase, message
