"""git-clear: remove every file of a work tree except its `.git`, so a later step writes it afresh."""

from __future__ import annotations

import shutil
from typing import ClassVar

from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepResult
from kargo_actions.promotion.steps.support import gitutil


class GitClearConfig(StepConfig):
    """Kargo's GitClearConfig."""

    path: NonEmpty
    """A work tree made by `git-clone`, relative to the work dir."""


class GitClear:
    """Empty a work tree (the deletions are committed by a later git-commit)."""

    name: ClassVar[str] = "git-clear"
    config_model: ClassVar[type[StepConfig]] = GitClearConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: GitClearConfig) -> StepResult:
        tree = gitutil.worktree(ctx, config.path)
        removed = 0
        for child in tree.iterdir():
            if child.name == ".git":
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
            removed += 1
        return StepResult(message=f"cleared {config.path} ({removed} top-level entries removed)")
