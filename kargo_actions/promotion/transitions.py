"""Pure record transitions of a promotion: engine results to promotion records and back (to resume), and a
Stage's state after a promotion succeeded, ended or was queued. No I/O: the plan builders of
promotion/lifecycle.py compose these into ledger writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.ledger.records import (
    MAX_LAST_PROMOTIONS,
    CurrentFreight,
    FreightHistoryEntry,
    FreightReference,
    HoldRecord,
    PromotionRecord,
    PromotionSummary,
    RunnerRecord,
    StageStateRecord,
    StepRecord,
    VerifiedFreight,
    WaitRecord,
)
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.model.freight import Freight
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.gates import format_time, go_duration, parse_time
from kargo_actions.promotion.options import ResumePoint
from kargo_actions.promotion.result import PromotionPhase, PromotionResult, StepRun
from kargo_actions.promotion.step_api import StepStatus, WaitingOn
from kargo_actions.promotion.tasks import PlannedStep, PromotionPlan

TERMINAL = frozenset({"Succeeded", "Failed", "Errored", "Aborted"})


def reference(freight: Freight) -> FreightReference:
    return FreightReference(name=freight.name, alias=freight.alias, origin=freight.origin)


def summary(record: PromotionRecord) -> PromotionSummary:
    return PromotionSummary(
        name=record.name, freight=record.freight.name, phase=record.phase, finished_at=record.finished_at
    )


def with_summary(state: StageStateRecord, record: PromotionRecord) -> list[PromotionSummary]:
    kept = [p for p in state.last_promotions if p.name != record.name]
    return [summary(record), *kept][:MAX_LAST_PROMOTIONS]


def _stamp(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None


def _wait(run: StepRun) -> WaitRecord:
    waiting = run.waiting or WaitingOn(kind="step", description=run.message or f"step {run.alias}")
    kind = waiting.kind if waiting.kind in ("pull-request", "workflow-run", "http", "argocd") else "step"
    return WaitRecord(
        kind=kind,  # type: ignore[arg-type]
        description=waiting.description,
        step=run.alias,
        url=waiting.url or None,
        repo_url=waiting.repo_url or None,
        number=waiting.number,
        since=_stamp(run.started_at) or "",
        next_check_at=_stamp(run.next_check_at),
        deadline=_stamp(run.deadline),
    )


def promotion_record(
    result: PromotionResult,
    freight: Freight,
    created_at: str,
    phase: str | None = None,
    *,
    base: PromotionRecord | None = None,
    runner: RunnerRecord | None = None,
) -> PromotionRecord:
    """The ledger record of an engine result (Kargo's Promotion status: phase, message, steps, outputs as
    `state`, currentStep, what it waits on), keeping what `base` (the record so far) knows of the request."""
    waiting = result.waiting_step
    data: dict[str, Any] = {
        "name": result.name,
        "stage": result.stage,
        "freight": reference(freight),
        "phase": phase or result.phase.value,
        "message": result.message or None,
        "actor": result.actor or None,
        "created_at": created_at,
        "started_at": format_time(result.started_at) if result.started_at else created_at,
        "finished_at": _stamp(result.finished_at),
        "steps": [
            StepRecord(
                alias=s.alias,
                uses=s.uses,
                status=s.status.value,
                message=s.message or None,
                started_at=_stamp(s.started_at),
                finished_at=_stamp(s.finished_at),
                error_count=s.error_count,
            )
            for s in result.steps
        ],
        "outputs": dict(result.outputs) or None,
        "current_step": result.current_step
        if result.current_step is not None
        else (len(result.steps) - 1 if result.steps else None),
        "wait": _wait(waiting) if waiting is not None else None,
        "runner": runner,
    }
    if base is not None:
        data.update(request=base.request, deployment_id=base.deployment_id, run_url=base.run_url)
    return PromotionRecord(**data)


def step_run(step: StepRecord, planned: PlannedStep | None = None) -> StepRun:
    """A recorded step as the engine's StepRun; `planned` adds what only the plan knows (continueOnError,
    the task it belongs to), which success(), failure() and status() of a resumed promotion read."""
    return StepRun(
        alias=step.alias,
        uses=step.uses or (planned.uses if planned is not None else ""),
        status=StepStatus(step.status),
        message=step.message or "",
        started_at=parse_time(step.started_at),
        finished_at=parse_time(step.finished_at),
        error_count=step.error_count,
        continue_on_error=planned.continue_on_error if planned is not None else False,
        task=planned.task if planned is not None else "",
    )


def resume_point(record: PromotionRecord, plan: PromotionPlan) -> ResumePoint:
    """Where the engine goes on with a stopped promotion; InvalidInputError when the Stage's steps changed
    since it stopped (a resumed promotion runs the steps it started with, or none)."""
    index = record.current_step
    if record.wait is None or index is None or index >= len(record.steps):
        raise InvalidInputError(f"promotion {record.name} is not waiting at a step: nothing to resume")
    changed = len(plan.steps) <= index or any(
        plan.steps[i].alias != s.alias or (s.uses is not None and plan.steps[i].uses != s.uses)
        for i, s in enumerate(record.steps[: index + 1])
    )
    if changed:
        raise InvalidInputError(
            [
                Problem(
                    path=f"Stage/{record.stage}",
                    message=f"the Stage's promotion steps changed while promotion {record.name} waited at step "
                    f"{record.steps[index].alias!r}: it cannot go on with steps it did not start with",
                    hint="promote the Freight again",
                )
            ]
        )
    runs = tuple(step_run(s, plan.steps[i]) for i, s in enumerate(record.steps[:index]))
    waiting = record.steps[index]
    return ResumePoint(
        index=index,
        runs=runs,
        state=dict(record.outputs or {}),
        step_started_at=parse_time(waiting.started_at or record.wait.since) or datetime.now().astimezone(),
        error_count=waiting.error_count,
        started_at=parse_time(record.started_at),
    )


def result_of(record: PromotionRecord) -> PromotionResult:
    """The engine result a record stands for (for reports of promotions that ended without running here)."""
    return PromotionResult(
        name=record.name,
        stage=record.stage,
        freight=record.freight.name,
        phase=PromotionPhase(record.phase),
        message=record.message or "",
        steps=tuple(step_run(s) for s in record.steps),
        outputs=dict(record.outputs or {}),
        actor=record.actor or "",
        started_at=parse_time(record.started_at),
        finished_at=parse_time(record.finished_at),
        current_step=record.current_step,
    )


def closed_record(record: PromotionRecord, phase: str, message: str, now: datetime) -> PromotionRecord:
    """A Running or Pending promotion ended without its steps going on (aborted, stale, timed out, refused):
    the step it stood at ends too."""
    stamp = format_time(now)
    steps = list(record.steps)
    if record.current_step is not None and record.current_step < len(steps):
        step = steps[record.current_step]
        if step.status == "Running":
            step_status = "Aborted" if phase == "Aborted" else "Errored"
            steps[record.current_step] = step.model_copy(
                update={"status": step_status, "finished_at": stamp, "message": message}
            )
    return record.model_copy(
        update={
            "phase": phase,
            "message": message,
            "finished_at": stamp,
            "started_at": record.started_at or stamp,
            "steps": steps,
            "runner": None,
            "schema_version": 2,
        }
    )


def freed_state(state: StageStateRecord, record: PromotionRecord, now: datetime) -> StageStateRecord:
    """The Stage's state once `record` (now ended) no longer holds or waits for it."""
    return state.model_copy(
        update={
            "active_promotion": None if state.active_promotion == record.name else state.active_promotion,
            "pending_promotions": [p for p in state.pending_promotions if p != record.name],
            "last_promotions": with_summary(state, record),
            "updated_at": format_time(now),
            "schema_version": 2,
        }
    )


def _leave(state: StageStateRecord, leaving: CurrentFreight, now: datetime) -> dict[str, VerifiedFreight]:
    """A Freight leaves the Stage: its soak there is complete, so `longestSoak` may grow."""
    verified = dict(state.verified)
    entry = verified.get(leaving.name)
    if entry is None:
        return verified
    starts = [t for t in (parse_time(entry.verified_at), parse_time(leaving.since)) if t is not None]
    if not starts:
        return verified
    soaked = now - max(starts)
    longest = parse_go_duration(entry.longest_soak) if entry.longest_soak else None
    if longest is None or soaked > longest:
        verified[leaving.name] = entry.model_copy(update={"longest_soak": go_duration(soaked)})
    return verified


def succeeded_state(
    state: StageStateRecord,
    stage: Stage,
    freight: Freight,
    record: PromotionRecord,
    now: datetime,
    *,
    hold: HoldRecord | None,
    lift_hold: bool,
) -> StageStateRecord:
    """The Stage's state after the Freight arrived: current Freight, history, verified (no verification
    defined: success alone verifies, Kargo's rule), holds, last promotions."""
    stamp = format_time(now)
    verified = dict(state.verified)
    current: list[CurrentFreight] = []
    for cur in state.current_freight:
        if cur.origin == freight.origin and cur.name != freight.name:
            verified = _leave(state.model_copy(update={"verified": verified}), cur, now)
        elif cur.origin != freight.origin:
            current.append(cur)
    since = next((c.since for c in state.current_freight if c.name == freight.name), stamp)
    current.append(CurrentFreight(name=freight.name, origin=freight.origin, since=since))
    if stage.spec.verification is None:
        previous = verified.get(freight.name)
        verified[freight.name] = VerifiedFreight(
            verified_at=stamp, longest_soak=previous.longest_soak if previous else None
        )
    history = [
        FreightHistoryEntry(
            freight=[
                reference(freight)
                if c.name == freight.name
                else FreightReference(name=c.name, origin=c.origin)
                for c in current
            ],
            promotion=record.name,
            since=stamp,
        ),
        *state.freight_history,
    ][:MAX_LAST_PROMOTIONS]
    holds = dict(state.holds)
    if hold is not None:
        holds[freight.origin.name] = hold
    elif lift_hold:
        holds.pop(freight.origin.name, None)
    return state.model_copy(
        update={
            "current_freight": current,
            "verified": verified,
            "freight_history": history,
            "holds": holds,
            "last_promotions": with_summary(state, record),
            "updated_at": stamp,
        }
    )


def running_names(state: StageStateRecord) -> list[str]:
    """The promotions that hold a Stage: its active one, or (schema 1 ledgers) a Running one in its summary."""
    if state.active_promotion:
        return [state.active_promotion]
    return [p.name for p in state.last_promotions if p.phase == "Running"]


def busy_message(record: PromotionRecord, now: datetime, pending: Sequence[str]) -> str:
    """Why a Stage takes no new promotion now, and what to do: wait, queue or abort."""
    started = parse_time(record.started_at or record.created_at)
    age = go_duration(now - started) if started is not None else "?"
    doing = f"waiting for {record.wait.description}" if record.wait is not None else "running its steps"
    queued = f"; {len(pending)} more queued" if pending else ""
    return (
        f"Stage {record.stage} is busy: promotion {record.name} ({record.phase}, {doing}) has run for {age}"
        f"{queued}. Queue this one behind it with --queue, wait for it (kargo-actions status), or end it with "
        f"`kargo-actions promote --abort {record.name}`"
    )


def describe(record: PromotionRecord, now: datetime) -> str:
    """A Running or Pending promotion for people, with the command that acts on it (events.describe_wire)."""
    from kargo_actions.promotion.events import describe_wire

    return describe_wire(record.wire(), now)
