"""The contract every promotion step satisfies: a config model, a context, a typed result.

A step validates nothing itself: the engine validates the evaluated config against the step's
`config_model` (a bad config is a terminal error, never retried), then calls `run` on the typed config.
"""

from __future__ import annotations

import enum
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from kargo_actions.errors import ExitCode, KargoActionsError
from kargo_actions.model.freight import Freight


class StepStatus(enum.StrEnum):
    """Kargo's step statuses."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERRORED = "Errored"
    ABORTED = "Aborted"
    SKIPPED = "Skipped"


class StepConfig(BaseModel):
    """Base of step config models: Kargo's camelCase keys, unknown keys refused, values frozen."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


ConfigT = TypeVar("ConfigT", bound=StepConfig)
ConfigT_contra = TypeVar("ConfigT_contra", bound=StepConfig, contravariant=True)


@dataclass(frozen=True)
class StepResult:
    """What a step returns: its status, a message for people, and outputs named as Kargo names them."""

    status: StepStatus = StepStatus.SUCCEEDED
    message: str = ""
    outputs: Mapping[str, Any] = field(default_factory=dict)


class StepError(KargoActionsError):
    """A step could not do its job; the engine may retry it (Kargo: status Errored)."""

    exit_code = ExitCode.FAILED


class TerminalStepError(StepError):
    """A step error no retry can cure: bad config, a path outside the work dir, a refusal by policy."""


class PathEscapeError(TerminalStepError):
    """A step path that leads outside the promotion's work dir."""


@dataclass(frozen=True)
class StepContext:
    """Everything a step may use besides its config. Paths must go through `path()`."""

    work_dir: Path
    project: str = ""
    stage: str = ""
    promotion: str = ""
    alias: str = ""
    actor: str = ""
    target_freight: Freight | None = None
    freight: Sequence[Freight] = ()
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    abort: threading.Event = field(default_factory=threading.Event)

    def path(self, relative: str, *, field_name: str = "path") -> Path:
        """`relative` resolved inside the work dir; absolute paths, `..` and symlinks that escape are refused."""
        if not relative:
            raise TerminalStepError(f"{field_name}: a path is required")
        candidate = Path(relative)
        if candidate.is_absolute():
            raise PathEscapeError(
                f"{field_name}: {relative!r} is absolute; step paths are relative to the work dir"
            )
        root = self.work_dir.resolve()
        resolved = (root / candidate).resolve()
        if resolved != root and not resolved.is_relative_to(root):
            raise PathEscapeError(f"{field_name}: {relative!r} leads outside the work dir")
        return resolved

    def check_abort(self) -> None:
        """Raise when the promotion is being aborted (SIGTERM/SIGINT); long steps call this between units of work."""
        if self.abort.is_set():
            raise StepAborted(f"step {self.alias or '?'} aborted")


class StepAborted(StepError):
    """The promotion was aborted while the step ran."""


class Step(Protocol[ConfigT_contra]):
    """A promotion step: `name` as Kargo names it, its config model, and `run`."""

    name: ClassVar[str]
    config_model: ClassVar[type[StepConfig]]

    def run(self, ctx: StepContext, config: ConfigT_contra) -> StepResult: ...
