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
    deferred_path,
    discovered_path,
    freeze_path,
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
from kargo_actions.model.messages import dotted, field_problems

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
    # When each artifact was made, as the registry or git said (image: digest, else tag; commit: its ID; chart:
    # name@version): the start of the lead time for changes (docs/metrics.md). Absent when nothing said.
    created_at: dict[str, str] | None = None


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
    """One step's execution metadata (Kargo's StepExecutionMetadata); a step that waits stays Running here
    with the startedAt its timeout counts from, across the runs that resume it."""

    alias: str
    uses: str | None = None
    status: StepStatus
    message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error_count: int = 0


WaitKind = Literal["pull-request", "workflow-run", "http", "argocd", "step"]


class WaitRecord(RecordModel):
    """What a Running promotion waits on (its current step reported Running) and until when."""

    kind: WaitKind
    description: str
    step: str  # the alias of the waiting step
    url: str | None = None  # the pull request, workflow run or URL being polled
    repo_url: str | None = Field(default=None, alias="repoURL")
    number: int | None = None  # the pull request number or the workflow run ID
    since: str  # when the waiting step started: its timeout counts from here
    next_check_at: str | None = None  # when the step asked to be looked at again
    deadline: str | None = None  # since + the step's retry.timeout; past it the promotion fails


class RunnerRecord(RecordModel):
    """Who runs a promotion's steps right now, and until when its claim holds without renewal."""

    host: str
    pid: int
    run_id: str | None = Field(default=None, alias="runID")  # GITHUB_RUN_ID
    run_attempt: str | None = None
    repository: str | None = None  # GITHUB_REPOSITORY of that run
    claimed_at: str
    lease_expires_at: str


class PromotionRequest(RecordModel):
    """How a promotion was asked for: what its end (holds, outcome) and a resume need to know."""

    mode: Literal["manual", "auto", "rollback"] = "manual"
    via: str | None = None  # how the gate let the Freight in
    newest: str | None = None  # the newest Freight available for the origin when it started
    collection: list[str] = Field(default_factory=list)  # the Stage's Freight of other origins
    skip_steps: list[str] = Field(default_factory=list)
    trigger: str | None = None  # an automatic rollback: the verification or promotion that started it


class PromotionRecord(RecordModel):
    """promotions/<stage>/<promotion name>.json: one Promotion (`<stage>.<ULID>.<id[:7]>`).

    Schema 2 makes it Kargo's PromotionStatus in full, so a promotion can stop and be resumed: `currentStep`
    (index into the expanded steps), per-step metadata, `outputs` (Kargo's shared `state`), what it waits on
    (`wait`), who runs it (`runner`) and how it was asked for (`request`). Schema 1 records read as before.
    """

    schema_version: Literal[1, 2] = 2
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
    current_step: int | None = None
    wait: WaitRecord | None = None
    runner: RunnerRecord | None = None
    request: PromotionRequest | None = None
    deployment_id: int | None = Field(default=None, alias="deploymentID")  # its GitHub Deployment


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
    """stages/<stage>.json: what a Stage holds now and what it has verified or had approved.

    Schema 2 adds the Stage's promotion queue: `activePromotion` (the one Running promotion, Kargo runs one
    per Stage at a time) and `pendingPromotions` (queued ones, in creation order)."""

    schema_version: Literal[1, 2] = 2
    stage: str
    current_freight: list[CurrentFreight] = Field(default_factory=list)
    verified: dict[str, VerifiedFreight] = Field(default_factory=dict)
    approved: dict[str, ApprovedFreight] = Field(default_factory=dict)
    last_promotions: list[PromotionSummary] = Field(default_factory=list, max_length=MAX_LAST_PROMOTIONS)
    # Newest first, at most 10 entries (as Kargo keeps).
    freight_history: list[FreightHistoryEntry] = Field(default_factory=list, max_length=MAX_LAST_PROMOTIONS)
    holds: dict[str, HoldRecord] = Field(default_factory=dict)  # origin Warehouse -> hold
    updated_at: str | None = None
    active_promotion: str | None = None
    pending_promotions: list[str] = Field(default_factory=list)


class MetadataRecord(RecordModel):
    """metadata/<stage|freight>/<name>.json: the metadata of a Stage or a Freight (Kargo's status.metadata),
    as the set-metadata step writes it."""

    schema_version: Literal[1] = 1
    kind: MetadataKind
    name: str
    values: dict[str, Any] = Field(default_factory=dict)
    updated_at: str | None = None


class FreezeRecord(RecordModel):
    """freezes/all.json or freezes/stages/<stage>.json: a stop-the-line freeze (`kargo-actions freeze`); no
    promotion goes into the Stage (every Stage for all.json) until it is lifted or `until` passes."""

    schema_version: Literal[1] = 1
    stage: str | None = None  # None: every Stage of the project
    reason: str
    actor: str | None = None
    frozen_at: str
    until: str | None = None  # when it expires by itself; None: until lifted
    run_url: str | None = Field(default=None, alias="runURL")  # the Actions run that set it
    lifted_at: str | None = None  # `kargo-actions unfreeze`: kept, so the file says who lifted it and when
    lifted_by: str | None = None


class DeferredPromotionRecord(RecordModel):
    """deferred/<stage>.json: an auto-promotion a promotion window or a freeze refused; `reconcile` runs the
    Stage's auto-promotion when its schedule opens, and the next promotion into the Stage removes the file."""

    schema_version: Literal[1] = 1
    stage: str
    freight: str  # the Freight auto-promotion chose when it was refused
    reason: str
    deferred_at: str
    opens_at: str | None = None  # the schedule's next opening, when known (None: a freeze without `until`)


def dump_record(record: KargoModel) -> bytes:
    """The file content of a record: pretty, sorted keys, trailing newline (stable diffs in git log).

    Secrets are redacted (URL passwords in repoURLs, step messages and outputs): a record leaves the process.
    """
    from kargo_actions.redact import redact_data

    data = redact_data(record.wire())
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


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


def newest_schema_version(model: type[KargoModel]) -> int:
    """The schema version a record model writes (its newest): 1 for most, 2 for promotions and Stage states."""
    field = model.model_fields.get("schema_version")
    return field.default if field is not None and isinstance(field.default, int) else SCHEMA_VERSION


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
    newest = newest_schema_version(model)
    if isinstance(version, int) and version > newest:
        return LedgerRecordError(
            [
                Problem(
                    file=where,
                    path="schemaVersion",
                    message=f"written by a newer kargo-actions (schemaVersion {version}; "
                    f"this version reads {newest})",
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
                    message=f"missing or not a schema version this kargo-actions reads ({newest})",
                )
            ]
        )
    problems = [
        Problem(
            file=where, path=dotted(p.loc), message=f"{p.message} (not a valid {model.__name__})", hint=p.hint
        )
        for p in field_problems(err, model)
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
    "DeferredPromotionRecord",
    "DiscoveredArtifactsRecord",
    "DiscoveryResult",
    "FreezeRecord",
    "FreightHistoryEntry",
    "FreightMetadata",
    "FreightRecord",
    "FreightReference",
    "HoldRecord",
    "LedgerMarker",
    "LedgerRecordError",
    "MetadataKind",
    "PromotionRecord",
    "PromotionRequest",
    "PromotionSummary",
    "RunnerRecord",
    "StageStateRecord",
    "StepRecord",
    "VerificationRecord",
    "VerifiedFreight",
    "WaitRecord",
    "alias_path",
    "approval_path",
    "check_freight_id",
    "check_name",
    "check_record_id",
    "deferred_path",
    "discovered_path",
    "freeze_path",
    "freight_path",
    "marker_path",
    "metadata_path",
    "promotion_path",
    "stage_path",
    "verification_path",
]
