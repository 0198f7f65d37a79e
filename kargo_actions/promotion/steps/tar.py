"""tar: archive a file or directory of the work dir into a tar (optionally gzipped) file."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import tempfile
from pathlib import Path
from typing import ClassVar

import pathspec
from pydantic import StrictBool

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support import archive


class TarConfig(StepConfig):
    """Kargo's TarConfig."""

    in_path: NonEmpty
    """The directory (its contents) or file to archive."""
    out_path: NonEmpty
    """The archive file to write; replaced when it exists."""
    ignore: NonEmpty | None = None
    """Lines of `.gitignore` patterns not to archive; without it, `.git` is left out."""
    gzip: StrictBool | None = None
    """Compress the archive with gzip (default: no)."""


class Tar:
    """Walk inPath in name order and write every file, directory and symlink; the archive appears atomically."""

    name: ClassVar[str] = "tar"
    config_model: ClassVar[type[StepConfig]] = TarConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def __init__(self, limits: archive.Limits = archive.DEFAULT_LIMITS) -> None:
        self.limits = limits

    def run(self, ctx: StepContext, config: TarConfig) -> StepResult:
        source = ctx.path(config.in_path, field_name="inPath")
        target = ctx.path(config.out_path, field_name="outPath")
        if not source.exists():
            raise TerminalStepError(f"inPath: {config.in_path!r} does not exist")
        if target.is_dir():
            raise TerminalStepError(f"outPath: {config.out_path!r} is a directory; name the archive file")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as err:
            raise StepError(f"outPath: cannot create {config.out_path!r}: {err.strerror or err}") from err
        writer = _Writer(ctx, self.limits, archive.ignore_spec(config.ignore), {target, Path(temporary)})
        try:
            with os.fdopen(handle, "wb") as raw:
                stream: gzip.GzipFile | io.BufferedWriter = (
                    gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if config.gzip else raw
                )
                with tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    if source.is_dir():
                        writer.directory(tar, source, "")
                    else:
                        writer.add(tar, source, source.name)
                if stream is not raw:
                    stream.close()
            os.replace(temporary, target)
        except OSError as err:
            raise StepError(f"tar: cannot write {config.out_path!r}: {err.strerror or err}") from err
        finally:
            Path(temporary).unlink(missing_ok=True)
        return StepResult(
            message=f"archived {writer.entries} entr{'y' if writer.entries == 1 else 'ies'} "
            f"({archive.size_text(writer.total)}) from {config.in_path} into {config.out_path}"
        )


class _Writer:
    """One archive being written: counts bytes against the limits, skips ignored paths and the archive itself."""

    def __init__(
        self, ctx: StepContext, limits: archive.Limits, spec: pathspec.GitIgnoreSpec, skip: set[Path]
    ) -> None:
        self.ctx = ctx
        self.limits = limits
        self.spec = spec
        self.skip = skip
        self.entries = 0
        self.total = 0

    def directory(self, tar: tarfile.TarFile, folder: Path, relative: str) -> None:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
        for entry in entries:
            self.ctx.check_abort()
            path = Path(entry.path)
            if path in self.skip:
                continue
            child = f"{relative}/{entry.name}" if relative else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if archive.ignored(self.spec, child, is_dir):
                continue
            self.add(tar, path, child)
            if is_dir:
                self.directory(tar, path, child)

    def add(self, tar: tarfile.TarFile, path: Path, name: str) -> None:
        info = tar.gettarinfo(str(path), arcname=name)
        if not (info.isreg() or info.isdir() or info.issym()):
            raise TerminalStepError(
                f"inPath: {name!r} is not a file, directory or symlink; it cannot be archived"
            )
        info.uname = info.gname = ""
        info.uid = info.gid = 0
        if info.isreg():
            if info.size > self.limits.max_file_bytes:
                raise TerminalStepError(
                    f"inPath: {name!r} is {archive.size_text(info.size)}, over the "
                    f"{archive.size_text(self.limits.max_file_bytes)} a file may have"
                )
            self.total += info.size
            if self.total > self.limits.max_total_bytes:
                raise TerminalStepError(
                    f"inPath: the files come to more than {archive.size_text(self.limits.max_total_bytes)}, "
                    "the most an archive may hold"
                )
            with path.open("rb") as content:
                tar.addfile(info, content)
        else:
            tar.addfile(info)
        self.entries += 1
