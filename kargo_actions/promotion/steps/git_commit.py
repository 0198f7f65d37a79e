"""git-commit: stage every change of a work tree and commit it (author, signing) unless nothing changed."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepError, StepResult
from kargo_actions.promotion.steps.support import gitutil

# What git says when it has no user.name/user.email and user.useConfigOnly forbids guessing.
_NO_IDENTITY = "no email was given and auto-detection is disabled"


class CommitAuthor(gitutil.GitAuthor):
    """Authorship for this one commit (deprecated in Kargo in favour of git-clone's author)."""


class GitCommitConfig(StepConfig):
    """Kargo's GitCommitConfig."""

    path: NonEmpty
    """The work tree."""
    message: NonEmpty
    """The commit message (multi-line allowed)."""
    author: CommitAuthor | None = None
    """`name`, `email` (required) and `signingKey`: this commit only (deprecated in Kargo)."""


class GitCommit:
    """Commit all changes; the author comes from the config, else git's config, else GITHUB_ACTOR."""

    name: ClassVar[str] = "git-commit"
    config_model: ClassVar[type[StepConfig]] = GitCommitConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {
        "commit": "The new commit's id, or HEAD's when there was nothing to commit.",
    }

    def run(self, ctx: StepContext, config: GitCommitConfig) -> StepResult:
        tree = gitutil.worktree(ctx, config.path)
        gitutil.git(ctx, tree, "add", "--all", what=f"staging changes in {config.path}")
        if config.author is not None:
            step_identity = gitutil.Identity(
                config.author.name, config.author.email, config.author.signing_key
            )
            result = self._commit(ctx, config, tree, step_identity)
        else:
            # git's own identity (the clone's author, the user's config) first; asking git for it would cost
            # a process on every commit, so the fallback identity is used only when git says it has none.
            result = self._commit(ctx, config, tree, None)
            if result.returncode != 0 and _NO_IDENTITY in result.stderr:
                result = self._commit(ctx, config, tree, gitutil.actor_identity(ctx))
        head = gitutil.head_commit(ctx, tree)
        if result.returncode != 0:
            if "nothing to commit" in result.stdout + result.stderr:
                return StepResult(
                    message=f"nothing to commit in {config.path}; HEAD stays {head[:7] or '(no commit)'}",
                    outputs={"commit": head},
                )
            raise StepError(f"committing in {config.path}: {gitutil.failure_text(ctx, result)}")
        return StepResult(message=f"committed {head[:7]} in {config.path}", outputs={"commit": head})

    def _commit(
        self, ctx: StepContext, config: GitCommitConfig, tree: Path, identity: gitutil.Identity | None
    ) -> gitutil.Completed:
        args = gitutil.identity_args(identity) if identity else ["-c", "user.useConfigOnly=true"]
        return gitutil.git(
            ctx,
            tree,
            *args,
            "commit",
            "--no-verify",
            "--no-status",
            "--file",
            "-",
            check=False,
            extra_env=gitutil.identity_env(identity) if identity else None,
            stdin=config.message,
        )
