"""Pipeline-wide operations: auto-promotion in topological order, and the status and history views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field, replace
from datetime import UTC, datetime

from kargo_actions.errors import InvalidInputError, KargoActionsError, Problem, RefusedError, did_you_mean
from kargo_actions.ledger import Ledger
from kargo_actions.ledger.records import (
    DeferredPromotionRecord,
    PromotionRecord,
    PromotionSummary,
    StageStateRecord,
    deferred_path,
)
from kargo_actions.ledger.store import Snapshot
from kargo_actions.model.freight import Freight
from kargo_actions.model.project import Project
from kargo_actions.promotion.freezes import Opening, StageClosedError, opening, plan_defer
from kargo_actions.promotion.gates import availability, candidates, newest_first
from kargo_actions.promotion.lifecycle import load_promotion, plan_close
from kargo_actions.promotion.service import (
    Mode,
    PromoteOptions,
    PromotionOutcome,
    StageBusyError,
    find_stage,
    promote,
    settled_states,
    stage_states,
)
from kargo_actions.promotion.transitions import TERMINAL, describe, running_names
from kargo_actions.struct import struct


@struct
class AutoDecision:
    """What `promote --auto` did for one Stage and origin: promoted (with the outcome) or why not."""

    stage: str
    # promoted, failed, skipped, waiting (stopped at a waiting step), queued, deferred (a window or a freeze
    # closes the Stage), rollback (autoRollback after a failure: rolled-back, none, refused or failed)
    action: str
    reason: str
    freight: str = ""
    outcome: PromotionOutcome | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "stage": self.stage,
            "action": self.action,
            "reason": self.reason,
            "freight": self.freight or None,
        }
        if self.outcome is not None:
            data["promotion"] = self.outcome.result.name
            data["phase"] = str(self.outcome.result.phase)
            waiting = self.outcome.result.waiting_step
            if waiting is not None:
                data["wait"] = waiting.wait_json()
        return data


def choose_freight(
    project: Project,
    stage_name: str,
    warehouse: str,
    states: dict[str, StageStateRecord],
    freight: list[Freight],
    now: datetime,
) -> tuple[Freight | None, str]:
    """The Freight auto-promotion would take for one origin of a Stage, or None and why."""
    stage = project.stages[stage_name]
    request = stage.request_for(warehouse)
    assert request is not None
    found = candidates(stage, [f for f in freight if f.origin.name == warehouse], states, now)
    if request.sources.selection_policy == "MatchUpstream":
        upstream = request.sources.stages
        if len(upstream) != 1:
            return None, "selectionPolicy MatchUpstream needs exactly one upstream Stage"
        state = states.get(upstream[0])
        held = {c.name for c in state.current_freight} if state else set()
        chosen = next((f for f in found.available if f.name in held), None)
        return chosen, f"no Freight of {warehouse} in {upstream[0]} is available" if chosen is None else ""
    chosen = found.newest()
    return chosen, f"no Freight of {warehouse} is available" if chosen is None else ""


def auto_promote(
    project: Project,
    ledger: Ledger,
    options: PromoteOptions | None = None,
    *,
    stage: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_decision: Callable[[AutoDecision], None] | None = None,
) -> list[AutoDecision]:
    """Promote every Stage (or only `stage`) whose policy allows it and whose chosen Freight differs from its
    current one.

    Stages go in pipeline order, so a Freight verified in dev (no verification defined) can reach staging in
    the same run. A hold on an origin (set by a hand promotion of a non-newest Freight or a rollback) stops
    it; a failed promotion is reported and the run goes on with the other Stages. With `stage` (`promote
    --auto --stage S`, what a dispatched auto-promotion runs) that Stage alone is decided, the same way.
    """
    names = project.stage_order() if stage is None else [find_stage(project, stage).name]
    ledger.sync()
    decisions: list[AutoDecision] = []

    def decide(decision: AutoDecision) -> None:
        decisions.append(decision)
        if on_decision is not None:
            on_decision(decision)

    for name in names:
        if not project.stages[name].is_control_flow:
            _auto_promote_stage(project, ledger, name, options, now, decide)
    return decisions


def _auto_promote_stage(
    project: Project,
    ledger: Ledger,
    name: str,
    options: PromoteOptions | None,
    now: Callable[[], datetime],
    decide: Callable[[AutoDecision], None],
) -> None:
    """Decide auto-promotion for one Stage, each of its origins: policy, hold, selectionPolicy, then promote
    in Mode.AUTO (which never sets a hold)."""
    stage = project.stages[name]
    if not project.auto_promotion_enabled(name):
        decide(
            AutoDecision(name, "skipped", "auto-promotion is not enabled (ProjectConfig promotionPolicies)")
        )
        return
    for warehouse in stage.warehouses:
        moment = now()
        snap = ledger.snapshot()
        _, states, freight = settled_states(project, snap, moment)
        own = states.get(name) or StageStateRecord(stage=name)
        hold = own.holds.get(warehouse)
        if hold is not None:
            decide(
                AutoDecision(
                    name,
                    "skipped",
                    f"held at {hold.freight[:12]} since {hold.since} by {hold.actor or 'unknown'} "
                    f"({hold.reason or 'hand promotion'}); promote the newest Freight by hand to lift it",
                    hold.freight,
                )
            )
            continue
        chosen, why = choose_freight(project, name, warehouse, states, freight, moment)
        if chosen is None:
            decide(AutoDecision(name, "skipped", why))
            continue
        if any(c.name == chosen.name for c in own.current_freight):
            decide(AutoDecision(name, "skipped", "already holds the Freight to promote", chosen.name))
            continue
        try:
            outcome = promote(project, ledger, name, chosen.name, mode=Mode.AUTO, options=options)
        except StageClosedError as err:  # a window or a freeze: recorded, `reconcile` runs it when it opens
            ledger.write(plan_defer(name, chosen.name, err, moment))
            decide(AutoDecision(name, "deferred", f"{err}; it runs when the Stage opens", chosen.name))
            continue
        except StageBusyError as err:  # one promotion per Stage: the next auto-promotion picks it up
            decide(AutoDecision(name, "skipped", str(err), chosen.name))
            continue
        except KargoActionsError as err:
            decide(AutoDecision(name, "failed", str(err), chosen.name))
            continue
        action = "promoted" if outcome.succeeded else "failed"
        reason = outcome.via if outcome.succeeded else outcome.result.message
        if outcome.waiting or outcome.queued:
            action, reason = (
                ("waiting", outcome.result.message) if outcome.waiting else ("queued", "Stage busy")
            )
        decide(AutoDecision(name, action, reason, chosen.name, outcome))
        if not outcome.ok:
            from kargo_actions.promotion.rollback import after_promotion

            back = after_promotion(project, ledger, outcome, options or PromoteOptions())
            if back is not None:
                why = f"{back.action}: {back.reason}; triggered by {back.trigger}"
                decide(AutoDecision(name, "rollback", why, back.target, back.outcome))


def newest_available(project: Project, ledger: Ledger, stage_name: str, warehouse: str) -> str:
    """The newest Freight of `warehouse` available to the Stage (`promote --warehouse`); RefusedError naming
    why none is."""
    stage = find_stage(project, stage_name)
    if warehouse not in project.warehouses:
        hint = (
            did_you_mean(warehouse, project.warehouses)
            or f"Warehouses: {', '.join(sorted(project.warehouses))}"
        )
        raise InvalidInputError(
            [Problem(path="--warehouse", message=f"no Warehouse {warehouse!r}", hint=hint)]
        )
    ledger.sync()
    now = datetime.now(UTC)
    _, states, freight = settled_states(project, ledger.snapshot(), now)
    found = candidates(stage, [f for f in freight if f.origin.name == warehouse], states, now)
    newest = found.newest()
    if newest is None:
        # one line per Freight: each reason has its own parts, so brackets would nest
        reasons = "".join(f"\n  {fid[:12]}: {a.message}" for fid, a in list(found.refused.items())[:3])
        raise RefusedError(
            f"no Freight of Warehouse {warehouse} is available to Stage {stage.name}"
            + (":" if reasons else "")
            + reasons
        )
    return newest.name


def promote_downstream(
    project: Project,
    ledger: Ledger,
    source: str,
    only: str | None,
    freight_ref: str | None,
    options: PromoteOptions,
    on_skip: Callable[[str], None] | None = None,
) -> list[PromotionOutcome]:
    """The Freight in `source` (or REF) into every Stage fed by it whose gate accepts it (Kargo's promote
    --downstream-from); Stages that refuse it are skipped, and a refusal of all is exit 3."""
    if source not in project.stages:
        raise InvalidInputError([Problem(path="--downstream-from", message=f"no Stage {source!r}")])
    targets = [s for s in project.downstream(source) if not project.stages[s].is_control_flow]
    if only:
        targets = [s for s in targets if s == only]
    if not targets:
        raise InvalidInputError(
            [Problem(path="--downstream-from", message=f"no Stage with steps takes Freight from {source}")]
        )
    ledger.sync()
    snap = ledger.snapshot()
    if freight_ref:
        refs = [ledger.resolve(freight_ref, snap).id]
    else:
        state = ledger.stage_state(source, snap)
        refs = [c.name for c in state.current_freight]
        if not refs:
            raise RefusedError(f"Stage {source} holds no Freight yet")
    now = datetime.now(UTC)
    _, states, freight = settled_states(project, snap, now)
    by_id = {f.name: f for f in freight}
    outcomes: list[PromotionOutcome] = []
    refusals: list[str] = []
    for target in targets:
        for ref in refs:
            verdict = availability(project.stages[target], by_id[ref], states, now)
            if not verdict.available:
                refusals.append(f"{target}: {verdict.message}")
                continue
            outcomes.append(promote(project, ledger, target, ref, mode=Mode.MANUAL, options=options))
    for refusal in refusals:
        if on_skip is not None:
            on_skip(refusal)
    if not outcomes:
        raise RefusedError(
            "no Stage downstream of " + source + " accepts its Freight: " + "; ".join(refusals)
        )
    return outcomes


@struct
class StageStatus:
    """One row of `status`: what a Stage holds, whether verified there, its last promotion, newest available."""

    stage: str
    control_flow: bool
    current: tuple[Freight, ...] = ()
    verified: bool = False
    last_promotion: PromotionSummary | None = None
    newest_available: Freight | None = None
    auto_promotion: bool = False
    holds: dict[str, str] = field(default_factory=dict)  # warehouse -> held Freight ID
    active: PromotionRecord | None = None  # the Running promotion (waiting or running its steps)
    pending: tuple[PromotionRecord, ...] = ()  # queued promotions, oldest first
    closed: tuple[str, ...] = ()  # promotions just closed because their process stopped (their messages)
    now: datetime | None = None
    opening: Opening | None = None  # its promotion windows' schedule and the freezes holding it
    deferred: DeferredPromotionRecord | None = None  # an auto-promotion waiting for the Stage to open

    def activity(self) -> list[str]:
        """One line per promotion that holds or waits for the Stage, and per promotion closed as stale."""
        now = self.now or datetime.now(UTC)
        lines = [f"{self.active.name}: {describe(self.active, now)}"] if self.active is not None else []
        lines += [f"{p.name}: {describe(p, now)}" for p in self.pending]
        lines += [f"closed {c}" for c in self.closed]
        return lines

    def to_json(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "controlFlow": self.control_flow,
            "current": [
                {
                    "name": f.name,
                    "alias": f.alias,
                    "origin": f.origin.name,
                    "images": [i.wire() for i in f.images],
                    "commits": [c.wire() for c in f.commits],
                    "charts": [c.wire() for c in f.charts],
                }
                for f in self.current
            ],
            "verified": self.verified,
            "lastPromotion": self.last_promotion.wire() if self.last_promotion else None,
            "newestAvailable": (
                {"name": self.newest_available.name, "alias": self.newest_available.alias}
                if self.newest_available
                else None
            ),
            "autoPromotion": self.auto_promotion,
            "holds": dict(self.holds),
            "activePromotion": self._promotion_json(self.active) if self.active is not None else None,
            "pendingPromotions": [self._promotion_json(p) for p in self.pending],
            "closedPromotions": list(self.closed),
            "open": self.opening.open if self.opening is not None else True,
            "schedule": self.opening.schedule.to_json() if self.opening is not None else None,
            "freezes": [f.wire() for f in self.opening.freezes] if self.opening is not None else [],
            "deferredAutoPromotion": self.deferred.wire() if self.deferred is not None else None,
        }

    def _promotion_json(self, record: PromotionRecord) -> dict[str, object]:
        data: dict[str, object] = {
            "name": record.name,
            "phase": record.phase,
            "freight": record.freight.name,
            "createdAt": record.created_at,
            "startedAt": record.started_at,
            "summary": describe(record, self.now or datetime.now(UTC)),
        }
        if record.wait is not None:
            data["wait"] = record.wait.wire()
        if record.runner is not None:
            data["runner"] = record.runner.wire()
        return data


def pipeline_status(
    project: Project, ledger: Ledger, now: datetime | None = None, *, close_stale: bool = True
) -> list[StageStatus]:
    """Every Stage in pipeline order with its current Freight, verification, last promotion, newest available,
    and the promotions that hold or wait for it. A Running promotion whose process stopped is closed as
    Errored on the way (`close_stale`), as `promote` and `reconcile` close it."""
    moment = now or datetime.now(UTC)
    snap = ledger.snapshot()
    closed = _close_stale(project, ledger, snap, moment) if close_stale else {}
    if closed:
        snap = ledger.snapshot()
    _, states, freight = settled_states(project, snap, moment)
    rows = status_rows(project, states, freight, moment)
    recorded = stage_states(snap)
    out: list[StageStatus] = []
    for row in rows:
        state = recorded.get(row.stage)
        active: PromotionRecord | None = None
        pending: tuple[PromotionRecord, ...] = ()
        if state is not None:
            held = [load_promotion(snap, row.stage, n) for n in running_names(state)]
            active = next((r for r in held if r is not None and r.phase not in TERMINAL), None)
            pending = tuple(
                r
                for r in (load_promotion(snap, row.stage, n) for n in state.pending_promotions)
                if r is not None
            )
        out.append(
            replace(
                row,
                active=active,
                pending=pending,
                closed=tuple(closed.get(row.stage, ())),
                now=moment,
                opening=opening(project, snap, row.stage, moment),
                deferred=snap.load(DeferredPromotionRecord, deferred_path(row.stage)),
            )
        )
    return out


def _close_stale(project: Project, ledger: Ledger, snap: Snapshot, now: datetime) -> dict[str, list[str]]:
    """Close every Running promotion whose process stopped; {stage: ["NAME: why", ...]}."""
    from kargo_actions.promotion.liveness import stale_reason
    from kargo_actions.promotion.reporters import run_checker
    from kargo_actions.promotion.service import lease_of

    lease, checker = lease_of(project), run_checker()
    closed: dict[str, list[str]] = {}
    for state in stage_states(snap).values():
        for name in running_names(state):
            record = load_promotion(snap, state.stage, name)
            if record is None or record.phase in TERMINAL or not stale_reason(record, now, lease, checker):
                continue
            build = plan_close(
                state.stage, name, "Errored", "", now, only_if_stale=True, lease=lease, checker=checker
            )
            ended = ledger.write(build).result
            if ended is not None:
                closed.setdefault(state.stage, []).append(f"{name}: {ended.message}")
    return closed


def status_rows(
    project: Project, states: dict[str, StageStateRecord], freight: list[Freight], moment: datetime
) -> list[StageStatus]:
    """pipeline_status's rows from states (control-flow Stages settled) and Freight already read."""
    by_id = {f.name: f for f in freight}
    ordered = newest_first(freight)
    rows: list[StageStatus] = []
    for name in project.stage_order():
        stage = project.stages[name]
        state = states.get(name) or StageStateRecord(stage=name)
        current = tuple(by_id[c.name] for c in state.current_freight if c.name in by_id)
        # candidates(...).newest(), stopping at the first available: at 10,000 Freight, checking every one
        # for every Stage took 0.6 s
        newest = next((f for f in ordered if availability(stage, f, states, moment).available), None)
        rows.append(
            StageStatus(
                stage=name,
                control_flow=stage.is_control_flow,
                current=current,
                verified=bool(current) and all(f.name in state.verified for f in current),
                last_promotion=state.last_promotions[0] if state.last_promotions else None,
                newest_available=newest,
                auto_promotion=project.auto_promotion_enabled(name),
                holds={wh: h.freight for wh, h in state.holds.items()},
            )
        )
    return rows


def stage_history(ledger: Ledger, stage: str) -> tuple[list[PromotionRecord], list[str]]:
    """A Stage's promotions, newest first, and a message per record that could not be read."""
    read = ledger.stage_history(stage)
    return list(reversed(read.records)), [str(p) for p in read.problems]
