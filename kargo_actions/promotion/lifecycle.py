"""A promotion's life on the ledger, one compare-and-swap write per transition, each built by a pure function
of the snapshot (`Ledger.write(build)`), so two writers never both win:

    start      Freight through the gates; the Stage free -> Running, claimed by this process; busy -> refused
               (exit 3) or, with --queue, Pending at the end of the Stage's queue
    suspend    Running, nobody runs it, `wait` says what it waits for (promote --no-wait)
    claim      a waiting (or stale) Running promotion, or the head of the queue, taken by this process
    renew      the runner's lease moved on while its steps run
    finish     the final record and the Stage's new state; the Stage free for the next
    close      ended without its steps going on: aborted, stale (its runner gone), timed out

Kargo runs one Promotion per Stage at a time, in creation order; the Stage state's `activePromotion` and
`pendingPromotions` are that queue.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from kargo_actions.actions_run import run_url
from kargo_actions.errors import InvalidInputError, Problem, RefusedError, did_you_mean
from kargo_actions.ledger.records import (
    HoldRecord,
    LedgerRecordError,
    PromotionRecord,
    PromotionRequest,
    RunnerRecord,
    StageStateRecord,
    deferred_path,
    dump_record,
    promotion_path,
    stage_path,
)
from kargo_actions.ledger.store import NoWrite, Snapshot, WritePlan
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.model.promotion import promotion_name
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.gates import (
    availability,
    candidates,
    changed_states,
    format_time,
    settle_control_flow,
)
from kargo_actions.promotion.liveness import RunChecker, is_ours, stale_reason
from kargo_actions.promotion.transitions import (
    TERMINAL,
    busy_message,
    closed_record,
    freed_state,
    reference,
    running_names,
    succeeded_state,
    with_summary,
)
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.ledger import Ledger


class Mode(enum.StrEnum):
    """Why a promotion runs: by hand, by `promote --auto`, or as a rollback (which also sets the hold)."""

    MANUAL = "manual"
    AUTO = "auto"
    ROLLBACK = "rollback"


class StageBusyError(RefusedError):
    """The Stage runs (or waits in) another promotion: exit 3, naming it and what to do."""


def find_stage(project: Project, name: str) -> Stage:
    """A Stage of the project that can be promoted into; InvalidInputError naming the choices otherwise."""
    stage = project.stages.get(name)
    if stage is None:
        hint = did_you_mean(name, project.stages) or f"Stages: {', '.join(project.stage_order()) or 'none'}"
        raise InvalidInputError([Problem(path="--stage", message=f"no Stage {name!r}", hint=hint)])
    if stage.is_control_flow:
        raise InvalidInputError(
            [
                Problem(
                    path="--stage",
                    message=f"{name} is a control-flow Stage (no promotion steps): nothing to promote into",
                    hint="Freight available to it counts as verified in it on its own; promote its "
                    "downstream Stages instead",
                )
            ]
        )
    return stage


def stage_states(snap: Snapshot) -> dict[str, StageStateRecord]:
    read = snap.stage_states()
    if read.problems:
        raise LedgerRecordError(read.problems)
    return {s.stage: s for s in read.records}


def all_freight(snap: Snapshot, warehouses: list[str] | None = None) -> list[Freight]:
    entries = snap.freight_entries()
    if warehouses is not None:
        entries = [e for e in entries if e.warehouse in warehouses]
    read = snap.freight_records(entries)
    if read.problems:
        raise LedgerRecordError(read.problems)
    return read.records


def settled_states(
    project: Project, snap: Snapshot, now: datetime, *, for_stage: str | None = None, also: str | None = None
) -> tuple[dict[str, StageStateRecord], dict[str, StageStateRecord], list[Freight]]:
    """(states as recorded, states with control-flow Stages settled, every Freight). `for_stage`: only the
    Freight its gate can look at: of the Warehouses it requests or holds, those of the control-flow Stages
    (settled with all of theirs), and `also`'s (at 300 Warehouses, a promotion read 10,000 Freight for 1,000)."""
    states = stage_states(snap)
    wanted: set[str] | None = None
    if for_stage is not None:
        held = states[for_stage].current_freight if for_stage in states else []
        wanted = {*project.stages[for_stage].warehouses, *(c.origin.name for c in held)}
        wanted |= {w for s in project.stages.values() if s.is_control_flow for w in s.warehouses}
        if also:
            wanted.add(also)
    freight = all_freight(snap, None if wanted is None else sorted(wanted))
    return states, settle_control_flow(project, states, freight, now), freight


def load_promotion(snap: Snapshot, stage: str, name: str) -> PromotionRecord | None:
    return snap.load(PromotionRecord, promotion_path(stage, name))


def find_promotion(snap: Snapshot, name: str, stages: list[str]) -> PromotionRecord:
    """A promotion by name (`<stage>.<ULID>.<id7>`); InvalidInputError with did-you-mean when there is none."""
    stage = name.split(".", 1)[0]
    record = load_promotion(snap, stage, name) if stage in stages else None
    if record is not None:
        return record
    known = [n.removesuffix(".json") for s in stages for n in snap.names(f"promotions/{s}")]
    hint = did_you_mean(name, known) or "list them with `kargo-actions history --stage STAGE`"
    raise InvalidInputError([Problem(path="PROMOTION", message=f"no promotion {name!r}", hint=hint)])


@struct
class StartRequest:
    """One promotion asked for: what, into which Stage, by whom, how, and the runner that will run it."""

    stage: Stage
    ref: str
    mode: Mode
    ulid: str
    actor: str
    runner: RunnerRecord
    now: datetime
    lease: timedelta
    queue: bool = False
    skip_steps: tuple[str, ...] = ()
    run_checker: RunChecker | None = None
    trigger: str = ""  # what started an automatic rollback (its record names it)


@struct
class Started:
    """What the start wrote: the Freight, how the gate let it in, the record (Running, or Pending when
    queued), the Stage's Freight of other origins, and stale promotions closed on the way."""

    freight: Freight
    via: str
    record: PromotionRecord
    collection: tuple[Freight, ...]
    closed: tuple[PromotionRecord, ...] = ()

    @property
    def queued(self) -> bool:
        return self.record.phase == "Pending"


def _close_stale(
    snap: Snapshot, state: StageStateRecord, req_now: datetime, lease: timedelta, checker: RunChecker | None
) -> tuple[StageStateRecord, list[PromotionRecord], PromotionRecord | None]:
    """The Stage's holders that are gone closed as Errored; (state, closed records, the live holder or None)."""
    closed: list[PromotionRecord] = []
    holder: PromotionRecord | None = None
    for name in running_names(state):
        record = load_promotion(snap, state.stage, name)
        if record is None or record.phase in TERMINAL:
            state = state.model_copy(update={"active_promotion": None})
            continue
        reason = stale_reason(record, req_now, lease, checker)
        if reason:
            ended = closed_record(record, "Errored", reason, req_now)
            closed.append(ended)
            state = freed_state(state, ended, req_now)
        else:
            holder = record
    return state, closed, holder


def plan_start(
    project: Project, ledger: Ledger, req: StartRequest
) -> Callable[[Snapshot], WritePlan[Started] | NoWrite[Started]]:
    """The start of a promotion: the Freight through the gates and its tag check, the Stage's queue."""
    from kargo_actions.ledger.verify import check_promotable
    from kargo_actions.promotion.freezes import check_open

    stage = req.stage

    def build(snap: Snapshot) -> WritePlan[Started] | NoWrite[Started]:
        now = req.now
        entry = ledger.resolve(req.ref, snap)
        check_promotable(ledger, entry.id, snap)
        # Windows and freezes gate every promotion alike (manual, auto, rollback), before anything is written.
        check_open(project, snap, stage.name, now)
        states, settled, everything = settled_states(
            project, snap, now, for_stage=stage.name, also=entry.warehouse
        )
        item = next(f for f in everything if f.name == entry.id)
        verdict = availability(stage, item, settled, now, rollback=req.mode is Mode.ROLLBACK)
        if not verdict.available:
            shown = item.alias or item.name[:12]
            raise RefusedError(f"Freight {shown} is not available to Stage {stage.name}: {verdict.message}")
        state = states.get(stage.name) or StageStateRecord(stage=stage.name)
        state, closed, holder = _close_stale(snap, state, now, req.lease, req.run_checker)
        busy = holder is not None or bool(state.pending_promotions)
        if busy and not req.queue:
            if holder is None:
                holder = load_promotion(snap, stage.name, state.pending_promotions[0])
            message = busy_message(holder, now, state.pending_promotions) if holder else "Stage is busy"
            raise StageBusyError(message)
        by_id = {f.name: f for f in everything}
        others = tuple(by_id[c.name] for c in state.current_freight if c.name in by_id)
        newest = candidates(stage, [f for f in everything if f.origin == item.origin], settled, now).newest()
        stamp = format_time(now)
        record = PromotionRecord(
            name=promotion_name(stage.name, req.ulid, item.name),
            stage=stage.name,
            freight=reference(item),
            phase="Pending" if busy else "Running",
            actor=req.actor,
            created_at=stamp,
            started_at=None if busy else stamp,
            message=f"{req.mode.value} promotion ({verdict.via})"
            + (f" after {req.trigger}" if req.trigger else "")
            + (", queued" if busy else ""),
            runner=None if busy else req.runner,
            run_url=run_url(os.environ) or None,  # the dashboard links each promotion to the run that did it
            request=PromotionRequest(
                mode=req.mode.value,
                via=verdict.via,
                newest=newest.name if newest else None,
                collection=[f.name for f in others],
                skip_steps=list(req.skip_steps),
                trigger=req.trigger or None,
            ),
        )
        new_state = state.model_copy(
            update={
                "last_promotions": with_summary(state, record),
                "updated_at": stamp,
                "active_promotion": state.active_promotion if busy else record.name,
                "pending_promotions": [*state.pending_promotions, record.name]
                if busy
                else state.pending_promotions,
                "schema_version": 2,
            }
        )
        files: dict[str, bytes | None] = {
            promotion_path(stage.name, record.name): dump_record(record),
            stage_path(stage.name): dump_record(new_state),
        }
        for ended in closed:
            files[promotion_path(stage.name, ended.name)] = dump_record(ended)
        if snap.exists(
            deferred_path(stage.name)
        ):  # the auto-promotion a window or freeze deferred is moot now
            files[deferred_path(stage.name)] = None
        for name, changed in changed_states(states, settled).items():
            if name != stage.name:
                files[stage_path(name)] = dump_record(changed)
        verb = "Pending (queued)" if busy else "Running"
        return WritePlan(
            summary=f"promotion: {record.name} {verb} ({req.mode.value}, by {req.actor})",
            files=files,
            result=Started(item, verdict.via or "", record, others, tuple(closed)),
        )

    return build


def plan_take_queued(
    stage: Stage, runner: RunnerRecord, now: datetime, lease: timedelta, checker: RunChecker | None
) -> Callable[[Snapshot], WritePlan[PromotionRecord | None] | NoWrite[PromotionRecord | None]]:
    """The head of a free Stage's queue becomes Running, claimed by this process (NoWrite(None): nothing to take)."""

    def build(snap: Snapshot) -> WritePlan[PromotionRecord | None] | NoWrite[PromotionRecord | None]:
        state = snap.load(StageStateRecord, stage_path(stage.name)) or StageStateRecord(stage=stage.name)
        state, closed, holder = _close_stale(snap, state, now, lease, checker)
        files: dict[str, bytes | None] = {promotion_path(stage.name, c.name): dump_record(c) for c in closed}
        taken: PromotionRecord | None = None
        pending = list(state.pending_promotions)
        while holder is None and pending and taken is None:
            name = pending.pop(0)
            record = load_promotion(snap, stage.name, name)
            if record is not None and record.phase == "Pending":
                stamp = format_time(now)
                taken = record.model_copy(
                    update={"phase": "Running", "started_at": stamp, "runner": runner, "schema_version": 2}
                )
                files[promotion_path(stage.name, name)] = dump_record(taken)
        if taken is None and not closed:
            return NoWrite(None)
        new_state = state.model_copy(
            update={
                "pending_promotions": pending,
                "active_promotion": taken.name if taken is not None else state.active_promotion,
                "last_promotions": with_summary(state, taken) if taken is not None else state.last_promotions,
                "updated_at": format_time(now),
                "schema_version": 2,
            }
        )
        files[stage_path(stage.name)] = dump_record(new_state)
        what = f"{taken.name} Running (from the queue)" if taken is not None else "stale promotions closed"
        return WritePlan(summary=f"promotion: {what}", files=files, result=taken)

    return build


def plan_claim(
    stage: str, name: str, runner: RunnerRecord, expect_step: int | None, now: datetime, lease: timedelta
) -> Callable[[Snapshot], WritePlan[PromotionRecord | None] | NoWrite[PromotionRecord | None]]:
    """A waiting promotion taken by this process to resume it at `expect_step`; NoWrite(None) when another
    process has it or it moved on (so two resumers never run the same step)."""

    def build(snap: Snapshot) -> WritePlan[PromotionRecord | None] | NoWrite[PromotionRecord | None]:
        record = load_promotion(snap, stage, name)
        if record is None or record.phase != "Running" or record.current_step != expect_step:
            return NoWrite(None)
        if record.runner is not None and not is_ours(record.runner) and not stale_reason(record, now, lease):
            return NoWrite(None)
        claimed = record.model_copy(update={"runner": runner, "schema_version": 2})
        return WritePlan(
            summary=f"promotion: {name} resumed at step {record.wait.step if record.wait else expect_step}",
            files={promotion_path(stage, name): dump_record(claimed)},
            result=claimed,
        )

    return build


def plan_renew(
    stage: str, name: str, now: Callable[[], datetime], lease: timedelta
) -> Callable[[Snapshot], WritePlan[bool] | NoWrite[bool]]:
    """The lease of this process's claim moved on; NoWrite(False) when the promotion is no longer ours."""

    def build(snap: Snapshot) -> WritePlan[bool] | NoWrite[bool]:
        record = load_promotion(snap, stage, name)
        if record is None or record.phase != "Running" or not is_ours(record.runner):
            return NoWrite(False)
        assert record.runner is not None
        runner = record.runner.model_copy(update={"lease_expires_at": format_time(now() + lease)})
        return WritePlan(
            summary=f"promotion: {name} lease renewed",
            files={promotion_path(stage, name): dump_record(record.model_copy(update={"runner": runner}))},
            result=True,
        )

    return build


def plan_close(
    stage: str,
    name: str,
    phase: str,
    message: str,
    now: datetime,
    *,
    only_if_stale: bool = False,
    lease: timedelta | None = None,
    checker: RunChecker | None = None,
) -> Callable[[Snapshot], WritePlan[PromotionRecord | None] | NoWrite[PromotionRecord | None]]:
    """A Running or Pending promotion ended (aborted, timed out, stale): record and Stage queue.

    With `only_if_stale`, only when its runner is (still) gone, and `message` is taken from why."""

    def build(snap: Snapshot) -> WritePlan[PromotionRecord | None] | NoWrite[PromotionRecord | None]:
        record = load_promotion(snap, stage, name)
        if record is None or record.phase in TERMINAL:
            return NoWrite(record)
        why = message
        if only_if_stale:
            why = stale_reason(record, now, lease or timedelta(minutes=10), checker)
            if not why:
                return NoWrite(None)
        ended = closed_record(record, phase, why, now)
        state = snap.load(StageStateRecord, stage_path(stage)) or StageStateRecord(stage=stage)
        return WritePlan(
            summary=f"promotion: {name} {phase} ({why})",
            files={
                promotion_path(stage, name): dump_record(ended),
                stage_path(stage): dump_record(freed_state(state, ended, now)),
            },
            result=ended,
        )

    return build


def plan_suspend(
    record: PromotionRecord, now: datetime
) -> Callable[[Snapshot], WritePlan[bool] | NoWrite[bool]]:
    """The run stopped at a waiting step: Running with `wait`, no runner (NoWrite(False): no longer ours)."""

    def build(snap: Snapshot) -> WritePlan[bool] | NoWrite[bool]:
        current = load_promotion(snap, record.stage, record.name)
        if current is None or current.phase != "Running" or not is_ours(current.runner):
            return NoWrite(False)
        state = snap.load(StageStateRecord, stage_path(record.stage)) or StageStateRecord(stage=record.stage)
        new_state = state.model_copy(
            update={"last_promotions": with_summary(state, record), "updated_at": format_time(now)}
        )
        wait = record.wait.description if record.wait else "a step"
        return WritePlan(
            summary=f"promotion: {record.name} waiting for {wait}",
            files={
                promotion_path(record.stage, record.name): dump_record(
                    record.model_copy(update={"runner": None})
                ),
                stage_path(record.stage): dump_record(new_state),
            },
            result=True,
        )

    return build


@struct
class Finished:
    """What the final write did: whether it was written (False: the promotion was ended by someone else
    meanwhile, e.g. aborted), the Stage's state after it, and whether the origin was held before."""

    written: bool
    state: StageStateRecord
    held_before: bool
    record: PromotionRecord


def plan_finish(
    project: Project,
    stage: Stage,
    freight: Freight,
    final: PromotionRecord,
    now: Callable[[], datetime],
    *,
    hold: HoldRecord | None,
    lift: bool,
) -> Callable[[Snapshot], WritePlan[Finished] | NoWrite[Finished]]:
    """The final record and the Stage's new state (current Freight, verified, holds), the Stage freed."""

    def build(snap: Snapshot) -> WritePlan[Finished] | NoWrite[Finished]:
        moment = now()
        states = stage_states(snap)
        state = states.get(stage.name) or StageStateRecord(stage=stage.name)
        held = freight.origin.name in state.holds
        current = load_promotion(snap, stage.name, final.name)
        if current is not None and current.phase in TERMINAL:
            return NoWrite(Finished(False, state, held, current))
        if final.phase == "Succeeded":
            new = succeeded_state(state, stage, freight, final, moment, hold=hold, lift_hold=lift)
        else:
            new = state.model_copy(
                update={"last_promotions": with_summary(state, final), "updated_at": format_time(moment)}
            )
        new = new.model_copy(
            update={
                "active_promotion": None if new.active_promotion == final.name else new.active_promotion,
                "schema_version": 2,
            }
        )
        after = {**states, stage.name: new}
        settled = settle_control_flow(project, after, all_freight(snap), moment)
        files: dict[str, bytes | None] = {
            promotion_path(stage.name, final.name): dump_record(final),
            stage_path(stage.name): dump_record(new),
        }
        for name, changed in changed_states(after, settled).items():
            files[stage_path(name)] = dump_record(changed)
        # Without control-flow Stages it depends on this Stage's state and this promotion's record alone,
        # so it may wait as a pending write for another writer to land (WritePlan.combine).
        combine = None
        if not any(s.is_control_flow for s in project.stages.values()):
            read = (stage_path(stage.name), promotion_path(stage.name, final.name))
            combine = {path: snap.oid(path) for path in read}
        return WritePlan(
            summary=f"promotion: {final.name} {final.phase} (by {final.actor})",
            files=files,
            result=Finished(True, new, held, final),
            combine=combine,
        )

    return build
