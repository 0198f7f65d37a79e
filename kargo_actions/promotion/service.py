"""Promote one Freight into one Stage through the gates, with the ledger records Kargo's controller keeps.

A promotion is a state machine on the ledger (promotion/lifecycle.py): a start write (the gates passed on the
freshly fetched ledger, the Stage's queue), the steps (promotion/engine.py), and an end write: the final
record and the Stage's new state, or, when a step waits and the run was asked not to (`--no-wait`), a
suspend write saying what it waits for. `resume` goes on with a waiting promotion where it stopped; every
transition is a compare-and-swap, so two processes never run the same step.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from kargo_actions.errors import InvalidInputError, KargoActionsError, Problem, RefusedError
from kargo_actions.ledger import Ledger
from kargo_actions.ledger.records import HoldRecord, PromotionRecord
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.model.promotion import new_ulid
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.gates import format_time, parse_time
from kargo_actions.promotion.lifecycle import (
    Mode,
    StageBusyError,
    Started,
    StartRequest,
    all_freight,
    find_promotion,
    find_stage,
    plan_claim,
    plan_close,
    plan_finish,
    plan_renew,
    plan_start,
    plan_suspend,
    plan_take_queued,
    settled_states,
    stage_states,
)
from kargo_actions.promotion.liveness import LeaseKeeper, RunChecker, stale_reason, this_runner
from kargo_actions.promotion.options import ClaimLost, EngineOptions, ResumePoint
from kargo_actions.promotion.result import PromotionPhase, PromotionResult
from kargo_actions.promotion.transitions import TERMINAL, promotion_record, result_of, resume_point
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.ledger.plans import PendingPush
    from kargo_actions.promotion.claim import StartClaim
    from kargo_actions.promotion.reporting import PromotionReport, Reporter

__all__ = [
    "Mode",
    "PromoteOptions",
    "PromotionOutcome",
    "StageBusyError",
    "abort",
    "all_freight",
    "find_stage",
    "lease_of",
    "promote",
    "resume",
    "settled_states",
    "stage_states",
    "start_queued",
]


@struct
class PromoteOptions:
    """Where steps work and how the engine runs; `now` is injectable for soak-time and deadline tests."""

    work_dir: Path | None = None  # None: a fresh temporary dir, removed afterwards
    engine: EngineOptions = field(default_factory=EngineOptions)
    abort: threading.Event | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    # Where the promotion is reported besides the ledger (GitHub Deployments and statuses); None: chosen
    # from the environment (engine.env, default os.environ) by promotion.reporters.choose_reporter.
    reporter: Reporter | None = None
    # Run the Stage's verification after a successful promotion (`promote` does unless --no-verify; the
    # library default leaves it to a separate `verify`). A Stage without verification ignores it.
    verify: bool = False
    # `--no-wait`: a step that reports Running ends the run; the promotion stays Running, waiting, and
    # `reconcile` (or `promote --resume`) goes on with it.
    no_wait: bool = False
    queue: bool = False  # `--queue`: a busy Stage queues the promotion (Pending) instead of refusing it
    lease: timedelta | None = None  # None: the Settings manifest's promotionLease (default 10m)
    run_checker: RunChecker | None = None  # tells whether another runner's Actions run is over
    # An automatic rollback runs as actor "auto-rollback" and names what triggered it (record and hold).
    actor: str = ""  # "": the ledger's actor (GITHUB_ACTOR, else the git identity)
    trigger: str = ""


@struct
class PromotionOutcome:
    """What one promotion did: the engine's result, the Freight, how the gate let it in, the hold."""

    result: PromotionResult
    freight: Freight
    via: str
    hold: str = ""  # "set", "lifted" or "" (unchanged)
    verified: bool = False  # verified in the Stage now (no verification defined and it succeeded)
    verification: str = ""  # the phase of the verification run after the promotion ("" = none ran)
    verification_message: str = ""  # why it did not succeed
    closed: tuple[str, ...] = ()  # stale promotions of the Stage closed on the way (their messages)

    @property
    def verification_failed(self) -> bool:
        return self.verification not in ("", "Successful")

    @property
    def succeeded(self) -> bool:
        return self.result.succeeded

    @property
    def waiting(self) -> bool:
        """Stopped at a step that waits (phase Running): resumed later by `reconcile` or `--resume`."""
        return self.result.phase is PromotionPhase.RUNNING

    @property
    def queued(self) -> bool:
        return self.result.phase is PromotionPhase.PENDING

    @property
    def ok(self) -> bool:
        """Nothing failed: succeeded, or waiting / queued to go on later."""
        return (self.succeeded or self.waiting or self.queued) and not self.verification_failed


def lease_of(project: Project) -> timedelta:
    """The lease of a runner's claim: the Settings manifest's promotionLease (default 10m)."""
    return project.settings.spec.promotion_lease_duration


class _Scratch:
    """The steps' work dir: the one asked for (kept), or a fresh temporary one, removed in the background once
    the steps are done (`release`), while the end write waits on git, and joined at `close`."""

    def __init__(self, opts: PromoteOptions) -> None:
        self.owned = opts.work_dir is None
        if opts.work_dir is not None:
            from kargo_actions.promotion.engine import prepare_work_dir

            self.path = prepare_work_dir(opts.work_dir, require_empty=True)
        else:
            self.path = Path(tempfile.mkdtemp(prefix="kargo-promote-"))
        self._removal: threading.Thread | None = None

    def release(self) -> None:
        if self.owned and self._removal is None:
            self._removal = threading.Thread(
                target=shutil.rmtree, args=(self.path,), kwargs={"ignore_errors": True}, daemon=True
            )
            self._removal.start()

    def close(self) -> None:
        if not self.owned:
            return
        if self._removal is None:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self._removal.join()


@contextlib.contextmanager
def _work_dir(opts: PromoteOptions) -> Iterator[_Scratch]:
    scratch = _Scratch(opts)
    try:
        yield scratch
    finally:
        scratch.close()


def promote(
    project: Project,
    ledger: Ledger,
    stage_name: str,
    ref: str,
    *,
    mode: Mode = Mode.MANUAL,
    options: PromoteOptions | None = None,
) -> PromotionOutcome:
    """Promote the Freight `ref` into `stage_name`: gates, the Stage's queue, steps, final record and state.

    InvalidInputError (exit 2) for a bad Stage, REF or work dir; RefusedError (exit 3) when a gate or the
    Freight's tag check refuses, and StageBusyError (exit 3) when the Stage runs another promotion (unless
    `options.queue`: then it is recorded Pending and returned so). All before anything is recorded. Failures of
    the steps are recorded (phase Failed / Errored / Aborted with the message) and returned, not raised.
    """
    return _promote(project, ledger, stage_name, ref, mode, options or PromoteOptions(), background=True)


def _promote(
    project: Project,
    ledger: Ledger,
    stage_name: str,
    ref: str,
    mode: Mode,
    opts: PromoteOptions,
    *,
    background: bool,
) -> PromotionOutcome:
    from kargo_actions.promotion.registry import preload
    from kargo_actions.promotion.tasks import plan_promotion

    stage = find_stage(project, stage_name)
    # A missing task or required var is bad input, found before recording. The steps the engine imports up
    # front (those behind an `if` wait until reached), and the engine with the expression language, are
    # imported on a thread while the start write waits on git.
    plan = plan_promotion(project, stage)
    preload((step.uses for step in plan.steps if not step.if_), first=["kargo_actions.promotion.engine"])
    with _work_dir(opts) as scratch:
        lease = opts.lease or lease_of(project)
        now = opts.now()
        request = StartRequest(
            stage=stage,
            ref=ref,
            mode=mode,
            ulid=new_ulid(),
            actor=opts.actor or ledger.actor(),
            runner=this_runner(now, lease, opts.engine.env),
            now=now,
            lease=lease,
            queue=opts.queue,
            skip_steps=tuple(sorted(opts.engine.skip_steps)),
            run_checker=opts.run_checker,
            trigger=opts.trigger,
        )
        # The start is pushed on a thread while the local steps run (promotion/claim.py), once per call:
        # after a lost race the whole start is done again, in the foreground.
        written = ledger.write(plan_start(project, ledger, request), background=background)
        begun: Started = written.result
        closed = tuple(f"{r.name}: {r.message}" for r in begun.closed)
        try:
            if begun.queued:
                if written.pending is not None and not written.pending.landed():
                    raise ClaimLost()
                return PromotionOutcome(result_of(begun.record), begun.freight, begun.via, closed=closed)
            outcome = _run(
                project,
                ledger,
                stage,
                begun.freight,
                begun.record,
                begun.collection,
                None,
                scratch,
                opts,
                pending=written.pending,
            )
        except ClaimLost as lost:
            if lost.cause is not None:
                raise lost.cause from None
            if not background:
                raise
        else:
            return replace(outcome, closed=closed)
    return _promote(project, ledger, stage_name, ref, mode, opts, background=False)


def resume(
    project: Project, ledger: Ledger, name: str, options: PromoteOptions | None = None
) -> PromotionOutcome:
    """Go on with a waiting promotion at the step it waits at (`promote --resume`).

    InvalidInputError (exit 2) for an unknown name (did-you-mean) or a promotion that has ended (naming its
    phase); StageBusyError (exit 3) when another process runs it now. A Freight whose tag no longer verifies,
    or Stage steps that changed while it waited, end it (recorded) before anything runs.
    """
    from kargo_actions.ledger.verify import check_promotable
    from kargo_actions.promotion.tasks import plan_promotion

    opts = options or PromoteOptions()
    ledger.sync()
    snap = ledger.snapshot()
    record = find_promotion(snap, name, project.stage_order())
    if record.phase in TERMINAL:
        raise InvalidInputError(
            [
                Problem(
                    path="--resume",
                    message=f"promotion {name} is {record.phase}: it has ended, nothing to resume",
                )
            ]
        )
    if record.phase == "Pending":
        raise StageBusyError(
            f"promotion {name} is queued (Pending) behind {record.stage}'s running promotion; "
            "`kargo-actions reconcile` starts it when the Stage is free"
        )
    stage = find_stage(project, record.stage)
    lease = opts.lease or lease_of(project)
    if record.wait is None:  # running its steps somewhere, not waiting: nothing to resume
        gone = stale_reason(record, opts.now(), lease, opts.run_checker)
        if not gone:
            raise StageBusyError(
                f"promotion {name} is being run by another process, not waiting: not resumed"
            )
        ledger.write(
            plan_close(
                stage.name,
                name,
                "Errored",
                gone,
                opts.now(),
                only_if_stale=True,
                lease=lease,
                checker=opts.run_checker,
            )
        )
        raise RefusedError(f"promotion {name} cannot be resumed: {gone}; closed as Errored, promote again")
    try:
        point = resume_point(record, plan_promotion(project, stage))
        check_promotable(ledger, record.freight.name, snap)
    except (InvalidInputError, RefusedError) as err:
        ledger.write(plan_close(stage.name, name, "Errored", f"not resumed: {err}", opts.now()))
        raise
    now = opts.now()
    claim = plan_claim(
        stage.name, name, this_runner(now, lease, opts.engine.env), record.current_step, now, lease
    )
    claimed = ledger.write(claim).result
    if claimed is None:
        raise StageBusyError(f"promotion {name} is being run by another process (or moved on): not resumed")
    freight = ledger.get_freight(record.freight.name, snap)
    others = tuple(
        ledger.get_freight(fid, snap) for fid in (record.request.collection if record.request else [])
    )
    with _work_dir(opts) as scratch:
        return _run(project, ledger, stage, freight, claimed, others, point, scratch, opts)


def abort(project: Project, ledger: Ledger, name: str, *, now: datetime | None = None) -> PromotionRecord:
    """End a Running or Pending promotion as Aborted (`promote --abort`) and free its Stage; a process still
    running its steps sees it at its next lease renewal and stops. InvalidInputError for an unknown name or
    one that has already ended."""
    ledger.sync()
    snap = ledger.snapshot()
    record = find_promotion(snap, name, project.stage_order())
    actor = ledger.actor()
    moment = now or datetime.now(UTC)
    ended = ledger.write(plan_close(record.stage, name, "Aborted", f"aborted by {actor}", moment)).result
    if ended is None or ended.phase != "Aborted" or ended.finished_at != format_time(moment):
        phase = ended.phase if ended is not None else record.phase
        raise InvalidInputError(
            [Problem(path="--abort", message=f"promotion {name} is {phase}: it has ended, nothing to abort")]
        )
    return ended


def _run(
    project: Project,
    ledger: Ledger,
    stage: Stage,
    freight: Freight,
    record: PromotionRecord,
    collection: tuple[Freight, ...],
    point: ResumePoint | None,
    scratch: _Scratch,
    opts: PromoteOptions,
    *,
    pending: PendingPush | None = None,
) -> PromotionOutcome:
    """Run (or go on with) a promotion this process holds, then record its end or its wait. `pending`: the
    start write still on its way (see promotion/claim.py); ClaimLost when it does not land."""
    from kargo_actions.promotion.claim import StartClaim
    from kargo_actions.promotion.reporters import choose_reporter

    reporter = opts.reporter or choose_reporter(None, opts.engine.env)
    claim = StartClaim(
        pending,
        lambda: reporter.begin(stage, freight, record.name, ledger, record.deployment_id),  # never raises
        opts.engine.on_step,
    )
    if pending is None:
        claim.settle()
    lease = opts.lease or lease_of(project)
    abort_event = opts.abort or threading.Event()
    # The renewing thread needs its own git processes; opened at the first renewal, which a short promotion
    # never reaches.
    renewing: list[Ledger] = []

    def renew() -> bool:
        if not renewing:
            renewing.append(Ledger(ledger.git.repo, ledger.config, env=ledger.git.env))
        return bool(renewing[0].write(plan_renew(stage.name, record.name, opts.now, lease)).result)

    try:
        with LeaseKeeper(renew, lease.total_seconds() / 3, on_lost=abort_event.set) as keeper:
            result = _engine(
                project,
                ledger,
                stage,
                freight,
                record,
                collection,
                point,
                scratch.path,
                opts,
                abort_event,
                claim,
            )
        report = claim.settle()  # the end write follows the start's
    finally:
        scratch.release()
        for opened in renewing:
            opened.close()
    base = record.model_copy(update={"deployment_id": report.deployment_id})
    if keeper.lost.is_set():
        result = replace(
            result, message=f"{result.message}; the promotion was ended by another process".strip("; ")
        )
    if result.phase is PromotionPhase.RUNNING:
        suspended = promotion_record(result, freight, base.created_at, base=base)
        ledger.write(plan_suspend(suspended, opts.now()))
        report.suspend(result)
        return PromotionOutcome(result=result, freight=freight, via=_via(base))
    return _finish(project, ledger, stage, freight, base, result, report, opts)


def _engine(
    project: Project,
    ledger: Ledger,
    stage: Stage,
    freight: Freight,
    base: PromotionRecord,
    collection: tuple[Freight, ...],
    point: ResumePoint | None,
    work_dir: Path,
    opts: PromoteOptions,
    abort_event: threading.Event,
    claim: StartClaim,
) -> PromotionResult:
    from kargo_actions.promotion.engine import run_promotion

    mode = _mode(base)
    try:
        return run_promotion(
            project,
            stage,
            freight,
            work_dir=work_dir,
            name=base.name,
            freight_collection=collection,
            actor=base.actor or "",
            abort=abort_event,
            options=replace(
                opts.engine,
                rollback=mode is Mode.ROLLBACK,
                ledger=ledger,
                suspend=opts.no_wait,
                now=opts.now,
                on_step=claim.observe,
                before_external=claim.before_external,
            ),
            resume=point,
        )
    except ClaimLost:
        raise
    except Exception as err:  # the Running record must always get its end: record the crash as Errored
        return PromotionResult(
            name=base.name,
            stage=stage.name,
            freight=freight.name,
            phase=PromotionPhase.ERRORED,
            message=f"promotion stopped by an unexpected error: {type(err).__name__}: {err}",
            actor=base.actor or "",
            started_at=parse_time(base.started_at),
            finished_at=opts.now(),
        )


def _mode(record: PromotionRecord) -> Mode:
    return Mode(record.request.mode) if record.request is not None else Mode.MANUAL


def _via(record: PromotionRecord) -> str:
    return (record.request.via if record.request is not None else None) or ""


def _finish(
    project: Project,
    ledger: Ledger,
    stage: Stage,
    freight: Freight,
    base: PromotionRecord,
    result: PromotionResult,
    report: PromotionReport,
    opts: PromoteOptions,
) -> PromotionOutcome:
    """The end of a run: final record and Stage state, verification when asked, the report's end."""
    mode = _mode(base)
    final = promotion_record(result, freight, base.created_at, base=base)
    newest = base.request.newest if base.request is not None else None
    is_newest = newest is None or newest == freight.name
    hold: HoldRecord | None = None
    if result.succeeded and mode is not Mode.AUTO and (mode is Mode.ROLLBACK or not is_newest):
        reason = "rollback" if mode is Mode.ROLLBACK else "promoted a Freight other than the newest by hand"
        if base.request is not None and base.request.trigger:
            reason = f"{reason}: {base.request.trigger}"
        hold = HoldRecord(
            freight=freight.name, since=final.finished_at or "", actor=base.actor, reason=reason
        )
    lift = result.succeeded and mode is Mode.MANUAL and is_newest
    try:
        finished = ledger.write(
            plan_finish(project, stage, freight, final, opts.now, hold=hold, lift=lift)
        ).result
    except Exception as err:  # the Deployment must not stay in_progress: it ends as an error
        report.finish(result, verified=False, error=f"the final ledger record was not written: {err}")
        raise
    if not finished.written:  # ended meanwhile by someone else (aborted, closed as stale): that record stands
        ended = finished.record
        result = replace(
            result,
            phase=PromotionPhase(ended.phase),
            message=f"{ended.message or ended.phase} (recorded while its steps ran here)",
        )
        report.finish(result, verified=False)
        return PromotionOutcome(result=result, freight=freight, via=_via(base))
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
        via=_via(base),
        hold="set" if hold is not None else ("lifted" if lift and finished.held_before else ""),
        verified=verified,
        verification=verification,
        verification_message=verification_message,
    )


def start_queued(
    project: Project, ledger: Ledger, stage_name: str, options: PromoteOptions | None = None
) -> PromotionOutcome | None:
    """Start the oldest queued (Pending) promotion of a free Stage in this process; None when the Stage is
    busy or nothing is queued. Stale holders of the Stage are closed on the way."""
    opts = options or PromoteOptions()
    stage = find_stage(project, stage_name)
    lease = opts.lease or lease_of(project)
    now = opts.now()
    build = plan_take_queued(stage, this_runner(now, lease, opts.engine.env), now, lease, opts.run_checker)
    taken = ledger.write(build).result
    if taken is None:
        return None
    ledger.sync()
    snap = ledger.snapshot()
    freight = ledger.get_freight(taken.freight.name, snap)
    others = tuple(
        ledger.get_freight(fid, snap) for fid in (taken.request.collection if taken.request else [])
    )
    with _work_dir(opts) as scratch:
        return _run(project, ledger, stage, freight, taken, others, None, scratch, opts)
