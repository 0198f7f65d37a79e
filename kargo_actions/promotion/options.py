"""What a promotion run is given: the engine's options and where a stopped promotion goes on.

Apart from the engine (engine.py) so that the start of a promotion (its ledger write, the gates) does not wait
for the engine and the expression language to import: they load on a thread while that write waits on git.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kargo_actions.promotion.result import StepRun
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.expressions.kargo import MetadataProvider
    from kargo_actions.ledger.store import Ledger

StepObserver = Callable[[StepRun], None]
# Told each time a step reports Running and the engine waits in its process: (step alias, what it waits for).
WaitObserver = Callable[[str, str], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@struct
class EngineOptions:
    """How the engine waits and what it hands to steps and expressions."""

    poll_interval: float = 5.0  # between runs of a step that reports Running (waiting on something)
    retry_backoff: float = 1.0  # first wait before retrying an errored step; doubles up to the max
    retry_backoff_max: float = 30.0
    env: Mapping[str, str] | None = (
        None  # the environment of steps and of secret()/configMap(); default os.environ
    )
    ui_base_url: str = ""
    rollback: bool = False
    stage_metadata: MetadataProvider | None = None
    # The ledger: set-metadata / set-freight-alias write to it, stageMetadata() / freightMetadata() read it
    # (stage_metadata, when given, wins for Stages).
    ledger: Ledger | None = None
    on_step: StepObserver | None = None  # called after each step, e.g. to print progress
    # Step names to skip instead of run (status Skipped), e.g. argocd-update where there is no Argo CD.
    skip_steps: frozenset[str] = frozenset()
    # `promote --no-wait`: a step that reports Running ends the run (phase Running, currentStep at it) instead
    # of waiting in this process, wherever the promotion can resume without its work dir.
    suspend: bool = False
    on_wait: WaitObserver | None = None
    now: Callable[[], datetime] = _utc_now  # the wall clock of step times and deadlines (injectable)
    # Called once before the first step that is not `effects_local` (or raises ClaimLost): the promotion's
    # start write may still be on its way to the remote while local steps (clone, edits) run.
    before_external: Callable[[], None] | None = None


class ClaimLost(Exception):
    """The start write published in the background lost its race (or failed): the run must stop before any
    step with effects outside the work dir, and start again (or fail with `cause`)."""

    def __init__(self, cause: BaseException | None = None) -> None:
        super().__init__(str(cause) if cause else "the start of the promotion was not published")
        self.cause = cause


@struct
class ResumePoint:
    """Where a stopped promotion goes on: the step it waits at, the steps before it as they ended, the shared
    state, and when the waiting step started (its timeout counts from there, across runs)."""

    index: int
    runs: tuple[StepRun, ...]
    state: Mapping[str, Any]
    step_started_at: datetime
    error_count: int = 0
    started_at: datetime | None = None  # the promotion's own start
