"""The values a ledger write passes around: what a build asks to write, and what the write did."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Generic, TypeVar

from kargo_actions.errors import Problem
from kargo_actions.model.base import KargoModel
from kargo_actions.model.freight import Freight
from kargo_actions.struct import struct

ModelT = TypeVar("ModelT", bound=KargoModel)
ResultT = TypeVar("ResultT")


@struct
class TagRequest:
    """A Freight tag to create with the ledger commit; target None means the ledger commit itself."""

    name: str
    message: str
    target: str | None


@struct
class WritePlan(Generic[ResultT]):
    """What one attempt writes on top of a snapshot: files (None deletes), tags, commit summary, result.

    `combine`: when the write stays right on any tip whose objects at these paths are the ones given (None:
    no object there), e.g. {a new Freight's path: None}, {the Stage state it rewrote: the blob it read}; {}
    for a write that reads nothing. Such a write can wait as a pending write and land in another writer's
    commit (ledger/pending.py). None (the default): the write decides on the tip itself (a claim, a gate).
    """

    summary: str
    files: Mapping[str, bytes | None]
    result: ResultT
    tags: tuple[TagRequest, ...] = ()
    combine: Mapping[str, str | None] | None = None


@struct
class NoWrite(Generic[ResultT]):
    """What a build returns when the ledger already holds what was asked (an idempotent no-op)."""

    result: ResultT


class PendingPush:
    """A ledger push running on a thread (`Ledger.write(..., background=True)`): `landed()` waits for it and
    says whether it landed (False: the remote moved first, nothing was written), or raises what stopped it."""

    def __init__(self, push: Callable[[], bool]) -> None:
        self._push = push
        self._outcome: bool | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kargo-actions-ledger-push", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome = self._push()
        except BaseException as err:  # handed to the waiting thread by landed()
            self._error = err

    def landed(self) -> bool:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return bool(self._outcome)


@struct
class WriteOutcome(Generic[ResultT]):
    result: ResultT
    commit: str | None  # None when nothing needed writing
    attempts: int
    tags: Mapping[str, str] = field(default_factory=dict)  # tag name -> tag object id
    pending: PendingPush | None = None  # with background=True: the push still on its way


@struct
class RecordResult:
    """The outcome of recording a Freight."""

    freight: Freight
    created: bool  # False when the ledger already held this Freight
    tag: str
    ledger_commit: str | None
    signed: bool
    attempts: int


@struct
class DiscoveryRunResult:
    """The outcome of recording a discovery run (Ledger.record_discovery_run)."""

    freight: tuple[RecordResult, ...]  # one per Freight asked for, in order
    discovered_changed: tuple[str, ...]  # Warehouses whose discovered record was written
    ledger_commit: str | None  # None when nothing needed writing
    attempts: int


@struct
class ReadResult(Generic[ModelT]):
    """Records that parsed, and a problem naming each file that did not."""

    records: list[ModelT]
    problems: list[Problem]
