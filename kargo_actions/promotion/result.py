"""What a promotion run produced: per-step results with timings, the phase, the outputs (typed, frozen)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from typing import Any

from kargo_actions.errors import Problem
from kargo_actions.model.promotion import PromotionStatus, StepExecutionMetadata
from kargo_actions.promotion.step_api import StepStatus, WaitingOn
from kargo_actions.struct import struct


class PromotionPhase(enum.StrEnum):
    """Kargo's Promotion phases."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERRORED = "Errored"
    ABORTED = "Aborted"

    @property
    def terminal(self) -> bool:
        return self not in (PromotionPhase.PENDING, PromotionPhase.RUNNING)


# Kargo's order of step outcomes, mildest first: the worst one decides the phase.
SEVERITY: Mapping[StepStatus, int] = {
    StepStatus.SUCCEEDED: 0,
    StepStatus.SKIPPED: 1,
    StepStatus.RUNNING: 2,
    StepStatus.ABORTED: 3,
    StepStatus.FAILED: 4,
    StepStatus.ERRORED: 5,
}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@struct
class StepRun:
    """One step of a promotion as it ran: status, message, outputs, attempts and timings.

    `duration` is the step's whole time (evaluating its vars, `if` and config, validating, running);
    `run_seconds` the part spent inside the step's own code, so the difference is the engine's overhead.
    """

    alias: str
    uses: str
    status: StepStatus
    message: str = ""
    outputs: Mapping[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float = 0.0
    run_seconds: float = 0.0
    attempts: int = 0
    error_count: int = 0
    continue_on_error: bool = False
    task: str = ""  # the alias of the task step this step was expanded from, if any
    problems: tuple[Problem, ...] = ()
    # Status Running (the promotion stopped here, `--no-wait`): what it waits for, when it asked to be looked
    # at again, and when its retry.timeout (counted from started_at, across resumes) runs out.
    waiting: WaitingOn | None = None
    next_check_at: datetime | None = None
    deadline: datetime | None = None

    @property
    def overhead(self) -> float:
        return max(0.0, self.duration - self.run_seconds)

    def execution_metadata(self) -> StepExecutionMetadata:
        """The step as Kargo records it in a Promotion's status.stepExecutionMetadata."""
        return StepExecutionMetadata(
            alias=self.alias,
            status=self.status.value,
            message=self.message or None,
            started_at=_iso(self.started_at),
            finished_at=_iso(self.finished_at),
            error_count=self.error_count,
            continue_on_error=self.continue_on_error,
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (camelCase, Kargo's StepExecutionMetadata names where they exist)."""
        data: dict[str, Any] = {
            "alias": self.alias,
            "uses": self.uses,
            "status": str(self.status),
            "message": self.message,
            "startedAt": _iso(self.started_at),
            "finishedAt": _iso(self.finished_at),
            "durationSeconds": round(self.duration, 6),
            "attempts": self.attempts,
            "errorCount": self.error_count,
            "continueOnError": self.continue_on_error,
            "outputs": dict(self.outputs),
        }
        if self.task:
            data["task"] = self.task
        if self.problems:
            data["problems"] = [str(p) for p in self.problems]
        if self.status is StepStatus.RUNNING:
            data["wait"] = self.wait_json()
        return data

    def wait_json(self) -> dict[str, Any]:
        """What a Running step waits for, as `--output json` and the ledger's `wait` show it."""
        waiting = self.waiting or WaitingOn(kind="step", description=self.message or f"step {self.alias}")
        data: dict[str, Any] = {
            "kind": waiting.kind,
            "description": waiting.description,
            "step": self.alias,
            "url": waiting.url or None,
            "repoURL": waiting.repo_url or None,
            "number": waiting.number,
            "since": _iso(self.started_at),
            "nextCheckAt": _iso(self.next_check_at),
            "deadline": _iso(self.deadline),
        }
        return {key: value for key, value in data.items() if value is not None}


@struct
class PromotionResult:
    """The outcome of one promotion: what the ledger records and the commands report."""

    name: str
    stage: str
    freight: str
    phase: PromotionPhase
    message: str = ""
    steps: tuple[StepRun, ...] = ()
    outputs: Mapping[str, Any] = field(default_factory=dict)  # every step's outputs by alias (Kargo's state)
    actor: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    current_step: int | None = None  # phase Running: the index of the step it waits at

    @property
    def waiting_step(self) -> StepRun | None:
        """Phase Running: the step the promotion stopped at (it waits for something outside)."""
        if self.phase is not PromotionPhase.RUNNING or self.current_step is None:
            return None
        return self.steps[self.current_step] if self.current_step < len(self.steps) else None

    @property
    def duration(self) -> float:
        if self.started_at is None or self.finished_at is None:
            return 0.0
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def succeeded(self) -> bool:
        return self.phase is PromotionPhase.SUCCEEDED

    def step(self, alias: str) -> StepRun | None:
        return next((s for s in self.steps if s.alias == alias), None)

    def promotion_status(self) -> PromotionStatus:
        """Kargo's Promotion status for this result (phase, message, steps, outputs as `state`, times)."""
        return PromotionStatus(
            phase=self.phase.value,
            message=self.message or None,
            current_step=self.current_step if self.current_step is not None else max(0, len(self.steps) - 1),
            step_execution_metadata=[s.execution_metadata() for s in self.steps],
            state=dict(self.outputs) or None,
            started_at=_iso(self.started_at),
            finished_at=_iso(self.finished_at),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stage": self.stage,
            "freight": self.freight,
            "phase": str(self.phase),
            "message": self.message,
            "actor": self.actor,
            "startedAt": _iso(self.started_at),
            "finishedAt": _iso(self.finished_at),
            "durationSeconds": round(self.duration, 6),
            "steps": [s.to_json() for s in self.steps],
            "outputs": dict(self.outputs),
            "currentStep": self.current_step,
            "wait": waiting.wait_json() if (waiting := self.waiting_step) is not None else None,
        }
