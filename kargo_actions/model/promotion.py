"""Promotion: the record of moving one Freight into one Stage (Kargo's Promotion resource shape)."""

from __future__ import annotations

import os
import threading
import time
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


_CROCKFORD_BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_ulid_lock = threading.Lock()
_last_ulid = [-1, 0]  # the millisecond and the random part of the last ULID made in this process


def new_ulid() -> str:
    """A ULID: 48 bits of Unix time in milliseconds, then 80 random bits, as 26 characters of Crockford's base32.

    Made as python-ulid's `str(ULID())` makes it, strictly increasing within a process (a second ULID in the
    same millisecond takes the random part of the one before plus one), without that package's 10 ms of
    imports (importlib.metadata, for its version string) in every promotion's start-up.
    """
    millis = time.time_ns() // 1_000_000
    with _ulid_lock:
        if millis == _last_ulid[0]:
            if _last_ulid[1] == (1 << _RANDOM_BITS) - 1:
                raise ValueError("Randomness within same millisecond exhausted")
            randomness = _last_ulid[1] + 1
        else:
            randomness = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big")
        _last_ulid[:] = [millis, randomness]
    return encode_ulid(millis, randomness)


def encode_ulid(millis: int, randomness: int) -> str:
    """The 26 characters of the ULID of a millisecond timestamp and an 80-bit random part."""
    value = millis << _RANDOM_BITS | randomness
    return "".join(_CROCKFORD_BASE32[(value >> shift) & 31] for shift in range(125, -1, -5))


def promotion_name(stage: str, ulid: str, freight_id: str) -> str:
    """Kargo's Promotion naming: stage, a ULID (time-sortable), the Freight ID's first 7 characters."""
    return f"{stage}.{ulid.lower()}.{freight_id[:7]}"
