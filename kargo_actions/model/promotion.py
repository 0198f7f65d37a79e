"""Promotion: the record of moving one Freight into one Stage (Kargo's Promotion resource shape)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kargo_actions.model.base import KargoModel
from kargo_actions.model.freight import Chart, FreightOrigin, GitCommit, Image
from kargo_actions.model.promotion_task import PromotionStep, PromotionVar

PromotionPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Errored", "Aborted"]
StepStatus = Literal["Running", "Succeeded", "Failed", "Errored", "Aborted", "Skipped"]
TERMINAL_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "Errored", "Aborted"})


class PromotionMetadata(KargoModel):
    name: str
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    creation_timestamp: str | None = None


class PromotionSpec(KargoModel):
    stage: str
    freight: str
    vars: list[PromotionVar] = Field(default_factory=list)
    steps: list[PromotionStep] = Field(default_factory=list)


class FreightReference(KargoModel):
    name: str
    origin: FreightOrigin
    commits: list[GitCommit] = Field(default_factory=list)
    images: list[Image] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)


class StepExecutionMetadata(KargoModel):
    alias: str
    status: StepStatus | None = None
    message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error_count: int = 0
    continue_on_error: bool = False


class PromotionStatus(KargoModel):
    phase: PromotionPhase = "Pending"
    message: str | None = None
    freight: FreightReference | None = None
    current_step: int = 0
    step_execution_metadata: list[StepExecutionMetadata] = Field(default_factory=list)
    state: dict[str, Any] | None = None
    health_checks: list[dict[str, Any]] = Field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None


class Promotion(KargoModel):
    """A Promotion, named `<stage>.<ULID>.<first 7 characters of the Freight ID>`."""

    api_version: Literal["kargo.akuity.io/v1alpha1"] = "kargo.akuity.io/v1alpha1"
    kind: Literal["Promotion"] = "Promotion"
    metadata: PromotionMetadata
    spec: PromotionSpec
    status: PromotionStatus = Field(default_factory=PromotionStatus)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def finished(self) -> bool:
        return self.status.phase in TERMINAL_PHASES


def promotion_name(stage: str, ulid: str, freight_id: str) -> str:
    """Kargo's Promotion naming: stage, a ULID (time-sortable), the Freight ID's first 7 characters."""
    return f"{stage}.{ulid.lower()}.{freight_id[:7]}"
