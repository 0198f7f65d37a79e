"""delete: removes files or directories (literal paths or glob patterns) inside the work dir."""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from kargo_actions.promotion.step_api import (
    NonEmpty,
    PathEscapeError,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
)


class DeleteConfig(StepConfig):
    """Kargo's DeleteConfig: exactly one of path and paths."""

    path: NonEmpty | None = None
    """A file or directory to delete."""
    paths: list[NonEmpty] | None = Field(default=None, min_length=1)
    """Several of them (at least one)."""
    paths_are_globs: bool = False
    """Read `path`/`paths` as glob patterns (`*`, `?`, `[ab]`, `**` for any depth; hidden files match). Default false."""
    strict: bool = False
    """Fail (Errored) when a path does not exist or a pattern matches nothing. Default false."""

    @model_validator(mode="after")
    def _one_of(self) -> DeleteConfig:
        if (self.path is None) == (self.paths is None):
            raise ValueError("give exactly one of path and paths")
        return self

    @property
    def all_paths(self) -> list[str]:
        return [self.path] if self.path is not None else list(self.paths or [])


class Delete:
    """Delete each path (a symlink itself, never its target); strict makes a missing path an error."""

    name: ClassVar[str] = "delete"
    config_model: ClassVar[type[StepConfig]] = DeleteConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: DeleteConfig) -> StepResult:
        root = ctx.work_dir.resolve()
        doomed: dict[Path, None] = {}  # ordered and without duplicates
        for entry in config.all_paths:
            ctx.check_abort()
            if config.paths_are_globs:
                found = _glob(ctx, root, entry)
                if not found and config.strict:
                    raise StepError(f"no path matches the pattern {entry!r}")
            else:
                target = _locate(ctx, root, entry, entry)
                found = [target] if target is not None else []
                if not found and config.strict:
                    raise StepError(f"path {entry!r} does not exist")
            doomed.update(dict.fromkeys(found))
        for target in doomed:
            ctx.check_abort()
            try:
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
            except FileNotFoundError:
                continue  # a folder deleted earlier in this step held it
            except OSError as err:
                shown = target.relative_to(root)
                raise StepError(f"cannot delete {str(shown)!r}: {err.strerror or err}") from err
        return StepResult(message=f"deleted {len(doomed)} path(s)")


def _locate(ctx: StepContext, root: Path, relative: str, given: str) -> Path | None:
    """The path to delete: its folder resolved and confined, its last part kept (a link is removed, not
    followed); None when it does not exist."""
    candidate = Path(relative)
    if candidate.is_absolute():
        raise PathEscapeError(f"path: {given!r} is absolute; step paths are relative to the work dir")
    lexical = Path(os.path.normpath(root / candidate))
    if lexical == root:
        raise PathEscapeError(f"path: {given!r} is the work dir itself, which a step may not delete")
    if not lexical.is_relative_to(root):
        raise PathEscapeError(f"path: {given!r} leads outside the work dir")
    parent = ctx.path(str(lexical.parent.relative_to(root)) or ".", field_name="path")
    target = parent / lexical.name
    return target if os.path.lexists(target) else None


def _glob(ctx: StepContext, root: Path, pattern: str) -> list[Path]:
    if Path(pattern).is_absolute():
        raise PathEscapeError(f"path: {pattern!r} is absolute; step paths are relative to the work dir")
    relative = pattern.removeprefix("./")
    matches = sorted(glob.glob(relative, root_dir=root, recursive=True, include_hidden=True))
    found: list[Path] = []
    for match in matches:
        target = _locate(ctx, root, match.rstrip("/"), pattern)
        if target is not None:
            found.append(target)
    return found
