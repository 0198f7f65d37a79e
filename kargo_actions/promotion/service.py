"""Promote one Freight into one Stage through the gates, with the ledger records Kargo's controller keeps.

One promotion = one ledger write at the start (the Promotion Running, after the gates passed on the freshly
fetched ledger: a compare-and-swap, so two promoters cannot both pass on stale data) and one at the end
(the final Promotion and the Stage's new state). With a remote that is two fetch+push exchanges.
"""

from __future__ import annotations

import enum
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from kargo_actions.errors import InvalidInputError, KargoActionsError, Problem, RefusedError, did_you_mean
from kargo_actions.ledger import Ledger
from kargo_actions.ledger.records import (
    MAX_LAST_PROMOTIONS,
    CurrentFreight,
    FreightHistoryEntry,
    FreightReference,
    HoldRecord,
    LedgerRecordError,
    PromotionRecord,
    PromotionSummary,
    StageStateRecord,
    StepRecord,
    VerifiedFreight,
    dump_record,
    promotion_path,
    stage_path,
)
from kargo_actions.ledger.store import NoWrite, Snapshot, WritePlan
from kargo_actions.model.fields import parse_go_duration
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.model.promotion import promotion_name
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.engine import EngineOptions, prepare_work_dir, run_promotion
from kargo_actions.promotion.gates import (
    Availability,
    availability,
    candidates,
    changed_states,
    format_time,
    go_duration,
    parse_time,
    settle_control_flow,
)
from kargo_actions.promotion.result import PromotionPhase, PromotionResult

if TYPE_CHECKING:
    from kargo_actions.promotion.reporting import Reporter


class Mode(enum.StrEnum):
    """Why a promotion runs: by hand, by `promote --auto`, or as a rollback (which also sets the hold)."""

    MANUAL = "manual"
    AUTO = "auto"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class PromoteOptions:
    """Where steps work and how the engine runs; `now` is injectable for soak-time tests."""

    work_dir: Path | None = None  # None: a fresh temporary dir, removed afterwards
    engine: EngineOptions = field(default_factory=EngineOptions)
    abort: threading.Event | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Where the promotion is reported besides the ledger (GitHub Deployments and statuses); None: chosen
    # from the environment (engine.env, default os.environ) by promotion.reporting.choose_reporter.
    reporter: Reporter | None = None
    # Run the Stage's verification after a successful promotion (`promote` does unless --no-verify; the
    # library default leaves it to a separate `verify`). A Stage without verification ignores it.
    verify: bool = False


@dataclass(frozen=True)
class PromotionOutcome:
    """What one promotion did: the engine's result, the Freight, how the gate let it in, the hold."""

    result: PromotionResult
    freight: Freight
    via: str
    hold: str = ""  # "set", "lifted" or "" (unchanged)
    verified: bool = False  # verified in the Stage now (no verification defined and it succeeded)
    verification: str = ""  # the phase of the verification run after the promotion ("" = none ran)
    verification_message: str = ""  # why it did not succeed

    @property
    def verification_failed(self) -> bool:
        return self.verification not in ("", "Successful")

    @property
    def succeeded(self) -> bool:
        return self.result.succeeded


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
    project: Project, snap: Snapshot, now: datetime
) -> tuple[dict[str, StageStateRecord], dict[str, StageStateRecord], list[Freight]]:
    """(states as recorded, states with control-flow Stages settled, every Freight)."""
    states = stage_states(snap)
    freight = all_freight(snap)
    return states, settle_control_flow(project, states, freight, now), freight


def check_gate(
    project: Project, stage: Stage, freight: Freight, snap: Snapshot, now: datetime, *, rollback: bool
) -> Availability:
    """The gate on the ledger as `snap` shows it; RefusedError (exit 3) naming every unmet condition."""
    _, settled, _ = settled_states(project, snap, now)
    verdict = availability(stage, freight, settled, now, rollback=rollback)
    if not verdict.available:
        name = freight.alias or freight.name[:12]
        raise RefusedError(f"Freight {name} is not available to Stage {stage.name}: {verdict.message}")
    return verdict


def _reference(freight: Freight) -> FreightReference:
    return FreightReference(name=freight.name, alias=freight.alias, origin=freight.origin)


def _summary(record: PromotionRecord) -> PromotionSummary:
    return PromotionSummary(
        name=record.name, freight=record.freight.name, phase=record.phase, finished_at=record.finished_at
    )


def _with_summary(state: StageStateRecord, record: PromotionRecord) -> list[PromotionSummary]:
    kept = [p for p in state.last_promotions if p.name != record.name]
    return [_summary(record), *kept][:MAX_LAST_PROMOTIONS]


def promotion_record(
    result: PromotionResult, freight: Freight, created_at: str, phase: str | None = None
) -> PromotionRecord:
    """The ledger record of an engine result (Kargo's Promotion: phase, message, steps, outputs, times)."""
    return PromotionRecord(
        name=result.name,
        stage=result.stage,
        freight=_reference(freight),
        phase=phase or result.phase.value,  # type: ignore[arg-type]
        message=result.message or None,
        actor=result.actor or None,
        created_at=created_at,
        started_at=format_time(result.started_at) if result.started_at else created_at,
        finished_at=format_time(result.finished_at) if result.finished_at else None,
        steps=[
            StepRecord(
                alias=s.alias,
                uses=s.uses,
                status=s.status.value,
                message=s.message or None,
                started_at=format_time(s.started_at) if s.started_at else None,
                finished_at=format_time(s.finished_at) if s.finished_at else None,
            )
            for s in result.steps
        ],
        outputs=dict(result.outputs) or None,
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
                _reference(freight)
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
            "last_promotions": _with_summary(state, record),
            "updated_at": stamp,
        }
    )


@dataclass(frozen=True)
class _Started:
    freight: Freight
    via: str
    record: PromotionRecord
    collection: tuple[Freight, ...]
    newest: str | None  # the newest Freight available for the origin when it started


def promote(
    project: Project,
    ledger: Ledger,
    stage_name: str,
    ref: str,
    *,
    mode: Mode = Mode.MANUAL,
    options: PromoteOptions | None = None,
) -> PromotionOutcome:
    """Promote the Freight `ref` into `stage_name`: gates, Running record, steps, final record and state.

    InvalidInputError (exit 2) for a bad Stage, REF or work dir; RefusedError (exit 3) when a gate or the
    Freight's tag check refuses. Both before anything is recorded. Failures of the steps are recorded (phase
    Failed / Errored / Aborted with the message) and returned, not raised.
    """
    from ulid import ULID

    from kargo_actions.ledger.verify import check_promotable
    from kargo_actions.promotion.tasks import plan_promotion

    opts = options or PromoteOptions()
    stage = find_stage(project, stage_name)
    plan_promotion(project, stage)  # a missing task or required var is bad input, found before recording
    own_dir = opts.work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="kargo-promote-")) if own_dir else opts.work_dir
    assert work_dir is not None
    try:
        prepare_work_dir(work_dir, require_empty=True)
        actor = ledger.actor()
        ulid = str(ULID())

        def start(snap: Snapshot) -> WritePlan[_Started] | NoWrite[_Started]:
            now = opts.now()
            entry = ledger.resolve(ref, snap)
            check_promotable(ledger, entry.id, snap)
            states, settled, everything = settled_states(project, snap, now)
            item = next(f for f in everything if f.name == entry.id)
            verdict = availability(stage, item, settled, now, rollback=mode is Mode.ROLLBACK)
            if not verdict.available:
                shown = item.alias or item.name[:12]
                raise RefusedError(
                    f"Freight {shown} is not available to Stage {stage.name}: {verdict.message}"
                )
            state = states.get(stage.name) or StageStateRecord(stage=stage.name)
            by_id = {f.name: f for f in everything}
            others = tuple(by_id[c.name] for c in state.current_freight if c.name in by_id)
            newest = candidates(
                stage, [f for f in everything if f.origin == item.origin], settled, now
            ).newest()
            stamp = format_time(now)
            record = PromotionRecord(
                name=promotion_name(stage.name, ulid, item.name),
                stage=stage.name,
                freight=_reference(item),
                phase="Running",
                actor=actor,
                created_at=stamp,
                started_at=stamp,
                message=f"{mode.value} promotion ({verdict.via})",
            )
            files: dict[str, bytes | None] = {
                promotion_path(stage.name, record.name): dump_record(record),
                stage_path(stage.name): dump_record(
                    state.model_copy(
                        update={"last_promotions": _with_summary(state, record), "updated_at": stamp}
                    )
                ),
            }
            for name, changed in changed_states(states, settled).items():
                if name != stage.name:
                    files[stage_path(name)] = dump_record(changed)
            started = _Started(item, verdict.via, record, others, newest.name if newest else None)
            return WritePlan(
                summary=f"promotion: {record.name} Running ({mode.value}, by {actor})",
                files=files,
                result=started,
            )

        begun = ledger.write(start).result
        freight = begun.freight
        from kargo_actions.promotion.reporting import choose_reporter

        reporter = opts.reporter or choose_reporter(None, opts.engine.env)
        report = reporter.begin(stage, freight, begun.record.name, ledger)  # never raises
        try:
            result = run_promotion(
                project,
                stage,
                freight,
                work_dir=work_dir,
                name=begun.record.name,
                freight_collection=begun.collection,
                actor=actor,
                abort=opts.abort,
                options=replace(
                    opts.engine,
                    rollback=mode is Mode.ROLLBACK,
                    ledger=ledger,
                    on_step=report.observe(opts.engine.on_step),
                ),
            )
        except Exception as err:  # the Running record must always get its end: record the crash as Errored
            now = opts.now()
            result = PromotionResult(
                name=begun.record.name,
                stage=stage.name,
                freight=freight.name,
                phase=PromotionPhase.ERRORED,
                message=f"promotion stopped by an unexpected error: {type(err).__name__}: {err}",
                actor=actor,
                started_at=parse_time(begun.record.started_at),
                finished_at=now,
            )
        final = promotion_record(result, freight, begun.record.created_at)
        is_newest = begun.newest is None or begun.newest == freight.name
        hold: HoldRecord | None = None
        if result.succeeded and mode is not Mode.AUTO and (mode is Mode.ROLLBACK or not is_newest):
            reason = (
                "rollback" if mode is Mode.ROLLBACK else "promoted a Freight other than the newest by hand"
            )
            hold = HoldRecord(freight=freight.name, since=final.finished_at or "", actor=actor, reason=reason)
        lift = result.succeeded and mode is Mode.MANUAL and is_newest

        held_before: list[bool] = []  # whether the origin was held, as the last build attempt saw it

        def finish(snap: Snapshot) -> WritePlan[StageStateRecord] | NoWrite[StageStateRecord]:
            now = opts.now()
            states = stage_states(snap)
            state = states.get(stage.name) or StageStateRecord(stage=stage.name)
            held_before[:] = [freight.origin.name in state.holds]
            if result.succeeded:
                new = succeeded_state(state, stage, freight, final, now, hold=hold, lift_hold=lift)
            else:
                new = state.model_copy(
                    update={"last_promotions": _with_summary(state, final), "updated_at": format_time(now)}
                )
            after = {**states, stage.name: new}
            settled = settle_control_flow(project, after, all_freight(snap), now)
            files: dict[str, bytes | None] = {
                promotion_path(stage.name, final.name): dump_record(final),
                stage_path(stage.name): dump_record(new),
            }
            for name, changed in changed_states(after, settled).items():
                files[stage_path(name)] = dump_record(changed)
            return WritePlan(
                summary=f"promotion: {final.name} {final.phase} (by {actor})", files=files, result=new
            )

        try:
            ledger.write(finish)
        except Exception as err:  # the Deployment must not stay in_progress: it ends as an error
            report.finish(result, verified=False, error=f"the final ledger record was not written: {err}")
            raise
        lifted = lift and bool(held_before) and held_before[0]
        verified = result.succeeded and stage.spec.verification is None
        verification = verification_message = ""
        if result.succeeded and stage.spec.verification is not None and opts.verify:
            # Kargo verifies after a successful promotion; kargo/verified is posted by report.finish below.
            from kargo_actions.verification.service import VerifyOptions, verify

            try:
                checked = verify(
                    project,
                    ledger,
                    stage.name,
                    freight.name,
                    VerifyOptions(abort=opts.abort, env=opts.engine.env, github=False),
                )
                verified, verification = checked.succeeded, str(checked.run.phase)
                verification_message = checked.run.message
            except KargoActionsError as err:  # e.g. a secret arg not set: the promotion itself stands
                verification, verification_message = "Error", str(err)
        report.finish(result, verified=verified)  # never raises: reporting does not decide the outcome
        return PromotionOutcome(
            result=result,
            freight=freight,
            via=begun.via,
            hold="set" if hold is not None else ("lifted" if lifted else ""),
            verified=verified,
            verification=verification,
            verification_message=verification_message,
        )
    finally:
        if own_dir:
            shutil.rmtree(work_dir, ignore_errors=True)


def previous_freight(ledger: Ledger, stage: Stage, snap: Snapshot | None = None) -> str:
    """The Freight a rollback returns to: the one the Stage held before its current one (freight history)."""
    state = ledger.stage_state(stage.name, snap)
    current = {c.name for c in state.current_freight}
    for entry in state.freight_history:
        for ref in entry.freight:
            if ref.name not in current:
                return ref.name
    raise InvalidInputError(
        [
            Problem(
                path="--stage",
                message=f"Stage {stage.name} has no earlier Freight to roll back to",
                hint="name one with --to REF",
            )
        ]
    )


def approve(project: Project, ledger: Ledger, stage_name: str, ref: str) -> tuple[Freight, bool]:
    """Record a manual approval of a Freight for a Stage (origin must match); (Freight, newly approved)."""
    from kargo_actions.ledger.records import ApprovalRecord, ApprovedFreight, approval_path

    stage = project.stages.get(stage_name)
    if stage is None:
        hint = did_you_mean(stage_name, project.stages) or f"Stages: {', '.join(project.stage_order())}"
        raise InvalidInputError([Problem(path="--stage", message=f"no Stage {stage_name!r}", hint=hint)])
    actor = ledger.actor()

    def build(snap: Snapshot) -> WritePlan[tuple[Freight, bool]] | NoWrite[tuple[Freight, bool]]:
        entry = ledger.resolve(ref, snap)
        item = ledger.get_freight(entry.id, snap)
        if stage.request_for(item.origin.name) is None:
            raise RefusedError(
                f"Freight {item.alias or item.name[:12]} comes from Warehouse {item.origin.name}; Stage "
                f"{stage.name} requests Freight from {', '.join(stage.warehouses)} (approval never skips the "
                "origin)"
            )
        state = ledger.stage_state(stage.name, snap)
        if item.name in state.approved:
            return NoWrite((item, False))
        stamp = format_time(datetime.now(UTC))
        approved = {**state.approved, item.name: ApprovedFreight(approved_at=stamp, actor=actor)}
        new = state.model_copy(update={"approved": approved, "updated_at": stamp})
        record = ApprovalRecord(freight=item.name, stage=stage.name, approved_at=stamp, actor=actor)
        return WritePlan(
            summary=f"approval: {item.name[:12]} for {stage.name} (by {actor})",
            files={
                approval_path(stage.name, item.name): dump_record(record),
                stage_path(stage.name): dump_record(new),
            },
            result=(item, True),
        )

    return ledger.write(build).result
