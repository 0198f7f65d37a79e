"""copy: copies a file, or a directory's contents recursively, inside the work dir (.gitignore-style ignores)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import ClassVar

import pathspec

from kargo_actions.promotion.step_api import (
    NonEmpty,
    PathEscapeError,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
)


class CopyConfig(StepConfig):
    """Kargo's CopyConfig."""

    in_path: NonEmpty
    """The file or directory to copy, relative to the work dir."""
    out_path: NonEmpty
    """The destination, relative to the work dir; missing parent folders are created."""
    ignore: NonEmpty | None = None
    """Lines of `.gitignore` patterns (comments, `!` negation, `dir/`) not to copy, matched relative to `inPath` (to its folder for a file)."""


class Copy:
    """Copy inPath to outPath: directories merge into an existing destination, files overwrite.

    As Kargo: symlinks in the source are skipped, `.git` is ignored unless an `ignore` line re-includes it
    (`!.git/`), and `ignore` patterns are matched relative to inPath (its folder, for a file).
    """

    name: ClassVar[str] = "copy"
    config_model: ClassVar[type[StepConfig]] = CopyConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: CopyConfig) -> StepResult:
        source = ctx.path(config.in_path, field_name="inPath")
        target = ctx.path(config.out_path, field_name="outPath")
        if not source.exists():
            raise StepError(f"inPath {config.in_path!r} does not exist in the work dir")
        copier = _Copier(ctx, ctx.work_dir.resolve(), _ignore_spec(config.ignore))
        if source.is_dir():
            if target == source or target.is_relative_to(source):
                raise StepError(f"outPath {config.out_path!r} lies inside inPath {config.in_path!r}")
            copier.directory(source, target, "")
        else:
            copier.file(source, target)
        return StepResult(message=f"copied {copier.files} file(s) from {config.in_path} to {config.out_path}")


def _ignore_spec(ignore: str | None) -> pathspec.GitIgnoreSpec:
    lines = [".git"]  # Kargo ignores .git first, so a user's `!.git/` can bring it back
    lines += [ln for ln in (ignore or "").splitlines() if ln.strip() and not ln.startswith("#")]
    return pathspec.GitIgnoreSpec.from_lines(lines)


class _Copier:
    """One copy operation: counts files, checks every destination stays inside the work dir."""

    def __init__(self, ctx: StepContext, root: Path, spec: pathspec.GitIgnoreSpec) -> None:
        self.ctx = ctx
        self.root = root
        self.spec = spec
        self.files = 0

    def _ignored(self, relative: str, is_dir: bool) -> bool:
        return self.spec.match_file(relative + "/" if is_dir else relative)

    def _confined(self, destination: Path) -> None:
        # An existing destination may be a symlink: writing through it must not leave the work dir.
        real = Path(os.path.realpath(destination))
        if real != self.root and not real.is_relative_to(self.root):
            shown = (
                destination.relative_to(self.root) if destination.is_relative_to(self.root) else destination
            )
            raise PathEscapeError(f"outPath: {str(shown)!r} is a symlink that leads outside the work dir")

    def directory(self, source: Path, target: Path, relative: str) -> None:
        self._confined(target)
        if target.exists() and not target.is_dir():
            raise StepError(
                f"cannot copy directory {relative or '.'!r}: {target.name!r} exists and is a file"
            )
        target.mkdir(parents=True, exist_ok=True)
        with os.scandir(source) as entries:
            ordered = sorted(entries, key=lambda e: e.name)
        for entry in ordered:
            self.ctx.check_abort()
            if entry.is_symlink():
                continue
            child = f"{relative}/{entry.name}" if relative else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if self._ignored(child, is_dir):
                continue
            if is_dir:
                self.directory(Path(entry.path), target / entry.name, child)
            elif entry.is_file(follow_symlinks=False):
                self.file(Path(entry.path), target / entry.name)
        shutil.copymode(source, target)

    def file(self, source: Path, target: Path) -> None:
        self._confined(target)
        if target.is_dir() and not target.is_symlink():
            raise StepError(f"cannot copy file {source.name!r}: {target.name!r} exists and is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()  # replace the link itself, as a fresh copy would
        try:
            shutil.copyfile(source, target)
            shutil.copymode(source, target)
        except OSError as err:
            raise StepError(f"cannot copy {source.name!r}: {err.strerror or err}") from err
        self.files += 1
