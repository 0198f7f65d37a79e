"""git-push: push a work tree's commits (or a tag), rebasing onto the remote and retrying on a push race."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, model_validator

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support import gitutil

DEFAULT_MAX_ATTEMPTS = 10
# Kargo backs off 1 s x1.5 with jitter; a race on one branch between two jobs settles far sooner.
_BACKOFF_START = 0.2
_BACKOFF_CAP = 5.0
_NON_FAST_FORWARD = ("non-fast-forward", "fetch first", "[rejected]", "stale info", "cannot lock ref")
_HOOK_DECLINED = ("hook declined", "pre-receive hook", "update hook", "protected branch", "[remote rejected]")


class GitPushConfig(StepConfig):
    """Kargo's GitPushConfig."""

    path: NonEmpty
    """The work tree."""
    target_branch: StrictStr = ""
    """The remote branch to push to (default: the checked-out branch)."""
    generate_target_branch: StrictBool = False
    """Push to `kargo/promotion/<promotion name>` (force, as the name is unique)."""
    tag: StrictStr = ""
    """Push this tag (which must exist locally) instead of a branch."""
    force: StrictBool = False
    """Overwrite the remote branch; no rebase. Not with `tag`."""
    max_attempts: Annotated[StrictInt, Field(ge=1, le=2147483647)] | None = None
    """Pushes to try on a race (default 10)."""
    provider: Literal["azure", "bitbucket", "gitea", "github", "gitlab"] | None = None
    """The kind of Git host, for `commitURL` on hosts not recognised by name."""

    @model_validator(mode="after")
    def _one_target(self) -> GitPushConfig:
        if self.generate_target_branch and (self.target_branch or self.tag):
            raise ValueError("generateTargetBranch: true is mutually exclusive with targetBranch and tag")
        if self.target_branch and self.tag:
            raise ValueError("targetBranch and tag are mutually exclusive")
        if self.tag and self.force:
            raise ValueError("tag and force: true are mutually exclusive (a tag push never forces)")
        return self


class PushRejected(TerminalStepError):
    """The server refused the push (a hook, a protected branch, an existing tag): no retry helps."""


class MergeConflict(TerminalStepError):
    """Rebasing onto the remote branch hit a conflict that needs a person."""


class GitPush:
    """Push to targetBranch / a generated branch / the checked-out branch, or push a tag."""

    name: ClassVar[str] = "git-push"
    config_model: ClassVar[type[StepConfig]] = GitPushConfig
    outputs: ClassVar[dict[str, str]] = {
        "branch": "The remote branch pushed to (for a tag push: the checked-out branch, if any).",
        "commit": "The commit now at the remote branch (after any rebase).",
        "commitURL": "A browser link to the commit, for GitHub (github.com or `GITHUB_SERVER_URL`), GitLab, "
        "Bitbucket, Gitea and Azure; absent otherwise.",
    }

    def run(self, ctx: StepContext, config: GitPushConfig) -> StepResult:
        tree = gitutil.worktree(ctx, config.path)
        url = gitutil.remote_url(ctx, tree)
        branch = gitutil.current_branch(ctx, tree)
        if config.tag:
            self._push_tag(ctx, tree, url, config.tag)
            commit = gitutil.head_commit(ctx, tree)
            outputs: dict[str, str] = {"commit": commit}
            if branch:
                outputs["branch"] = branch
        else:
            target, force = gitutil.push_target(
                ctx, config.path, branch, config.target_branch, config.generate_target_branch, config.force
            )
            if not gitutil.head_commit(ctx, tree):
                raise TerminalStepError(f"path: {config.path!r} has no commit to push; commit first")
            attempts = config.max_attempts or DEFAULT_MAX_ATTEMPTS
            commit = self._push_branch(ctx, tree, url, target, force, attempts)
            outputs = {"branch": target, "commit": commit}
        link = gitutil.commit_url(ctx, url, outputs["commit"], config.provider or "")
        if link:
            outputs["commitURL"] = link
        what = f"tag {config.tag}" if config.tag else f"{outputs['commit'][:7]} to {outputs['branch']}"
        return StepResult(message=f"pushed {what}", outputs=outputs)

    def _push_tag(self, ctx: StepContext, tree: Path, url: str, tag: str) -> None:
        ref = f"refs/tags/{tag}"
        if gitutil.git(ctx, tree, "rev-parse", "--verify", "-q", ref, check=False).returncode != 0:
            raise TerminalStepError(f"tag: {tag!r} does not exist in the work tree; create it first")
        result = gitutil.git(ctx, tree, "push", "--porcelain", "origin", f"{ref}:{ref}", url=url, check=False)
        if result.returncode != 0:
            text = _push_failure(ctx, result)
            if "already exists" in text or any(s in text for s in _NON_FAST_FORWARD):
                raise PushRejected(f"tag: {tag!r} already exists in {url} with other content: {text}")
            self._raise_push_failure(text, url, f"tag {tag}")

    def _push_branch(
        self, ctx: StepContext, tree: Path, url: str, target: str, force: bool, attempts: int
    ) -> str:
        """Push HEAD to `target`; on a race fetch, rebase and try again, up to `attempts` pushes."""
        refspec = f"{'+' if force else ''}HEAD:refs/heads/{target}"
        delay = _BACKOFF_START
        last = ""
        for attempt in range(1, attempts + 1):
            ctx.check_abort()
            # The first attempt pushes straight away: had the remote moved, the push says so and the
            # rebase below happens then, which saves a fetch in the common, uncontended case.
            if attempt > 1:
                self._integrate(ctx, tree, url, target)
            result = gitutil.git(ctx, tree, "push", "--porcelain", "origin", refspec, url=url, check=False)
            if result.returncode == 0:
                return gitutil.head_commit(ctx, tree)
            last = _push_failure(ctx, result)
            combined = result.stdout + result.stderr
            if force or not any(s in combined for s in _NON_FAST_FORWARD) or _declined(combined):
                self._raise_push_failure(last, url, f"branch {target}")
            if attempt < attempts:
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
                delay = min(delay * 1.5, _BACKOFF_CAP)
        raise StepError(
            f"pushing to branch {target} of {url}: the remote branch kept moving; "
            f"gave up after {attempts} attempt(s) (maxAttempts): {last}"
        )

    def _integrate(self, ctx: StepContext, tree: Path, url: str, target: str) -> None:
        """Rebase the local commits onto the remote branch's newest commit."""
        fetched = gitutil.git(
            ctx, tree, "fetch", "-q", "origin", f"refs/heads/{target}", url=url, check=False
        )
        if fetched.returncode != 0:
            text = gitutil.failure_text(ctx, fetched)
            if "couldn't find remote ref" in text:
                return  # the branch is gone again; the next push creates it
            raise StepError(f"fetching branch {target} of {url} before a retry: {text}")
        identity = gitutil.configured_identity(ctx, tree) or gitutil.actor_identity(ctx)
        rebased = gitutil.git(
            ctx,
            tree,
            *gitutil.identity_args(gitutil.Identity(identity.name, identity.email)),
            "rebase",
            "-q",
            "FETCH_HEAD",
            check=False,
            extra_env={"GIT_COMMITTER_NAME": identity.name, "GIT_COMMITTER_EMAIL": identity.email},
        )
        if rebased.returncode != 0:
            text = gitutil.failure_text(ctx, rebased)
            gitutil.git(ctx, tree, "rebase", "--abort", check=False)
            raise MergeConflict(
                f"rebasing onto branch {target} of {url} hit a conflict that needs a person: {text}"
            )

    def _raise_push_failure(self, text: str, url: str, what: str) -> None:
        if _declined(text):
            raise PushRejected(f"the server refused the push of {what} to {url}: {text}")
        raise StepError(f"pushing {what} to {url} failed: {text}")


def _push_failure(ctx: StepContext, result: gitutil.Completed) -> str:
    """What the server said, with the rejected ref lines of --porcelain output (they go to stdout)."""
    rejected = [
        " ".join(part for part in line.split("\t")[1:] if part)
        for line in result.stdout.splitlines()
        if line.startswith("!")
    ]
    stderr = "\n".join([*result.stderr.splitlines(), *rejected])
    return gitutil.failure_text(ctx, subprocess.CompletedProcess(result.args, result.returncode, "", stderr))


def _declined(text: str) -> bool:
    return any(s in text for s in _HOOK_DECLINED)
