"""github-push: push a work tree's commits through GitHub's git database API, so GitHub makes (and signs)
them: they show as Verified without a signing key tied to a person. A drop-in for git-push."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, StrictBool, StrictInt, StrictStr, model_validator

from kargo_actions.github.client import GitHubClient
from kargo_actions.github.errors import RefMovedError
from kargo_actions.github.models import FileChange
from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.git_push import GitPush
from kargo_actions.promotion.steps.support import gitutil
from kargo_actions.promotion.steps.support.github_common import client_for, github_errors

DEFAULT_MAX_ATTEMPTS = 10
# Replaying costs a few API calls per commit; a long history is a mistake (a missing base), not a promotion.
MAX_REPLAYED_COMMITS = 50
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class GitHubPushConfig(StepConfig):
    """Kargo's GitHubPushConfig."""

    path: NonEmpty
    """The work tree (a clone of the GitHub repository)."""
    generate_target_branch: StrictBool = False
    """Push to `kargo/promotion/<promotion name>` (replacing it on a re-run)."""
    target_branch: StrictStr = ""
    """The branch to push to (default: the checked-out branch)."""
    force: StrictBool = False
    """Replace the branch's history with the work tree's (no rebase)."""
    max_attempts: Annotated[StrictInt, Field(ge=1, le=2147483647)] | None = None
    """Attempts when the branch moves meanwhile (default 10)."""
    insecure_skip_tls_verify: StrictBool = Field(default=False, alias="insecureSkipTLSVerify")
    """Accepted for Kargo's sake; the API is reached with TLS verified."""

    @model_validator(mode="after")
    def _one_target(self) -> GitHubPushConfig:
        if self.generate_target_branch and self.target_branch:
            raise ValueError("generateTargetBranch: true is mutually exclusive with targetBranch")
        return self


class GitHubPush:
    """Replay the local commits the remote branch lacks as API commits, then point the local branch at them."""

    name: ClassVar[str] = "github-push"
    config_model: ClassVar[type[StepConfig]] = GitHubPushConfig
    outputs: ClassVar[dict[str, str]] = {
        "branch": "The branch pushed to.",
        "commit": "The commit now at the branch (made by GitHub).",
        "commitURL": "A browser link to the commit.",
        "verified": "Whether GitHub marked the commit verified (it does for API commits without an author).",
    }

    def run(self, ctx: StepContext, config: GitHubPushConfig) -> StepResult:
        tree = gitutil.worktree(ctx, config.path)
        url = gitutil.remote_url(ctx, tree)
        client = client_for(ctx, url, field_name=f"path ({config.path!r}'s origin)")
        branch = gitutil.current_branch(ctx, tree)
        target, force = gitutil.push_target(
            ctx, config.path, branch, config.target_branch, config.generate_target_branch, config.force
        )
        local = gitutil.head_commit(ctx, tree)
        if not local:
            raise TerminalStepError(f"path: {config.path!r} has no commit to push; commit first")
        attempts = config.max_attempts or DEFAULT_MAX_ATTEMPTS
        last = ""
        for attempt in range(1, attempts + 1):
            ctx.check_abort()
            with github_errors(f"pushing to branch {target} of {client.repository} through the API"):
                try:
                    pushed, verified, replayed = self._push(ctx, client, tree, url, branch, target, force)
                    break
                except RefMovedError as err:
                    last = str(err)
                    if attempt == attempts:
                        raise StepError(
                            f"pushing to branch {target} of {client.repository}: the branch kept moving; gave "
                            f"up after {attempts} attempt(s) (maxAttempts): {last}"
                        ) from None
        outputs: dict[str, object] = {"branch": target, "commit": pushed, "verified": verified}
        link = gitutil.commit_url(ctx, url, pushed, "github")
        if link:
            outputs["commitURL"] = link
        what = f"{replayed} commit(s)" if replayed else "nothing new"
        return StepResult(
            message=f"pushed {what} to {target} as {pushed[:7]} through the API", outputs=outputs
        )

    def _push(
        self,
        ctx: StepContext,
        client: GitHubClient,
        tree: Path,
        url: str,
        branch: str,
        target: str,
        force: bool,
    ) -> tuple[str, bool, int]:
        """(the branch's new head, whether GitHub verified it, commits replayed); RefMovedError on a race."""
        remote = client.branch_head(target)
        if remote is not None:
            _fetch(ctx, tree, url, target)
        if remote is not None and not force:
            if not _is_ancestor(ctx, tree, remote, "HEAD"):
                GitPush()._integrate(ctx, tree, url, target)  # rebase onto the remote's new commits
            base = remote
        else:
            base = _fork_point(ctx, client, tree, url, branch, remote)
        commits = _first_parent_commits(ctx, tree, base, "HEAD")
        if not commits and remote == base:
            return base, False, 0
        if len(commits) > MAX_REPLAYED_COMMITS:
            raise TerminalStepError(
                f"{len(commits)} commits to replay onto {target} (at most {MAX_REPLAYED_COMMITS}): the work tree's "
                "history does not share a recent commit with the remote; clone the branch you push to"
            )
        # the commits are made first and referenced by nothing; the branch moves once at the end, so a failure
        # midway leaves it as it was (the unreferenced commits are garbage-collected by GitHub)
        head, tree_sha, verified = base, "", False
        for sha in commits:
            ctx.check_abort()
            made = client.create_commit(
                head, _changes(ctx, tree, sha), _message(ctx, tree, sha), parent_tree=tree_sha
            )
            head, tree_sha, verified = made.sha, made.tree, made.verified
        if remote is None:
            client.create_branch(target, head)
        else:
            client.move_branch(target, head, force=force)  # RefMovedError when it moved: integrate, retry
        _fetch(ctx, tree, url, target)
        # same tree, new commits: the local branch follows them so later steps see what was pushed
        gitutil.git(ctx, tree, "reset", "-q", "--soft", head)
        return head, verified, len(commits)


def _fetch(ctx: StepContext, tree: Path, url: str, branch: str) -> None:
    gitutil.git(
        ctx, tree, "fetch", "-q", "origin", f"refs/heads/{branch}", url=url, what=f"fetching {branch}"
    )


def _is_ancestor(ctx: StepContext, tree: Path, ancestor: str, descendant: str) -> bool:
    result = gitutil.git(ctx, tree, "merge-base", "--is-ancestor", ancestor, descendant, check=False)
    return result.returncode == 0


def _fork_point(
    ctx: StepContext, client: GitHubClient, tree: Path, url: str, branch: str, remote: str | None
) -> str:
    """The newest commit of HEAD's history GitHub already has: the new branch starts there."""
    candidates = [remote] if remote else []
    for name in (branch, client.repository_info().default_branch):
        if name:
            head = client.branch_head(name)
            if head:
                _fetch(ctx, tree, url, name)
                candidates.append(head)
    for candidate in candidates:
        found = gitutil.git(ctx, tree, "merge-base", "HEAD", candidate, check=False)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    raise TerminalStepError(
        f"the work tree's history shares no commit with {client.repository}: github-push replays commits onto "
        "one GitHub has; clone the repository first (git-clone)"
    )


def _first_parent_commits(ctx: StepContext, tree: Path, base: str, head: str) -> list[str]:
    out = gitutil.git(ctx, tree, "rev-list", "--reverse", "--first-parent", f"{base}..{head}").stdout
    return out.split()


def _message(ctx: StepContext, tree: Path, sha: str) -> str:
    """The commit's message; an author other than the default identity stays credited as a co-author."""
    fields = gitutil.git(ctx, tree, "show", "-s", "--format=%an%x00%ae%x00%B", sha).stdout
    name, email, message = fields.split("\x00", 2)
    message = message.rstrip("\n")
    trailer = f"Co-authored-by: {name} <{email}>"
    if email and email != gitutil.DEFAULT_AUTHOR_EMAIL and trailer not in message:
        message += "\n\n" + trailer
    return message + "\n"


def _changes(ctx: StepContext, tree: Path, sha: str) -> list[FileChange]:
    """What `sha` changed against its first parent, with the new contents (bytes, read through GitPython)."""
    from git import Repo

    parents = gitutil.git(ctx, tree, "show", "-s", "--format=%P", sha).stdout.split()
    parent = parents[0] if parents else _EMPTY_TREE
    out = gitutil.git(
        ctx, tree, "diff-tree", "-r", "-z", "--no-renames", "--no-commit-id", parent, sha
    ).stdout
    fields = out.split("\x00")
    changes: list[FileChange] = []
    repo = Repo(tree)
    try:
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            if not meta.startswith(":"):
                continue
            _, new_mode, _, new_sha, status = meta[1:].split(" ")
            if status.startswith("D"):
                changes.append(FileChange(path, None))
                continue
            if new_mode not in ("100644", "100755"):
                raise TerminalStepError(
                    f"commit {sha[:7]} changes {path!r} with mode {new_mode} (a symlink or submodule): the API "
                    "commits of github-push carry regular files only; use git-push for this change"
                )
            content = repo.odb.stream(bytes.fromhex(new_sha)).read()
            changes.append(FileChange(path, content, executable=new_mode == "100755"))
    finally:
        repo.close()
    return changes
