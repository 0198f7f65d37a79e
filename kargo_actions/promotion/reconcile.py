"""`reconcile`: move on every promotion that can move, as Kargo's controller re-reconciles its Promotions.

Cheap conditions first, so a run with nothing to do costs one ledger read: Stages with no active or queued
promotion are skipped without loading the manifests; an event (a pull request closed, a workflow run
completed) moves only the promotions waiting on it; a waiting promotion whose deadline has passed fails
without a look at what it waits for; a read-only waiting step is looked at once before anything is written.
Only then is a promotion claimed (compare-and-swap: two reconciles never run the same step) and resumed, a
promotion whose runner is gone closed as Errored, and a free Stage's queue started in creation order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any

from kargo_actions.errors import KargoActionsError
from kargo_actions.ledger import Ledger
from kargo_actions.ledger.records import PromotionRecord
from kargo_actions.model.project import Project
from kargo_actions.promotion.deferred import deferred_stages
from kargo_actions.promotion.events import Event
from kargo_actions.promotion.gates import parse_time
from kargo_actions.promotion.lifecycle import load_promotion, plan_close, stage_states
from kargo_actions.promotion.liveness import DEFAULT_LEASE, stale_reason
from kargo_actions.promotion.service import (
    PromoteOptions,
    PromotionOutcome,
    StageBusyError,
    lease_of,
    resume,
    start_queued,
)
from kargo_actions.promotion.transitions import TERMINAL, running_names
from kargo_actions.struct import struct


@struct
class Action:
    """What reconcile did (or, with --plan, would do) for one promotion."""

    stage: str
    promotion: str
    # resumed, started, closed, timed-out, waiting, busy, would-resume, would-start; for a deferred
    # auto-promotion: deferred (still closed), would-auto-promote, auto-<what promote --auto decided>
    action: str
    reason: str
    outcome: PromotionOutcome | None = None

    @property
    def holds(self) -> bool:
        """Whether the promotion still holds its Stage after this action (waits, runs elsewhere, undecided)."""
        if self.action in ("waiting", "busy", "failed") or self.action.startswith("would-"):
            return True
        return self.outcome is not None and self.outcome.waiting

    @property
    def failed(self) -> bool:
        if self.action == "timed-out":
            return True
        return self.outcome is not None and not self.outcome.ok

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "stage": self.stage,
            "promotion": self.promotion,
            "action": self.action,
            "reason": self.reason,
        }
        if self.outcome is not None:
            result = self.outcome.result
            data["phase"] = str(result.phase)
            waiting = result.waiting_step
            data["wait"] = waiting.wait_json() if waiting is not None else None
        return data


@struct
class ReconcileOptions:
    """How reconcile looks and runs: the promote options of the promotions it moves, the event, the clock."""

    promote: PromoteOptions
    event: Event = field(default_factory=Event)
    stage: str = ""  # only this Stage
    plan: bool = False  # say what would move, move nothing
    on_action: Callable[[Action], None] | None = None


def reconcile(ledger: Ledger, load_project: Callable[[], Project], options: ReconcileOptions) -> list[Action]:
    """Move every promotion that can move now; the list says what happened to each one looked at."""
    opts = options.promote
    only = options.stage or options.event.stage
    ledger.sync()
    snap = ledger.snapshot()
    work = [
        state
        for state in stage_states(snap).values()
        if (not only or state.stage == only) and (running_names(state) or state.pending_promotions)
    ]
    # auto-promotions a window or a freeze deferred: looked at on every run not about one promotion
    deferred = [] if options.event.targeted else deferred_stages(snap, opts.now(), due_only=False)
    deferred = [s for s in deferred if not only or s == only]
    if not work and not deferred:
        return []
    loaded: list[Project] = []

    def project() -> Project:
        if not loaded:
            loaded.append(load_project())
        return loaded[0]

    actions: list[Action] = []

    def done(action: Action) -> None:
        actions.append(action)
        if options.on_action is not None:
            options.on_action(action)

    now = opts.now()
    for state in sorted(work, key=lambda s: s.stage):
        free, freed = True, False
        for name in running_names(state):
            record = load_promotion(snap, state.stage, name)
            if record is None or record.phase in TERMINAL:
                continue
            action = _look(ledger, project, record, now, options)
            if action is None:
                free = False
                continue
            done(action)
            if action.holds:
                free = False
            else:
                freed = True  # resumed to its end, closed or timed out: the Stage is free now
        # an event about one promotion starts the queue only when it freed the Stage (Kargo's FIFO goes on)
        if free and state.pending_promotions and (freed or not options.event.targeted):
            _start_queue(ledger, project, state.stage, state.pending_promotions[0], options, done)
    for stage in deferred:
        _run_deferred(ledger, project, stage, options, done)
    return actions


def _run_deferred(
    ledger: Ledger,
    project: Callable[[], Project],
    stage: str,
    options: ReconcileOptions,
    done: Callable[[Action], None],
) -> None:
    """A deferred auto-promotion runs once the Stage's windows are open and no freeze holds it."""
    from kargo_actions.promotion.freezes import opening, plan_clear_deferred
    from kargo_actions.promotion.pipeline import auto_promote

    loaded = project()
    if stage not in loaded.stages:  # the Stage is gone from the manifests
        if not options.plan:
            ledger.write(plan_clear_deferred(stage))
        return
    now = options.promote.now()
    state = opening(loaded, ledger.snapshot(), stage, now)
    if not state.open:
        done(Action(stage, "", "deferred", f"auto-promotion deferred: {state.message}"))
        return
    if options.plan:
        why = "the Stage is open again: its deferred auto-promotion runs"
        done(Action(stage, "", "would-auto-promote", why))
        return
    decisions = auto_promote(loaded, ledger, options.promote, stage=stage, now=options.promote.now)
    for d in decisions:
        name = d.outcome.result.name if d.outcome is not None else ""
        done(Action(stage, name, f"auto-{d.action}", d.reason, d.outcome))
    if not any(d.action == "deferred" for d in decisions):
        ledger.write(plan_clear_deferred(stage))


def _lease(project: Callable[[], Project], record: PromotionRecord) -> Any:
    return lease_of(project()) if record.runner is not None else DEFAULT_LEASE


def _look(
    ledger: Ledger,
    project: Callable[[], Project],
    record: PromotionRecord,
    now: datetime,
    options: ReconcileOptions,
) -> Action | None:
    """The action for one Running promotion (None: nothing to say, e.g. an event about another one)."""
    stage, name, event = record.stage, record.name, options.event
    if record.wait is None or record.runner is not None:
        reason = stale_reason(record, now, _lease(project, record), options.promote.run_checker)
        if not reason:
            return Action(stage, name, "busy", f"being run by {_who(record)}") if not event.targeted else None
        if options.plan:
            return Action(stage, name, "would-close", reason)
        checker = options.promote.run_checker
        close = plan_close(
            stage,
            name,
            "Errored",
            reason,
            now,
            only_if_stale=True,
            lease=_lease(project, record),
            checker=checker,
        )
        ended = ledger.write(close).result
        if ended is None or ended.phase != "Errored":  # it renewed its lease or ended meanwhile
            return Action(stage, name, "busy", f"being run by {_who(record)}")
        return Action(stage, name, "closed", ended.message or reason)
    wait = record.wait
    deadline = parse_time(wait.deadline)
    if deadline is not None and now >= deadline:
        why = f"step {wait.step!r} timed out: its deadline {wait.deadline} passed while waiting for {wait.description}"
        if options.plan:
            return Action(stage, name, "would-time-out", why)
        ledger.write(plan_close(stage, name, "Errored", why, now))
        return Action(stage, name, "timed-out", why)
    if not event.wait_moves(wait.wire()):
        return None
    if not event.targeted:
        due = parse_time(wait.next_check_at)
        if event.name == "schedule" and due is not None and now < due:
            return Action(
                stage, name, "waiting", f"waiting for {wait.description}; next look at {wait.next_check_at}"
            )
        if _still_waiting(ledger, project(), record):
            return Action(stage, name, "waiting", f"waiting for {wait.description}")
    if options.plan:
        return Action(stage, name, "would-resume", f"{wait.description}: can move")
    try:
        outcome = resume(project(), ledger, name, options.promote)
    except StageBusyError as err:
        return Action(stage, name, "busy", str(err))
    except KargoActionsError as err:
        return Action(stage, name, "failed", str(err))
    return Action(stage, name, "resumed", f"{wait.description}: {outcome.result.phase}", outcome)


def _who(record: PromotionRecord) -> str:
    runner = record.runner
    if runner is None:
        return "a process with no lease (a record from before leases)"
    run = f", Actions run {runner.run_id}" if runner.run_id else ""
    return f"PID {runner.pid} on {runner.host}{run} until {runner.lease_expires_at}"


def _still_waiting(ledger: Ledger, project: Project, record: PromotionRecord) -> bool:
    """A read-only look at the waiting step: True when it still waits (so nothing is claimed or written)."""
    from kargo_actions.promotion.engine import Engine, PromotionRun
    from kargo_actions.promotion.lifecycle import find_stage
    from kargo_actions.promotion.options import EngineOptions
    from kargo_actions.promotion.step_api import StepStatus
    from kargo_actions.promotion.tasks import plan_promotion
    from kargo_actions.promotion.transitions import resume_point

    try:
        stage = find_stage(project, record.stage)
        plan = plan_promotion(project, stage)
        point = resume_point(record, plan)
        freight = ledger.get_freight(record.freight.name)
    except KargoActionsError:
        return False  # let the resume record what is wrong
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kargo-probe-") as scratch:
        run = PromotionRun(
            project=project.name,
            stage=stage.name,
            name=record.name,
            target_freight=freight,
            freight=[freight],
            actor=record.actor or "",
            work_dir=Path(scratch),
        )
        result = Engine(run, EngineOptions(ledger=ledger), project=project).probe(plan, point)
    return result is not None and result.status is StepStatus.RUNNING


def _start_queue(
    ledger: Ledger,
    project: Callable[[], Project],
    stage: str,
    head: str,
    options: ReconcileOptions,
    done: Callable[[Action], None],
) -> None:
    """Start the Stage's queued promotions in creation order while each one ends (one may wait again)."""
    from kargo_actions.promotion.freezes import opening

    state = opening(project(), ledger.snapshot(), stage, options.promote.now())
    if not state.open:  # windows and freezes gate a queued promotion too: it stays queued
        done(Action(stage, head, "deferred", f"queued until the Stage opens: {state.message}"))
        return
    if options.plan:
        done(Action(stage, head, "would-start", "the Stage is free: the oldest queued promotion starts"))
        return
    while True:
        try:
            outcome = start_queued(project(), ledger, stage, options.promote)
        except KargoActionsError as err:
            done(Action(stage, head, "failed", str(err)))
            return
        if outcome is None:
            return
        done(
            Action(stage, outcome.result.name, "started", f"from the queue: {outcome.result.phase}", outcome)
        )
        if outcome.waiting:
            return
