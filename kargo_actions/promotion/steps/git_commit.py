"""git-commit: stage every change of a work tree and commit it (author, signing) unless nothing changed."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StrictStr, field_validator

from kargo_actions.promotion.steps import gitutil
from kargo_actions.promotion.steps.base import StepConfig, StepContext, StepResult


class CommitAuthor(StepConfig):
    """Authorship for this one commit (deprecated in Kargo in favour of git-clone's author)."""

    name: Annotated[StrictStr, Field(min_length=1)]
    email: StrictStr
    signing_key: StrictStr = ""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError(f"{value!r} is not an email address")
        return value


class GitCommitConfig(StepConfig):
    """Kargo's GitCommitConfig."""

    path: Annotated[StrictStr, Field(min_length=1)]
    message: Annotated[StrictStr, Field(min_length=1)]
    author: CommitAuthor | None = None


class GitCommit:
    """Commit all changes; the author comes from the config, else git's config, else GITHUB_ACTOR."""

    name: ClassVar[str] = "git-commit"
    config_model: ClassVar[type[StepConfig]] = GitCommitConfig

    def run(self, ctx: StepContext, config: GitCommitConfig) -> StepResult:
        tree = gitutil.worktree(ctx, config.path)
        gitutil.git(ctx, tree, "add", "--all", what=f"staging changes in {config.path}")
        head = gitutil.head_commit(ctx, tree)
        if head:
            unchanged = gitutil.git(ctx, tree, "diff", "--cached", "--quiet", check=False).returncode == 0
            if unchanged:
                return StepResult(
                    message=f"nothing to commit in {config.path}; HEAD stays {head[:7]}",
                    outputs={"commit": head},
                )
        if config.author is not None:
            identity = gitutil.Identity(config.author.name, config.author.email, config.author.signing_key)
        else:
            identity = gitutil.configured_identity(ctx, tree) or gitutil.actor_identity(ctx)
        gitutil.git(
            ctx,
            tree,
            *gitutil.identity_args(identity),
            "commit",
            "--quiet",
            "--allow-empty",
            "--no-verify",
            "--file",
            "-",
            what=f"committing in {config.path}",
            extra_env=gitutil.identity_env(identity),
            stdin=config.message,
        )
        commit = gitutil.head_commit(ctx, tree)
        return StepResult(message=f"committed {commit[:7]} in {config.path}", outputs={"commit": commit})
