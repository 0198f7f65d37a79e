"""git-tag: create an annotated tag at HEAD of a work tree (push it with git-push's tag option)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import ConfigDict, StrictBool

from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepResult, TerminalStepError
from kargo_actions.promotion.steps.support import gitutil


class GitTagConfig(StepConfig):
    """Kargo's GitTagConfig (its schema sets no additionalProperties: false, so other keys are let through)."""

    model_config = ConfigDict(extra="ignore")

    path: NonEmpty
    """A work tree made by git-clone."""
    tag: NonEmpty
    """The tag to create at HEAD (a valid git ref name)."""
    message: NonEmpty
    """The annotated tag's message."""
    force: StrictBool = False
    """Move an existing tag of the same name (unusual: tags are meant not to move)."""


class GitTag:
    """`git tag --annotate` at HEAD as the work tree's committer; output commit (the tagged commit)."""

    name: ClassVar[str] = "git-tag"
    config_model: ClassVar[type[StepConfig]] = GitTagConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {"commit": "the commit the tag points at (HEAD)"}

    def run(self, ctx: StepContext, config: GitTagConfig) -> StepResult:
        tree = gitutil.worktree(ctx, config.path)
        ref = f"refs/tags/{config.tag}"
        if gitutil.git(ctx, tree, "check-ref-format", ref, check=False).returncode != 0:
            raise TerminalStepError(f"tag: {config.tag!r} is not a valid tag name (see git check-ref-format)")
        commit = gitutil.head_commit(ctx, tree)
        if not commit:
            raise TerminalStepError(f"path: {config.path!r} has no commit to tag; commit first")
        existing = gitutil.git(ctx, tree, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        if existing.returncode == 0 and not config.force:
            raise TerminalStepError(
                f"tag: {config.tag!r} already exists in {config.path} (at {existing.stdout.strip()[:12]}); "
                "set force: true to move it"
            )
        result = self._tag(ctx, tree, config, None)
        if result.returncode != 0 and _NO_IDENTITY in result.stderr:
            result = self._tag(ctx, tree, config, gitutil.actor_identity(ctx))
        if result.returncode != 0:
            raise TerminalStepError(f"tagging {config.path}: {gitutil.failure_text(ctx, result)}")
        return StepResult(message=f"tagged {commit[:7]} as {config.tag}", outputs={"commit": commit})

    def _tag(
        self, ctx: StepContext, tree: Path, config: GitTagConfig, identity: gitutil.Identity | None
    ) -> gitutil.Completed:
        # The tagger is git's own identity (git-clone's author, the user's config) when it has one, as for
        # git-commit; a signing key configured by git-clone (tag.gpgsign) signs the tag too.
        args = gitutil.identity_args(identity) if identity else ["-c", "user.useConfigOnly=true"]
        return gitutil.git(
            ctx,
            tree,
            *args,
            "tag",
            "--annotate",
            *(["--force"] if config.force else []),
            "--file",
            "-",
            config.tag,
            "HEAD",
            check=False,
            extra_env=gitutil.identity_env(identity) if identity else None,
            stdin=config.message,
        )


# What git says when it has no user.name/user.email and user.useConfigOnly forbids guessing.
_NO_IDENTITY = "no email was given and auto-detection is disabled"
