"""Analysis phases and the typed results of one AnalysisRun: measurements, metric results, the run."""

from __future__ import annotations

import enum
from dataclasses import field
from typing import Any

from kargo_actions.struct import struct


class MeasurementError(Exception):
    """A measurement could not be taken (its phase is Error, with this message)."""


class Phase(enum.StrEnum):
    """Argo Rollouts' AnalysisPhase, for measurements, metrics and the run (Aborted: this project's abort)."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"
    ABORTED = "Aborted"

    @property
    def completed(self) -> bool:
        return self not in (Phase.PENDING, Phase.RUNNING)


# Argo Rollouts' analysisStatusOrder (utils/analysis/helpers.go), best to worst; Aborted is worst of all here.
_ORDER = (
    Phase.SUCCESSFUL,
    Phase.RUNNING,
    Phase.PENDING,
    Phase.INCONCLUSIVE,
    Phase.ERROR,
    Phase.FAILED,
    Phase.ABORTED,
)


def is_worse(current: Phase, new: Phase) -> bool:
    """Whether `new` is a worse outcome than `current` (Argo Rollouts' IsWorse)."""
    return _ORDER.index(new) > _ORDER.index(current)


@struct
class Measurement:
    """One measurement of one metric: its phase, the value as text (as Argo records it), times, message."""

    phase: Phase
    value: str = ""
    message: str = ""
    started_at: float = 0.0  # monotonic seconds of the run's clock
    finished_at: float = 0.0
    started: str = ""  # RFC 3339 wall-clock times, for records and summaries
    finished: str = ""
    result: Any = None  # the typed result the conditions saw (not recorded)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "phase": str(self.phase),
            "startedAt": self.started,
            "finishedAt": self.finished,
        }
        if self.value:
            data["value"] = self.value
        if self.message:
            data["message"] = self.message
        return data


@struct
class MetricResult:
    """A metric's measurements and counters (Argo Rollouts' MetricResult)."""

    name: str
    phase: Phase = Phase.PENDING
    measurements: tuple[Measurement, ...] = ()
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    consecutive_success: int = 0
    message: str = ""
    dry_run: bool = False
    template: str = ""

    @property
    def last(self) -> Measurement | None:
        return self.measurements[-1] if self.measurements else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "template": self.template,
            "phase": str(self.phase),
            "message": self.message or None,
            "dryRun": self.dry_run,
            "count": self.count,
            "successful": self.successful,
            "failed": self.failed,
            "inconclusive": self.inconclusive,
            "error": self.error,
            "consecutiveError": self.consecutive_error,
            "consecutiveSuccess": self.consecutive_success,
            "measurements": [m.to_json() for m in self.measurements],
        }


@struct
class RunResult:
    """One AnalysisRun: its phase, message and every metric's result."""

    phase: Phase
    message: str = ""
    metrics: tuple[MetricResult, ...] = field(default_factory=tuple)
    started: str = ""
    finished: str = ""

    @property
    def successful(self) -> bool:
        return self.phase is Phase.SUCCESSFUL

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": str(self.phase),
            "message": self.message or None,
            "startedAt": self.started,
            "finishedAt": self.finished,
            "metrics": [m.to_json() for m in self.metrics],
        }
