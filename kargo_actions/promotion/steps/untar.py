"""untar: extract a tar (or gzipped tar) file into a directory, refusing anything that could leave it."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Annotated, ClassVar

import pathspec
from pydantic import Field, StrictInt

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support import archive

_GZIP_MAGIC = b"\x1f\x8b"
_DIR_MODE = 0o750


class UntarConfig(StepConfig):
    """Kargo's UntarConfig."""

    in_path: NonEmpty
    """The tar file (gzipped or not: the content decides)."""
    out_path: NonEmpty
    """The directory to extract into; what it held before is replaced."""
    strip_components: Annotated[StrictInt, Field(ge=0)] | None = None
    """Leading path parts to drop from each member, as tar --strip-components."""
    ignore: NonEmpty | None = None
    """Lines of `.gitignore` patterns not to extract; without it, `.git` is left out."""


class UnsafeArchive(TerminalStepError):
    """The archive holds a member that would land outside outPath, a device, or more than the limits allow."""


class _Counted:
    """A read-only stream that refuses to give more than `limit` bytes (a decompression bomb stops here)."""

    def __init__(self, raw: gzip.GzipFile | io.BufferedReader, limit: int, shown: str) -> None:
        self.raw = raw
        self.limit = limit
        self.shown = shown
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        if self.count > self.limit:
            raise UnsafeArchive(
                f"inPath: {self.shown!r} expands to more than {archive.size_text(self.limit)}; refusing a likely "
                "archive bomb"
            )
        return data


class Untar:
    """Extract into a fresh folder next to outPath, then put it in outPath's place (old contents go)."""

    name: ClassVar[str] = "untar"
    config_model: ClassVar[type[StepConfig]] = UntarConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def __init__(self, limits: archive.Limits = archive.DEFAULT_LIMITS) -> None:
        self.limits = limits

    def run(self, ctx: StepContext, config: UntarConfig) -> StepResult:
        source = ctx.path(config.in_path, field_name="inPath")
        target = ctx.path(config.out_path, field_name="outPath")
        if target == ctx.work_dir.resolve():
            raise TerminalStepError(
                "outPath: is the work dir itself; untar replaces outPath, so name a folder in it"
            )
        if not source.is_file():
            what = "is not a file" if source.exists() else "does not exist"
            raise TerminalStepError(f"inPath: {config.in_path!r} {what}")
        if target.exists() and not target.is_dir():
            raise TerminalStepError(f"outPath: {config.out_path!r} exists and is not a directory")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=".untar-", dir=target.parent))
        except OSError as err:
            raise StepError(f"outPath: cannot create {config.out_path!r}: {err.strerror or err}") from err
        try:
            extractor = _Extractor(ctx, self.limits, config, scratch)
            extractor.extract(source)
            if target.exists():
                shutil.rmtree(target)
            scratch.rename(target)
        except OSError as err:
            raise StepError(f"untar: cannot extract into {config.out_path!r}: {err.strerror or err}") from err
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        return StepResult(
            message=f"extracted {extractor.files} file(s) ({archive.size_text(extractor.total)}) "
            f"from {config.in_path} into {config.out_path}"
        )


class _Extractor:
    """One extraction into `root` (a fresh directory): every member is checked before anything is written."""

    def __init__(self, ctx: StepContext, limits: archive.Limits, config: UntarConfig, root: Path) -> None:
        self.ctx = ctx
        self.limits = limits
        self.config = config
        self.root = root
        self.spec: pathspec.GitIgnoreSpec = archive.ignore_spec(config.ignore)
        self.strip = config.strip_components or 0
        self.files = 0
        self.total = 0
        self.entries = 0
        self.written: dict[str, Path] = {}  # member name as in the archive -> the regular file extracted

    def extract(self, source: Path) -> None:
        shown = self.config.in_path
        with source.open("rb") as raw:
            gzipped = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream: gzip.GzipFile | io.BufferedReader = (
                gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
            )
            counted = _Counted(stream, self.limits.max_stream_bytes, shown)
            try:
                with tarfile.open(fileobj=counted, mode="r|") as tar:  # type: ignore[call-overload]
                    for member in tar:
                        self.ctx.check_abort()
                        self._member(tar, member)
            except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
                raise TerminalStepError(f"inPath: {shown!r} is not a readable tar archive: {err}") from None

    def _name(self, member: tarfile.TarInfo) -> str | None:
        """The member's path under outPath, or None when stripping leaves nothing; unsafe names are refused."""
        name = member.name
        if name.startswith("/"):
            raise UnsafeArchive(f"inPath: member {name!r} has an absolute path; refusing to extract it")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise UnsafeArchive(f"inPath: member {name!r} climbs out with '..'; refusing to extract it")
        raw_parts = [p for p in name.split("/") if p != ""]
        if self.strip:
            if len(raw_parts) <= self.strip:
                return None
            parts = [p for p in raw_parts[self.strip :] if p != "."]
        return "/".join(parts) or None

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise UnsafeArchive(
                f"inPath: more than {self.limits.max_entries} entries; refusing a likely archive bomb"
            )
        if member.ischr() or member.isblk() or member.isfifo():
            kind = "a FIFO" if member.isfifo() else "a device file"
            raise UnsafeArchive(f"inPath: member {member.name!r} is {kind}; refusing to extract it")
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            return  # PAX/GNU extension records of other kinds carry no file
        name = self._name(member)
        if name is None or archive.ignored(self.spec, name, member.isdir()):
            return
        target = self.root / name
        self._parent_is_real(name)
        if member.isdir():
            target.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        elif member.issym():
            self._symlink(member, name, target)
        elif member.islnk():
            self._hardlink(member, name, target)
        else:
            self._file(tar, member, name, target)

    def _parent_is_real(self, name: str) -> None:
        """Refuse to write through a symlink the archive made earlier (that is how links smuggle files out)."""
        current = self.root
        for part in name.split("/")[:-1]:
            current = current / part
            if current.is_symlink():
                raise UnsafeArchive(
                    f"inPath: member {name!r} would be written through the symlink "
                    f"{current.relative_to(self.root).as_posix()!r}; refusing to extract it"
                )
            if not current.exists():
                current.mkdir(mode=_DIR_MODE)
        final = self.root / name
        if final.is_symlink() or (final.exists() and not final.is_dir()):
            final.unlink()  # a later member of the same name replaces the earlier one, as tar does

    def _symlink(self, member: tarfile.TarInfo, name: str, target: Path) -> None:
        link = member.linkname
        parts = link.split("/")
        climbs = 0
        for part in parts:
            if part != "..":
                break
            climbs += 1
        depth = name.count("/")
        if link.startswith("/") or not link or ".." in parts[climbs:] or climbs > depth:
            raise UnsafeArchive(
                f"inPath: symlink {member.name!r} points to {link!r}, outside outPath; refusing to extract it"
            )
        if target.is_dir() and not target.is_symlink():
            raise UnsafeArchive(f"inPath: symlink {member.name!r} would replace a directory of the archive")
        os.symlink(link, target)

    def _hardlink(self, member: tarfile.TarInfo, name: str, target: Path) -> None:
        linked = member.linkname
        source = self.written.get(linked) or self.written.get(linked.removeprefix("./"))
        if source is None:
            raise UnsafeArchive(
                f"inPath: hard link {member.name!r} points to {linked!r}, which is not a file extracted from "
                "this archive; refusing to extract it"
            )
        self._count(member.name, source.stat().st_size)
        shutil.copyfile(source, target)  # a copy: a real hard link would tie outPath to the linked inode
        shutil.copymode(source, target)
        self.written[member.name] = target
        self.files += 1

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, target: Path) -> None:
        self._count(member.name, member.size)
        content = tar.extractfile(member)
        assert content is not None
        mode = (member.mode & 0o777) or 0o600
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(descriptor, "wb") as out:
            shutil.copyfileobj(content, out, length=1024 * 1024)
        os.chmod(target, mode)  # the umask may have taken bits away
        if member.mtime:
            os.utime(target, (member.mtime, member.mtime))
        self.written[member.name] = target
        self.files += 1

    def _count(self, name: str, size: int) -> None:
        if size > self.limits.max_file_bytes:
            raise UnsafeArchive(
                f"inPath: member {name!r} is {archive.size_text(size)}, over the "
                f"{archive.size_text(self.limits.max_file_bytes)} a file may have"
            )
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise UnsafeArchive(
                f"inPath: the files come to more than {archive.size_text(self.limits.max_total_bytes)}, "
                "the most untar extracts"
            )
