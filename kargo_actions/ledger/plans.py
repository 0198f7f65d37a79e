"""The values a ledger write passes around: what a build asks to write, and what the write did."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kargo_actions.errors import Problem
from kargo_actions.model.base import KargoModel
from kargo_actions.model.freight import Freight

ModelT = TypeVar("ModelT", bound=KargoModel)
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class TagRequest:
    """A Freight tag to create with the ledger commit; target None means the ledger commit itself."""

    name: str
    message: str
    target: str | None


@dataclass(frozen=True)
class WritePlan(Generic[ResultT]):
    """What one attempt writes on top of a snapshot: files (None deletes), tags, commit summary, result."""

    summary: str
    files: Mapping[str, bytes | None]
    result: ResultT
    tags: tuple[TagRequest, ...] = ()


@dataclass(frozen=True)
class NoWrite(Generic[ResultT]):
    """What a build returns when the ledger already holds what was asked (an idempotent no-op)."""

    result: ResultT


@dataclass(frozen=True)
class WriteOutcome(Generic[ResultT]):
    result: ResultT
    commit: str | None  # None when nothing needed writing
    attempts: int
    tags: Mapping[str, str] = field(default_factory=dict)  # tag name -> tag object id


@dataclass(frozen=True)
class RecordResult:
    """The outcome of recording a Freight."""

    freight: Freight
    created: bool  # False when the ledger already held this Freight
    tag: str
    ledger_commit: str | None
    signed: bool
    attempts: int


@dataclass(frozen=True)
class DiscoveryRunResult:
    """The outcome of recording a discovery run (Ledger.record_discovery_run)."""

    freight: tuple[RecordResult, ...]  # one per Freight asked for, in order
    discovered_changed: tuple[str, ...]  # Warehouses whose discovered record was written
    ledger_commit: str | None  # None when nothing needed writing
    attempts: int


@dataclass(frozen=True)
class ReadResult(Generic[ModelT]):
    """Records that parsed, and a problem naming each file that did not."""

    records: list[ModelT]
    problems: list[Problem]
