"""file-write: write text to a file in the work dir (never into .git, never through a symlink)."""

from __future__ import annotations

import os
import posixpath
import re
from typing import ClassVar

from pydantic import StrictBool, StrictStr, field_validator

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepFailed,
    StepResult,
)

DEFAULT_PERMISSIONS = 0o600
_OCTAL = re.compile(r"0[0-7]{3}")  # Kargo's schema pattern ^0[0-7]{3}$


class FileWriteConfig(StepConfig):
    """Kargo's FileWriteConfig."""

    path: NonEmpty
    """The file to write, relative to the work dir; never inside `.git`, never through a symlink."""
    contents: StrictStr
    """The text to write (may be empty)."""
    permissions: StrictStr | None = None
    """Octal mode such as `"0644"`; default `"0600"`. Executable and world-writable modes are refused."""
    overwrite: StrictBool = False
    """Replace the file when it exists (otherwise the step fails)."""

    @field_validator("permissions")
    @classmethod
    def _octal(cls, value: str | None) -> str | None:
        if value is not None and not _OCTAL.fullmatch(value):
            raise ValueError(
                f'{value!r} is not an octal file mode: write 0 and three octal digits, like "0644"'
            )
        return value


def file_mode(permissions: str | None) -> int:
    """The mode to write with; executable and world-writable modes are refused, as Kargo refuses them."""
    if permissions is None:
        return DEFAULT_PERMISSIONS
    mode = int(permissions, 8)
    if mode & 0o111:
        raise StepFailed(f"permissions: {permissions!r} must not include executable bits")
    if mode & 0o002:
        raise StepFailed(f"permissions: {permissions!r} must not be world-writable")
    return mode


class FileWrite:
    """Write `contents` to `path` with `permissions` (default 0600); an existing file needs overwrite: true."""

    name: ClassVar[str] = "file-write"
    config_model: ClassVar[type[StepConfig]] = FileWriteConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: FileWriteConfig) -> StepResult:
        mode = file_mode(config.permissions)
        clean = posixpath.normpath(config.path)
        if ".git" in clean.split("/"):
            raise StepFailed(f"path: {config.path!r} is inside a .git directory; writing there is forbidden")
        target = ctx.path(config.path)
        root = ctx.work_dir.resolve()
        if target.relative_to(root).as_posix() != clean:
            raise StepFailed(
                f"path: {config.path!r} resolves to {target.relative_to(root).as_posix()!r} through a symlink; "
                "file-write does not write through symlinks"
            )
        if target.exists():
            if not config.overwrite:
                raise StepFailed(f"path: {config.path!r} already exists; set overwrite: true to replace it")
            if target.is_dir():
                raise StepFailed(f"path: {config.path!r} is a directory")
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                handle.write(config.contents)
            os.chmod(target, mode)  # the umask may have taken bits away
        except OSError as err:
            raise StepError(f"path: cannot write {config.path!r}: {err.strerror or err}") from err
        size = len(config.contents.encode("utf-8"))
        return StepResult(message=f"wrote {size} byte(s) to {config.path} (mode {mode:04o})")
