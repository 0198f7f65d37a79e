"""Stop the line: freezes recorded in the ledger, and the gate every promotion passes before its start write.

A Stage takes a promotion (manual, auto or rollback) when its promotion windows are open
(promotion/windows.py) and no freeze holds it: neither the project-wide one (`freeze --all`) nor its own.
A freeze lasts until lifted (`unfreeze`) or until its `until`. An auto-promotion refused so is recorded as
deferred; `reconcile` runs it when the Stage opens.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kargo_actions.errors import InvalidInputError, Problem, RefusedError
from kargo_actions.ledger.layout import deferred_path, format_time, freeze_path, parse_time
from kargo_actions.ledger.records import DeferredPromotionRecord, FreezeRecord, dump_record
from kargo_actions.ledger.store import NoWrite, Snapshot, WritePlan
from kargo_actions.model.project import Project
from kargo_actions.promotion.windows import Schedule, stage_schedule
from kargo_actions.struct import struct


class StageClosedError(RefusedError):
    """A promotion window or a freeze refuses every promotion into the Stage now (exit 3)."""

    def __init__(self, message: str, *, stage: str, opens_at: datetime | None) -> None:
        super().__init__(message)
        self.stage = stage
        self.opens_at = opens_at


def is_active(freeze: FreezeRecord, now: datetime) -> bool:
    if freeze.lifted_at is not None:
        return False
    until = parse_time(freeze.until)
    return until is None or now < until


def freeze_text(freeze: FreezeRecord) -> str:
    """`frozen by alice at 2026-12-04T10:00:00Z: incident 42 (until ...)`."""
    until = f" (until {freeze.until})" if freeze.until else ""
    return f"frozen by {freeze.actor or 'unknown'} at {freeze.frozen_at}: {freeze.reason}{until}"


def active_freezes(snap: Snapshot, stage: str, now: datetime) -> list[FreezeRecord]:
    """The freezes that hold the Stage now: the project-wide one first, then its own."""
    found = [snap.load(FreezeRecord, freeze_path(None)), snap.load(FreezeRecord, freeze_path(stage))]
    return [f for f in found if f is not None and is_active(f, now)]


@struct
class Opening:
    """Whether a Stage takes promotions now: its windows' schedule and the freezes holding it."""

    schedule: Schedule
    freezes: tuple[FreezeRecord, ...] = ()

    @property
    def open(self) -> bool:
        return self.schedule.open and not self.freezes

    @property
    def opens_at(self) -> datetime | None:
        """When it opens next as far as known: the windows' next change; a freeze without `until` is unknown."""
        if self.open:
            return None
        moments = [parse_time(f.until) for f in self.freezes]
        if not self.schedule.open:
            moments.append(self.schedule.next_change)
        if any(m is None for m in moments):
            return None
        return max(m for m in moments if m is not None)

    @property
    def message(self) -> str:
        if self.freezes:
            freeze = self.freezes[0]
            scope = "every Stage is" if freeze.stage is None else f"{self.schedule.stage} is"
            lift = "--all" if freeze.stage is None else f"--stage {self.schedule.stage}"
            text = f"{scope} {freeze_text(freeze)}; lift it with `kargo-actions unfreeze {lift}`"
            return text if self.schedule.open else f"{text}; and {self.schedule.message}"
        return self.schedule.message

    def to_json(self) -> dict[str, object]:
        return {
            "open": self.open,
            "schedule": self.schedule.to_json(),
            "freezes": [f.wire() for f in self.freezes],
            "message": self.message,
        }


def opening(project: Project, snap: Snapshot, stage: str, now: datetime) -> Opening:
    return Opening(stage_schedule(project, stage, now), tuple(active_freezes(snap, stage, now)))


def check_open(project: Project, snap: Snapshot, stage: str, now: datetime) -> None:
    """StageClosedError (exit 3) naming the window or the freeze (who, when, why) when the Stage is closed."""
    state = opening(project, snap, stage, now)
    if not state.open:
        raise StageClosedError(state.message, stage=stage, opens_at=state.opens_at)


def parse_until(text: str, now: datetime) -> datetime:
    """`--until`: an RFC 3339 time (`2026-12-07T09:00:00+01:00`) or a duration from now (`2h`, `90m`)."""
    from kargo_actions.model.fields import parse_go_duration

    moment = parse_time(text)
    if moment is None:
        try:
            moment = now + parse_go_duration(text)
        except ValueError:
            moment = None
    if moment is None or moment <= now:
        raise InvalidInputError(
            [
                Problem(
                    path="--until",
                    message=f"{text!r} is not a time in the future",
                    hint="give an RFC 3339 time (2026-12-07T09:00:00Z) or a duration from now (2h, 90m)",
                )
            ]
        )
    return moment


@struct
class FreezeRequest:
    stages: tuple[str | None, ...]  # None: every Stage (freezes/all.json)
    reason: str
    actor: str
    now: datetime
    until: datetime | None = None
    run_url: str | None = None


def _what(stage: str | None) -> str:
    return "every Stage" if stage is None else stage


def plan_freeze(req: FreezeRequest) -> Callable[[Snapshot], WritePlan[list[FreezeRecord]]]:
    """One write freezing every Stage asked for (a new freeze replaces the one in force)."""
    records = [
        FreezeRecord(
            stage=stage,
            reason=req.reason,
            actor=req.actor,
            frozen_at=format_time(req.now),
            until=format_time(req.until) if req.until is not None else None,
            run_url=req.run_url,
        )
        for stage in req.stages
    ]
    what = ", ".join(_what(s) for s in req.stages)

    def build(snap: Snapshot) -> WritePlan[list[FreezeRecord]]:
        return WritePlan(
            summary=f"freeze: {what} by {req.actor}: {req.reason}",
            files={freeze_path(r.stage): dump_record(r) for r in records},
            result=records,
        )

    return build


def plan_unfreeze(
    stages: tuple[str | None, ...], actor: str, now: datetime
) -> Callable[[Snapshot], WritePlan[list[FreezeRecord]]]:
    """One write lifting the freeze of each Stage (None: the project-wide one); InvalidInputError naming each
    Stage no freeze holds, and nothing written."""

    def build(snap: Snapshot) -> WritePlan[list[FreezeRecord]]:
        lifted: list[FreezeRecord] = []
        problems: list[Problem] = []
        wide = snap.load(FreezeRecord, freeze_path(None))
        for stage in stages:
            current = snap.load(FreezeRecord, freeze_path(stage))
            if current is not None and is_active(current, now):
                lifted.append(current.model_copy(update={"lifted_at": format_time(now), "lifted_by": actor}))
                continue
            hint = "see the freezes in force with `kargo-actions status`"
            if stage is not None and wide is not None and is_active(wide, now):
                hint = (
                    f"{stage} is held by the project-wide freeze: lift it with `kargo-actions unfreeze --all`"
                )
            where = "--all" if stage is None else "--stage"
            problems.append(Problem(path=where, message=f"no freeze holds {_what(stage)}", hint=hint))
        if problems:
            raise InvalidInputError(problems)
        return WritePlan(
            summary=f"unfreeze: {', '.join(_what(s) for s in stages)} by {actor}",
            files={freeze_path(r.stage): dump_record(r) for r in lifted},
            result=lifted,
        )

    return build


def plan_defer(
    stage: str, freight: str, err: StageClosedError, now: datetime
) -> Callable[[Snapshot], WritePlan[DeferredPromotionRecord]]:
    record = DeferredPromotionRecord(
        stage=stage,
        freight=freight,
        reason=str(err),
        deferred_at=format_time(now),
        opens_at=format_time(err.opens_at) if err.opens_at is not None else None,
    )

    def build(snap: Snapshot) -> WritePlan[DeferredPromotionRecord]:
        return WritePlan(
            summary=f"deferred: auto-promotion of {stage} ({freight[:12]}) until the Stage opens",
            files={deferred_path(stage): dump_record(record)},
            result=record,
        )

    return build


def plan_clear_deferred(stage: str) -> Callable[[Snapshot], WritePlan[bool] | NoWrite[bool]]:
    def build(snap: Snapshot) -> WritePlan[bool] | NoWrite[bool]:
        if not snap.exists(deferred_path(stage)):
            return NoWrite(False)
        return WritePlan(
            summary=f"deferred: auto-promotion of {stage} done",
            files={deferred_path(stage): None},
            result=True,
        )

    return build
