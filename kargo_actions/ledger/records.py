"""Typed records of the ledger branch: one JSON file per record, each carrying `schemaVersion`."""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import ConfigDict, Field, ValidationError

from kargo_actions.errors import Problem
from kargo_actions.ledger.layout import (
    LEDGER_FORMAT,
    MARKER_KIND,
    MARKER_PATH,
    SCHEMA_VERSION,
    TOP_LEVEL,
    LedgerRecordError,
    MetadataKind,
    alias_path,
    approval_path,
    check_freight_id,
    check_name,
    check_record_id,
    discovered_path,
    freight_path,
    marker_path,
    metadata_path,
    promotion_path,
    stage_path,
    verification_path,
)
from kargo_actions.model.base import KargoModel
from kargo_actions.model.freight import (
    Chart,
    Freight,
    FreightMetadata,
    FreightOrigin,
    GitCommit,
    Image,
)

MAX_LAST_PROMOTIONS = 10


class RecordModel(KargoModel):
    """Base of ledger records: schemas are built on first use, so a command pays only for what it reads."""

    model_config = ConfigDict(defer_build=True)


class LedgerMarker(RecordModel):
    """`.kargo-ledger.json` at the branch root: says the branch is a kargo-actions ledger."""

    schema_version: Literal[1] = 1
    kind: Literal["KargoActionsLedger"] = "KargoActionsLedger"
    format: int = LEDGER_FORMAT
    created_by: str = "kargo-actions"


class FreightRecord(Freight):
    """freight/<warehouse>/<id>.json: the Kargo Freight resource plus `schemaVersion` (status is derived)."""

    model_config = ConfigDict(defer_build=True)

    schema_version: Literal[1] = 1

    @classmethod
    def of(cls, freight: Freight) -> FreightRecord:
        data = freight.model_dump(by_alias=True, exclude_none=True, exclude={"status"})
        return cls.model_validate({**data, "schemaVersion": SCHEMA_VERSION})

    def freight(self) -> Freight:
        """The Freight without re-validating: every field was validated with the same types just now."""
        values = {name: getattr(self, name) for name in Freight.model_fields}
        return Freight.model_construct(self.model_fields_set - {"schema_version"}, **values)


class AliasRecord(RecordModel):
    """aliases/<alias>.json: which Freight an alias names; the path keeps aliases unique."""

    schema_version: Literal[1] = 1
    alias: str
    freight: str
    warehouse: str


class DiscoveryResult(RecordModel):
    """What one subscription of a Warehouse found, newest first."""

    subscription_name: str | None = None
    kind: Literal["image", "git", "chart"]
    repo_url: str = Field(alias="repoURL", min_length=1)
    images: list[Image] = Field(default_factory=list)
    commits: list[GitCommit] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    # git only: the remote refs state (a digest of the subscription and the refs it reads) when these commits
    # were found; the next run passes it back, and unchanged refs cost one ls-remote and nothing else.
    git_state: str | None = None


class DiscoveredArtifactsRecord(RecordModel):
    """discovered/<warehouse>.json: the latest discovery of a Warehouse (history = git log)."""

    schema_version: Literal[1] = 1
    warehouse: str
    discovered_at: str
    results: list[DiscoveryResult] = Field(default_factory=list)


class FreightReference(RecordModel):
    name: str
    alias: str | None = None
    origin: FreightOrigin


PromotionPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Errored", "Aborted"]
StepStatus = Literal["Running", "Succeeded", "Failed", "Errored", "Aborted", "Skipped"]


class StepRecord(RecordModel):
    alias: str
    uses: str | None = None
    status: StepStatus
    message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class PromotionRecord(RecordModel):
    """promotions/<stage>/<promotion name>.json: one Promotion (`<stage>.<ULID>.<id[:7]>`)."""

    schema_version: Literal[1] = 1
    name: str
    stage: str
    freight: FreightReference
    phase: PromotionPhase
    message: str | None = None
    actor: str | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    run_url: str | None = Field(default=None, alias="runURL")
    outputs: dict[str, Any] | None = None


VerificationPhase = Literal["Pending", "Running", "Successful", "Failed", "Error", "Inconclusive", "Aborted"]


class AnalysisResult(RecordModel):
    template: str
    phase: VerificationPhase
    message: str | None = None


class VerificationRecord(RecordModel):
    """verifications/<stage>/<id>.json: one verification run of a Stage for a Freight."""

    schema_version: Literal[1] = 1
    id: str
    stage: str
    freight: FreightReference
    phase: VerificationPhase
    message: str | None = None
    actor: str | None = None
    started_at: str
    finished_at: str | None = None
    results: list[AnalysisResult] = Field(default_factory=list)


class ApprovalRecord(RecordModel):
    """approvals/<stage>/<freight id>.json: a manual approval of a Freight for a Stage."""

    schema_version: Literal[1] = 1
    freight: str
    stage: str
    approved_at: str
    actor: str | None = None


class CurrentFreight(RecordModel):
    name: str
    origin: FreightOrigin
    since: str


class VerifiedFreight(RecordModel):
    verified_at: str
    longest_soak: str | None = None  # a Go-style duration, e.g. "1h30m0s"


class ApprovedFreight(RecordModel):
    approved_at: str
    actor: str | None = None


class PromotionSummary(RecordModel):
    name: str
    freight: str
    phase: PromotionPhase
    finished_at: str | None = None


class HoldRecord(RecordModel):
    """An auto-promotion hold on one origin of a Stage: set by promoting a non-newest Freight by hand."""

    freight: str  # the Freight promoted by hand
    since: str
    actor: str | None = None
    reason: str | None = None


class FreightHistoryEntry(RecordModel):
    """One entry of a Stage's Freight history (Kargo's status.freightHistory): what it held after a promotion."""

    freight: list[FreightReference]
    promotion: str | None = None
    since: str


class StageStateRecord(RecordModel):
    """stages/<stage>.json: what a Stage holds now and what it has verified or had approved."""

    schema_version: Literal[1] = 1
    stage: str
    current_freight: list[CurrentFreight] = Field(default_factory=list)
    verified: dict[str, VerifiedFreight] = Field(default_factory=dict)
    approved: dict[str, ApprovedFreight] = Field(default_factory=dict)
    last_promotions: list[PromotionSummary] = Field(default_factory=list, max_length=MAX_LAST_PROMOTIONS)
    # Newest first, at most 10 entries (as Kargo keeps).
    freight_history: list[FreightHistoryEntry] = Field(default_factory=list, max_length=MAX_LAST_PROMOTIONS)
    holds: dict[str, HoldRecord] = Field(default_factory=dict)  # origin Warehouse -> hold
    updated_at: str | None = None


class MetadataRecord(RecordModel):
    """metadata/<stage|freight>/<name>.json: the metadata of a Stage or a Freight (Kargo's status.metadata),
    as the set-metadata step writes it."""

    schema_version: Literal[1] = 1
    kind: MetadataKind
    name: str
    values: dict[str, Any] = Field(default_factory=dict)
    updated_at: str | None = None


def dump_record(record: KargoModel) -> bytes:
    """The file content of a record: pretty, sorted keys, trailing newline (stable diffs in git log)."""
    return (json.dumps(record.wire(), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


ModelT = TypeVar("ModelT", bound=KargoModel)


def load_freight(data: bytes, where: str) -> Freight:
    """A Freight record file as a Freight: one JSON parse and one validation (the hot path of listing)."""
    try:
        raw = json.loads(data)
    except ValueError as err:
        raise _diagnose(FreightRecord, data, where, None) from err
    if not isinstance(raw, dict) or raw.get("schemaVersion") != SCHEMA_VERSION:
        raise _diagnose(FreightRecord, data, where, None)
    del raw["schemaVersion"]
    try:
        return Freight.model_validate(raw)
    except ValidationError as err:
        raise _diagnose(FreightRecord, data, where, err) from err


def load_record(model: type[ModelT], data: bytes, where: str) -> ModelT:
    """Parse one record file; every failure names the file (`where`) and says how to fix it."""
    try:
        return model.model_validate_json(data)
    except ValidationError as err:
        raise _diagnose(model, data, where, err) from err


def _diagnose(
    model: type[KargoModel], data: bytes, where: str, err: ValidationError | None
) -> LedgerRecordError:
    try:
        raw = json.loads(data)
    except ValueError as json_err:
        return LedgerRecordError(
            [
                Problem(
                    file=where,
                    message=f"not valid JSON ({json_err})",
                    hint="restore the file from the ledger's git history",
                )
            ]
        )
    version = raw.get("schemaVersion") if isinstance(raw, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return LedgerRecordError(
            [
                Problem(
                    file=where,
                    path="schemaVersion",
                    message=f"written by a newer kargo-actions (schemaVersion {version}; "
                    f"this version reads {SCHEMA_VERSION})",
                    hint="upgrade kargo-actions to read this ledger",
                )
            ]
        )
    if err is None:
        return LedgerRecordError(
            [
                Problem(
                    file=where,
                    path="schemaVersion",
                    message=f"missing or not a schema version this kargo-actions reads ({SCHEMA_VERSION})",
                )
            ]
        )
    problems = [
        Problem(
            file=where,
            path=".".join(str(p) for p in e["loc"]),
            message=f"{e['msg']} (not a valid {model.__name__})",
        )
        for e in err.errors()
    ]
    return LedgerRecordError(problems)


__all__ = [
    "LEDGER_FORMAT",
    "MARKER_KIND",
    "MARKER_PATH",
    "SCHEMA_VERSION",
    "TOP_LEVEL",
    "AliasRecord",
    "AnalysisResult",
    "ApprovalRecord",
    "ApprovedFreight",
    "CurrentFreight",
    "DiscoveredArtifactsRecord",
    "DiscoveryResult",
    "FreightHistoryEntry",
    "FreightMetadata",
    "FreightRecord",
    "FreightReference",
    "HoldRecord",
    "LedgerMarker",
    "LedgerRecordError",
    "MetadataKind",
    "PromotionRecord",
    "PromotionSummary",
    "StageStateRecord",
    "StepRecord",
    "VerificationRecord",
    "VerifiedFreight",
    "alias_path",
    "approval_path",
    "check_freight_id",
    "check_name",
    "check_record_id",
    "discovered_path",
    "freight_path",
    "marker_path",
    "metadata_path",
    "promotion_path",
    "stage_path",
    "verification_path",
]
