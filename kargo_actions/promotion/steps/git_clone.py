"""git-clone: one bare clone per repository, then each checkout as a `git worktree add` at its path."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar

from pydantic import Field, StrictBool, StrictStr, field_validator, model_validator

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support import gitutil


class Author(gitutil.GitAuthor):
    """Default authorship for commits made in the clone's work trees."""


class Checkout(StepConfig):
    """One revision (branch, commit, tag or the default branch) checked out at `path`."""

    as_: StrictStr = Field(default="", alias="as")
    """Key of this checkout in the `commits` output (default: `path`)."""
    branch: StrictStr = ""
    """A branch. At most one of `branch`, `commit`, `tag` (an empty string counts as absent)."""
    commit: StrictStr = ""
    """A commit id (fetched by id when no branch reaches it). Detached HEAD."""
    tag: StrictStr = ""
    """A tag. Detached HEAD at the tag's commit."""
    create: StrictBool = False
    """Start `branch` as a new, empty orphan branch when the remote has none."""
    path: NonEmpty
    """Work tree path, relative to the work dir (escapes are refused)."""
    sparse: list[NonEmpty] | None = Field(default=None, min_length=1)
    """Directories to check out (git's cone mode: the listed directories plus top-level files)."""

    @model_validator(mode="after")
    def _one_revision(self) -> Checkout:
        given = [name for name in ("branch", "commit", "tag") if getattr(self, name)]
        if len(given) > 1:
            raise ValueError(f"{' and '.join(given)} are mutually exclusive: give at most one")
        return self


class GitCloneConfig(StepConfig):
    """Kargo's GitCloneConfig."""

    repo_url: NonEmpty = Field(alias="repoURL")
    """The repository to clone (https, http, ssh, or a local path)."""
    insecure_skip_tls_verify: StrictBool = Field(default=False, alias="insecureSkipTLSVerify")
    """`http.sslVerify=false`, kept in the clone for later fetches and pushes."""
    recurse_submodules: StrictBool = False
    """`git submodule update --init --recursive` in each work tree."""
    blobless: StrictBool = False
    """`--filter=blob:none`: file contents are fetched only for what is checked out."""
    author: Author | None = None
    """`name` and `email` (required) and `signingKey`: written to the clone's config, so every later `git-commit` uses them."""
    checkout: list[Checkout] = Field(min_length=1)
    """What to check out where. Aliases (`as`) must be unique."""

    @field_validator("checkout")
    @classmethod
    def _unique_aliases(cls, checkouts: list[Checkout]) -> list[Checkout]:
        # Kargo refuses a repeated alias: two checkouts would share one key of the `commits` output.
        seen: set[str] = set()
        for i, checkout in enumerate(checkouts):
            if checkout.as_ in seen:
                raise ValueError(f"duplicate checkout alias {json.dumps(checkout.as_)} at checkout[{i}]")
            if checkout.as_:
                seen.add(checkout.as_)
        return checkouts


@functools.cache
def _git_version() -> tuple[int, int]:
    out = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else (0, 0)


class GitClone:
    """Clone `repoURL` once (bare) and add one work tree per checkout; outputs `commits` by alias or path."""

    name: ClassVar[str] = "git-clone"
    config_model: ClassVar[type[StepConfig]] = GitCloneConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {
        "commits": 'Map of `as` (or `path`) to the commit checked out there; `""` for a new orphan branch.',
    }

    def run(self, ctx: StepContext, config: GitCloneConfig) -> StepResult:
        url = config.repo_url
        targets = [ctx.path(c.path, field_name=f"checkout[{i}].path") for i, c in enumerate(config.checkout)]
        for i, target in enumerate(targets):
            if target.exists() and (not target.is_dir() or any(target.iterdir())):
                raise TerminalStepError(
                    f"checkout[{i}].path: {config.checkout[i].path!r} already exists and is not empty"
                )
        bare = self._bare_clone(ctx, config)
        refs = self._refs(ctx, bare)
        commits: dict[str, str] = {}
        for checkout, target in zip(config.checkout, targets, strict=True):
            ctx.check_abort()
            self._add_worktree(ctx, bare, url, refs, checkout, target)
            if config.recurse_submodules:
                gitutil.git(
                    ctx,
                    target,
                    "submodule",
                    "update",
                    "--init",
                    "--recursive",
                    url=url,
                    what=f"updating submodules in {checkout.path}",
                )
            commits[checkout.as_ or checkout.path] = gitutil.head_commit(ctx, target)
        return StepResult(
            message=f"cloned {url} into {len(targets)} work tree(s)", outputs={"commits": commits}
        )

    def _bare_clone(self, ctx: StepContext, config: GitCloneConfig) -> Path:
        """The promotion's one clone of the repository; a second git-clone of the same URL reuses it."""
        url = config.repo_url
        bare = gitutil.repo_dir(ctx, url)
        if not (bare / "HEAD").exists():
            bare.parent.mkdir(parents=True, exist_ok=True)
            args = ["clone", "--bare", "--quiet"]
            if config.blobless:
                args.append("--filter=blob:none")
            if config.insecure_skip_tls_verify:
                args += ["-c", "http.sslVerify=false"]
            gitutil.git(ctx, bare.parent, *args, "--", url, bare.name, url=url, what=f"cloning {url}")
        settings: list[tuple[str, str]] = []
        if config.author is not None:
            settings += [("user.name", config.author.name), ("user.email", config.author.email)]
            settings += gitutil.signing_settings(config.author.signing_key)
        for key, value in settings:
            gitutil.git(ctx, bare, "config", key, value, what=f"setting {key}")
        return bare

    def _refs(self, ctx: StepContext, bare: Path) -> dict[str, str]:
        """The clone's branches and tags (read from its files; `git for-each-ref` when they are unusual)."""
        if not (bare / "reftable").exists():
            try:
                return gitutil.read_refs(bare)
            except OSError:
                pass
        listed = gitutil.git(
            ctx, bare, "for-each-ref", "--format=%(objectname) %(refname)", what="listing refs"
        )
        refs: dict[str, str] = {}
        for line in listed.stdout.splitlines():
            object_id, _, name = line.partition(" ")
            refs[name] = object_id
        return refs

    def _default_branch(self, ctx: StepContext, bare: Path) -> str:
        try:
            head = (bare / "HEAD").read_text().strip()
        except OSError:
            head = ""
        if head.startswith("ref: refs/heads/"):
            return head.removeprefix("ref: refs/heads/")
        return gitutil.git(ctx, bare, "symbolic-ref", "-q", "--short", "HEAD", check=False).stdout.strip()

    def _add_worktree(
        self,
        ctx: StepContext,
        bare: Path,
        url: str,
        refs: dict[str, str],
        checkout: Checkout,
        target: Path,
    ) -> None:
        where = checkout.path
        sparse = checkout.sparse or []
        no_checkout = ["--no-checkout"] if sparse else []
        if checkout.commit:
            options, commitish = ["--detach"], checkout.commit
        elif checkout.tag:
            if f"refs/tags/{checkout.tag}" not in refs:
                raise TerminalStepError(f"{where}: tag {checkout.tag!r} does not exist in {url}")
            options, commitish = ["--detach"], f"refs/tags/{checkout.tag}^{{commit}}"
        elif checkout.branch:
            if f"refs/heads/{checkout.branch}" not in refs:
                if not checkout.create:
                    raise TerminalStepError(
                        f"{where}: branch {checkout.branch!r} does not exist in {url} "
                        "(set create: true to start it as a new orphan branch)"
                    )
                self._add_orphan(ctx, bare, url, refs, checkout.branch, target, sparse)
                return
            options, commitish = [], checkout.branch
        else:
            branch = self._default_branch(ctx, bare)
            if not branch or f"refs/heads/{branch}" not in refs:
                raise TerminalStepError(f"{where}: {url} has no default branch to check out")
            options, commitish = [], branch
        try:
            self._worktree_add(ctx, bare, url, target, [*no_checkout, *options], commitish, where)
        except TerminalStepError:
            if not checkout.commit:
                raise
            # A commit no branch reaches any more may still be fetchable by its id.
            gitutil.git(ctx, bare, "fetch", "-q", "origin", checkout.commit, url=url, check=False)
            self._worktree_add(ctx, bare, url, target, [*no_checkout, *options], commitish, where)
        if sparse:
            self._sparse(ctx, target, url, sparse, where)
            gitutil.git(ctx, target, "reset", "-q", "--hard", url=url, what=f"checking out {where}")

    def _worktree_add(
        self,
        ctx: StepContext,
        bare: Path,
        url: str,
        target: Path,
        options: list[str],
        commitish: str | None,
        where: str,
    ) -> None:
        args = ["worktree", "add", "-q", *options, str(target)] + ([commitish] if commitish else [])
        result = gitutil.git(ctx, bare, *args, url=url, check=False)
        if result.returncode != 0:
            text = gitutil.failure_text(ctx, result)
            if "already checked out" in text or "already used by worktree" in text:
                raise TerminalStepError(
                    f"{where}: {text} (git cannot check one branch out in two work trees)"
                )
            if "invalid reference" in text or "not a valid" in text:
                raise TerminalStepError(f"{where}: {text}")
            raise StepError(f"{where}: checking out failed: {text}")

    def _sparse(self, ctx: StepContext, target: Path, url: str, dirs: list[str], where: str) -> None:
        gitutil.git(
            ctx,
            target,
            "sparse-checkout",
            "set",
            "--cone",
            "--",
            *[d.strip("/") for d in dirs],
            url=url,
            what=f"setting the sparse checkout of {where}",
        )

    def _add_orphan(
        self,
        ctx: StepContext,
        bare: Path,
        url: str,
        refs: dict[str, str],
        branch: str,
        target: Path,
        sparse: list[str],
    ) -> None:
        """A new branch with no history and an empty work tree."""
        where = str(target)
        if _git_version() >= (2, 42):
            self._worktree_add(ctx, bare, url, target, ["--orphan", "-b", branch], None, where)
            if sparse:
                self._sparse(ctx, target, url, sparse, where)
            return
        # Older git: start detached on any commit without checking it out, then switch to an unborn branch.
        start = next((sha for ref, sha in refs.items() if ref.startswith("refs/heads/")), "")
        if not start:
            start = self._empty_commit(ctx, bare)
        self._worktree_add(ctx, bare, url, target, ["--detach", "--no-checkout"], start, where)
        gitutil.git(ctx, target, "checkout", "-q", "--orphan", branch, what=f"creating branch {branch}")
        gitutil.git(ctx, target, "rm", "-rfq", "--ignore-unmatch", ".", what=f"emptying {where}")
        for child in target.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        if sparse:
            self._sparse(ctx, target, url, sparse, where)

    def _empty_commit(self, ctx: StepContext, bare: Path) -> str:
        """A dangling commit of the empty tree: a starting point for a work tree in an empty repository."""
        tree = gitutil.git(ctx, bare, "mktree", what="writing the empty tree").stdout.strip()
        identity = gitutil.actor_identity(ctx)
        return gitutil.git(
            ctx,
            bare,
            "commit-tree",
            tree,
            "-m",
            "empty",
            what="writing a starting commit",
            extra_env=gitutil.identity_env(identity),
        ).stdout.strip()
