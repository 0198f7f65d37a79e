"""The contract every promotion step satisfies: a config model, a context, a typed result.

A step validates nothing itself: the engine validates the evaluated config against the step's
`config_model` (a bad config is a terminal error, never retried), then calls `run` on the typed config.
Child processes go through steps/support/process.run_command, so every step spawns, aborts and reports them
the same way.
"""

from __future__ import annotations

import enum
import json
import os
import threading
import time
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from kargo_actions.errors import (
    ExitCode,
    FailedError,
    KargoActionsError,
    Problem,
    RetryableError,
)
from kargo_actions.model.freight import Freight
from kargo_actions.model.messages import field_problems
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.ledger.store import Ledger


class StepStatus(enum.StrEnum):
    """Kargo's step statuses."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERRORED = "Errored"
    ABORTED = "Aborted"
    SKIPPED = "Skipped"


NonEmpty = Annotated[StrictStr, Field(min_length=1)]
"""A config string that must not be empty (Kargo's schemas: minLength 1)."""


class StepConfig(BaseModel):
    """Base of step config models: Kargo's camelCase keys, unknown keys refused, values frozen."""

    # A docstring under a field is its description (docs/steps is generated from it), read by
    # report.step_docs.field_descriptions() when asked: pydantic's use_attribute_docstrings reads the source of every config
    # class as it is defined, 25-30 ms of each promotion's start-up.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        # Kargo's step schemas have no nullable field: `X | None = None` means "may be left out", not null.
        # Only configs read as JSON (validate_config) are held to it; Python code may pass None for "unset".
        if value is None and info.mode == "json" and info.field_name is not None:
            f = cls.model_fields[info.field_name]
            if f.default is None and _admits_none(f.annotation):
                raise ValueError("must not be null: leave the field out instead")
        return value


def _admits_none(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return type(None) in typing.get_args(annotation)
    return False


ConfigT = TypeVar("ConfigT", bound=StepConfig)
ConfigT_contra = TypeVar("ConfigT_contra", bound=StepConfig, contravariant=True)


@struct
class WaitingOn:
    """What a step that reports Running waits for, so a suspended promotion can say it and an event (a pull
    request closed, a workflow run completed) can find the promotion it moves."""

    kind: str  # pull-request, workflow-run, http, argocd, or step (anything else)
    description: str
    url: str = ""
    repo_url: str = ""
    number: int | None = None  # the pull request number or the workflow run ID


@struct
class StepResult:
    """What a step returns: its status, a message for people, and outputs named as Kargo names them."""

    status: StepStatus = StepStatus.SUCCEEDED
    message: str = ""
    outputs: Mapping[str, Any] = field(default_factory=dict)
    # With status RUNNING (a step waiting on something outside, like a PR merge): seconds until the
    # engine runs it again; None means the engine's poll interval.
    retry_after: float | None = None
    waiting: WaitingOn | None = None  # with status RUNNING: what it waits for


class StepError(RetryableError):
    """A step could not do its job this time; the engine runs it again, up to its errorThreshold (Kargo:
    status Errored)."""


class TerminalStepError(FailedError):
    """A step error no retry can cure: bad config, a path outside the work dir, a refusal by policy. Not a
    StepError: the engine never runs the step again for it."""


class PathEscapeError(TerminalStepError):
    """A step path that leads outside the promotion's work dir."""


class StepFailed(TerminalStepError):
    """The step ran and decided the promotion must fail (the fail step, a refusal): Kargo's status Failed."""


class StepTimedOut(TerminalStepError):
    """The step ran past its retry.timeout."""


class StepConfigError(TerminalStepError):
    """The evaluated config does not fit the step's schema; holds every problem (Kargo: status Failed)."""

    def __init__(
        self, step: str, problems: Sequence[Problem], locs: Sequence[tuple[str | int, ...]] = ()
    ) -> None:
        self.step = step
        self.problems: tuple[Problem, ...] = tuple(problems)
        # The field path of each problem under `config` (same order), to find it in the manifest.
        self.locs: tuple[tuple[str | int, ...], ...] = tuple(locs) or tuple(() for _ in self.problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"invalid config for step {step!r} ({count}): " + "; ".join(map(str, self.problems)))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


@struct
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
    # time.monotonic() past which the step has run out of time (retry.timeout); None: no limit.
    deadline: float | None = None
    # Every earlier step's outputs by alias (Kargo's shared state), for steps that read another's result.
    outputs: Mapping[str, Any] = field(default_factory=dict)
    # The ledger, for steps that record on it (set-metadata, set-freight-alias); None when there is none.
    ledger: Ledger | None = None

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
        """Raise when the promotion is aborted (SIGTERM/SIGINT) or the step's time is up; long steps call this
        between units of work."""
        if self.abort.is_set():
            raise StepAborted(f"step {self.alias or '?'} aborted")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise StepTimedOut(f"step {self.alias or '?'} ran out of time (retry.timeout)")

    def sleep(self, seconds: float) -> None:
        """Wait, but wake at once on abort (then raise) and never past the deadline."""
        if self.deadline is not None:
            seconds = min(seconds, max(0.0, self.deadline - time.monotonic()))
        self.abort.wait(max(0.0, seconds))
        self.check_abort()


class StepAborted(KargoActionsError):
    """The promotion was aborted while the step ran: neither retried nor a failure of the step (Kargo: status
    Aborted)."""

    exit_code = ExitCode.FAILED


class Step(Protocol[ConfigT_contra]):
    """A promotion step: `name` as Kargo names it, its config model, and `run`.

    Two optional class attributes tell whether a promotion can stop at the step and resume in another
    process (where the work dir is gone): `may_wait = True` on a step that can report Running (waiting on
    something outside), `work_dir_free = True` on a step that never reads the work dir (with
    `work_dir_fields` naming config fields that, when set, make it read there after all). A waiting step with
    a timeout of its own when `retry.timeout` is not set defines `default_timeout(env) -> timedelta | None`;
    the engine then counts it across runs as it counts retry.timeout (argocd-wait: 5m).

    `effects_local = True` marks a step that changes nothing outside the work dir (it may read from outside:
    a clone, a download): such steps may run while the promotion's start is still being published, and every
    other step waits for it (`EngineOptions.before_external`).
    """

    name: ClassVar[str]
    config_model: ClassVar[type[StepConfig]]

    def run(self, ctx: StepContext, config: ConfigT_contra) -> StepResult: ...


def may_wait(step: object) -> bool:
    """Whether the step can report Running (and so suspend a promotion run with --no-wait)."""
    return bool(getattr(step, "may_wait", False))


def effects_local(step: object) -> bool:
    """Whether the step changes nothing outside the work dir (see Step)."""
    return bool(getattr(step, "effects_local", False))


def needs_work_dir(step: object, config: Mapping[str, Any] | None) -> bool:
    """Whether the step, with this (unevaluated) config, reads files an earlier step left in the work dir."""
    if not getattr(step, "work_dir_free", False):
        return True
    fields: tuple[str, ...] = getattr(step, "work_dir_fields", ())
    return any((config or {}).get(name) not in (None, "") for name in fields)


def validate_config(step: str, model: type[ConfigT], data: Mapping[str, Any]) -> ConfigT:
    """The evaluated config as the step's typed model, checked as Kargo checks it against the step's JSON Schema.

    JSON rules: strict types (no "5" for 5, no "true" for true), wire names only (inPath, not in_path).
    Raises StepConfigError with every problem, each with its field path under `config`.
    """
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise StepConfigError(step, [Problem(path="config", message=f"not JSON data: {err}")]) from err
    try:
        return model.model_validate_json(text, strict=True, by_alias=True, by_name=False)
    except ValidationError as err:
        found = field_problems(err, model)  # the loader's translator: manifests and configs read alike
        problems = [Problem(path=_config_path(p.loc), message=p.message, hint=p.hint) for p in found]
        raise StepConfigError(step, problems, [p.loc for p in found]) from None


def _config_path(loc: tuple[str | int, ...]) -> str:
    # The loader's path format (config.updates[0].key); imported here, on the error path, as it brings ruamel.
    from kargo_actions.manifest_yaml import format_path

    return format_path(("config", *loc))
