"""Where the download steps (http-download, oci-download) write their file."""

from __future__ import annotations

from pathlib import Path

from kargo_actions.promotion.step_api import StepContext, StepFailed, TerminalStepError


def download_target(ctx: StepContext, out_path: str, allow_overwrite: bool) -> Path:
    """Where a download step writes: inside the work dir, not a directory, replaced only when allowed."""
    target = ctx.path(out_path, field_name="outPath")
    if target.is_dir():
        raise TerminalStepError(f"outPath {out_path!r} is a directory")
    if target.exists() and not allow_overwrite:
        raise StepFailed(f"outPath {out_path!r} already exists; set allowOverwrite: true to replace it")
    return target
