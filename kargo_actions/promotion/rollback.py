"""Automatic rollback (ProjectConfig `promotionPolicies[].autoRollback`, Kargo Enterprise's rule).

When a Stage's verification ends in one of `onVerification` (default Failed) or its promotion in one of
`onPromotion`, the Stage is promoted back to its last known-good Freight: the newest of its Freight history
verified there, other than the bad one. The rollback runs as actor `auto-rollback`, names what triggered
it, passes the same gates (windows and freezes included) and sets the hold (Mode.ROLLBACK), so
auto-promotion does not bring the bad Freight straight back. The bad Freight is not verified in the Stage,
so no downstream Stage takes it from there.
"""

from __future__ import annotations

from dataclasses import replace

from kargo_actions.errors import InvalidInputError, KargoActionsError, Problem, RefusedError
from kargo_actions.ledger import Ledger
from kargo_actions.ledger.store import Snapshot
from kargo_actions.model.project import Project
from kargo_actions.model.stage import Stage
from kargo_actions.promotion.service import Mode, PromoteOptions, PromotionOutcome, promote
from kargo_actions.struct import struct

ACTOR = "auto-rollback"


@struct
class RollbackReport:
    """What autoRollback did after one failure: rolled back, or why not (none, refused, failed)."""

    stage: str
    trigger: str
    action: str  # rolled-back, none (no earlier verified Freight), refused (a gate, window or freeze), failed
    reason: str
    target: str = ""  # the Freight rolled back to
    outcome: PromotionOutcome | None = None

    @property
    def failed(self) -> bool:
        return self.action == "failed" or (self.outcome is not None and not self.outcome.ok)

    def line(self) -> str:
        return f"{self.stage}: auto-rollback {self.action} ({self.reason}); triggered by {self.trigger}"

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "stage": self.stage,
            "trigger": self.trigger,
            "action": self.action,
            "reason": self.reason,
            "freight": self.target or None,
        }
        if self.outcome is not None:
            data["promotion"] = self.outcome.result.name
            data["phase"] = str(self.outcome.result.phase)
        return data

    def markdown(self) -> str:
        """A job summary section: what failed, what the Stage went back to (or why it did not)."""
        head = f"### kargo-actions auto-rollback: {self.stage}"
        target = f" to Freight `{self.target[:12]}`" if self.target else ""
        return f"{head}\n\n**{self.action}**{target}: {self.reason}\n\nTriggered by {self.trigger}.\n"


def last_known_good(ledger: Ledger, stage: str, bad: str) -> str | None:
    """The newest Freight of the Stage's history verified there, other than `bad`; None when there is none."""
    state = ledger.stage_state(stage)
    for entry in state.freight_history:
        for ref in entry.freight:
            if ref.name != bad and ref.name in state.verified:
                return ref.name
    return None


def after_verification(
    project: Project,
    ledger: Ledger,
    stage: str,
    freight: str,
    phase: str,
    run: str,
    options: PromoteOptions,
) -> RollbackReport | None:
    """Roll the Stage back when its policy lists the verification's phase; None when it does not apply."""
    policy = project.auto_rollback(stage)
    if policy is None or phase not in policy.verification_phases:
        return None
    trigger = f"verification {run} of Freight {freight[:12]} in {stage} ended {phase}"
    return _roll_back(project, ledger, stage, freight, trigger, options)


def after_promotion(
    project: Project, ledger: Ledger, outcome: PromotionOutcome, options: PromoteOptions
) -> RollbackReport | None:
    """Roll back after a promotion that failed (onPromotion) or whose verification failed (onVerification).

    A rollback's own failure starts no other rollback: it would walk the Stage back through its history.
    """
    result = outcome.result
    if result.actor == ACTOR:
        return None
    stage, freight = result.stage, outcome.freight.name
    policy = project.auto_rollback(stage)
    if policy is None:
        return None
    if str(result.phase) in policy.promotion_phases:
        trigger = f"promotion {result.name} of Freight {freight[:12]} ended {result.phase}"
        return _roll_back(project, ledger, stage, freight, trigger, options)
    if outcome.verification_failed:
        run = f"after promotion {result.name}"
        return after_verification(project, ledger, stage, freight, outcome.verification, run, options)
    return None


def _roll_back(
    project: Project, ledger: Ledger, stage: str, bad: str, trigger: str, options: PromoteOptions
) -> RollbackReport:
    ledger.sync()
    target = last_known_good(ledger, stage, bad)
    if target is None:
        why = f"no rollback: {stage} has no earlier Freight verified there"
        return RollbackReport(stage, trigger, "none", why)
    opts = replace(options, actor=ACTOR, trigger=f"auto-rollback after {trigger}")
    try:
        outcome = promote(project, ledger, stage, target, mode=Mode.ROLLBACK, options=opts)
    except RefusedError as err:  # a gate, a busy Stage, a closed window or a freeze (StageClosedError)
        return RollbackReport(stage, trigger, "refused", str(err), target)
    except KargoActionsError as err:
        return RollbackReport(stage, trigger, "failed", str(err), target)
    if not outcome.succeeded:
        return RollbackReport(stage, trigger, "failed", outcome.result.message, target, outcome)
    hold = "; auto-promotion held" if outcome.hold == "set" else ""
    why = f"{stage} is back at its last verified Freight {target[:12]}{hold}"
    return RollbackReport(stage, trigger, "rolled-back", why, target, outcome)


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
