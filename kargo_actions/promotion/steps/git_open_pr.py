"""git-open-pr: open (or update) a GitHub pull request from sourceBranch into targetBranch whose body holds
the Freight, what changes (images, commits, charts: old -> new) and a summary of the rendered diff, or, with
Argo CD configured (ARGOCD_SERVER), Argo CD's diff of the cluster for each Application the Stage updates."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, StrictBool

from kargo_actions.freight.identity import normalize_git_url
from kargo_actions.github.prbody import RenderedDiff, promotion_body
from kargo_actions.model.freight import Freight
from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepResult
from kargo_actions.promotion.steps.support import gitutil
from kargo_actions.promotion.steps.support.cluster_diff import SERVER_ENV, pr_cluster_diff
from kargo_actions.promotion.steps.support.github_common import check_provider, client_for, github_errors

# How deep below the work dir to look for the clone the promotion changed (./src, ./out, ./a/b).
_SEARCH_DEPTH = 3
# The patch shown in the body: longer ones are cut by the body's limit anyway, so do not read more.
_MAX_PATCH_BYTES = 200_000


class GitOpenPRConfig(StepConfig):
    """Kargo's GitOpenPRConfig."""

    repo_url: NonEmpty = Field(alias="repoURL")
    """The repository on GitHub (https://HOST/OWNER/REPO[.git]); the API is GITHUB_API_URL's."""
    source_branch: NonEmpty
    """The branch with the changes (pushed already, e.g. by git-push with generateTargetBranch)."""
    target_branch: NonEmpty
    """The branch to merge into."""
    create_target_branch: StrictBool = False
    """Deprecated in Kargo; accepted and ignored."""
    insecure_skip_tls_verify: StrictBool = Field(default=False, alias="insecureSkipTLSVerify")
    """Accepted for Kargo's sake; the API is reached with TLS verified."""
    provider: Literal["azure", "bitbucket", "gitea", "github", "gitlab"] | None = None
    """Only `github` (or left out) is supported."""
    title: NonEmpty | None = None
    """The title (default: `Promote <freight alias> to <stage>`)."""
    description: NonEmpty | None = None
    """Text that opens the body, before the generated Freight, changes and diff sections."""
    labels: list[NonEmpty] | None = None
    """Labels to add to the pull request."""


class GitOpenPR:
    """Open sourceBranch -> targetBranch on GitHub; a re-run updates the open pull request instead."""

    name: ClassVar[str] = "git-open-pr"
    config_model: ClassVar[type[StepConfig]] = GitOpenPRConfig
    outputs: ClassVar[dict[str, str]] = {
        "pr.id": "The pull request's number (Kargo's name).",
        "pr.url": "The pull request's web URL.",
        "prNumber": "The number again, under the name older Kargo versions and kargo-simple use.",
    }

    def run(self, ctx: StepContext, config: GitOpenPRConfig) -> StepResult:
        check_provider(config.provider)
        client = client_for(ctx, config.repo_url)
        freight = target_freight(ctx, config.repo_url)
        title = config.title or default_title(ctx, freight, config)
        where = (
            f"opening a pull request {config.source_branch} -> {config.target_branch} in {client.repository}"
        )
        with github_errors(where):
            base = client.branch_head(config.target_branch)
            head = client.branch_head(config.source_branch)
            rendered = rendered_diff(ctx, config.repo_url, base, head) if base and head else None
            cluster = None
            if base and head and ctx.env.get(SERVER_ENV):
                cluster = pr_cluster_diff(ctx, _clone_with(ctx, config.repo_url, base, head), base, head)
            body = promotion_body(
                stage=ctx.stage,
                freight=freight,
                previous=previous_freight(ctx, freight),
                description=config.description or "",
                rendered=rendered,
                promotion=ctx.promotion,
                cluster=cluster,
            )
            pr = client.open_pull_request(
                title=title,
                head=config.source_branch,
                base=config.target_branch,
                body=body,
                labels=tuple(config.labels or ()),
            )
        outputs = {"pr": {"id": pr.number, "url": pr.html_url}, "prNumber": pr.number}
        return StepResult(message=f"pull request #{pr.number}: {pr.html_url}", outputs=outputs)


def default_title(ctx: StepContext, freight: Freight | None, config: GitOpenPRConfig) -> str:
    if freight is not None and ctx.stage:
        return f"Promote {freight.alias or freight.name[:7]} to {ctx.stage}"
    return f"Merge {config.source_branch} into {config.target_branch}"


def target_freight(ctx: StepContext, repo_url: str) -> Freight | None:
    """The Freight being promoted (ctx.target_freight, else the one Freight of the collection)."""
    if ctx.target_freight is not None:
        return ctx.target_freight
    if len(ctx.freight) == 1:
        return ctx.freight[0]
    return None


def previous_freight(ctx: StepContext, freight: Freight | None) -> Freight | None:
    """The Freight of the same origin the Stage holds now, from the ledger (None when unknown)."""
    if ctx.ledger is None or freight is None or not ctx.stage:
        return None
    try:
        state = ctx.ledger.stage_state(ctx.stage)
        for current in state.current_freight:
            if current.origin.name == freight.origin.name and current.name != freight.name:
                return ctx.ledger.get_freight(current.name)
    except Exception:  # the body merely loses its "from" column; the PR still opens
        return None
    return None


def rendered_diff(ctx: StepContext, repo_url: str, base: str, head: str) -> RenderedDiff | None:
    """`git diff base...head` from a clone of repo_url in the work dir that has both commits (the promotion
    made head there); None when there is none."""
    tree = _clone_with(ctx, repo_url, base, head)
    if tree is None:
        return None
    stat = gitutil.git(ctx, tree, "diff", "--stat=120", f"{base}...{head}", check=False)
    patch = gitutil.git(ctx, tree, "diff", "--no-color", "--no-ext-diff", f"{base}...{head}", check=False)
    if stat.returncode != 0 or patch.returncode != 0:
        return None
    return RenderedDiff(stat=stat.stdout, patch=patch.stdout[:_MAX_PATCH_BYTES])


def _clone_with(ctx: StepContext, repo_url: str, *commits: str) -> Path | None:
    wanted = normalize_git_url(repo_url)
    root = ctx.work_dir.resolve()
    level = [root]
    for _ in range(_SEARCH_DEPTH):
        found: list[Path] = []
        for folder in level:
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
            for child in children:
                if (child / ".git").exists():
                    if _has(ctx, child, wanted, commits):
                        return child
                else:
                    found.append(child)
        level = found
    return None


def _has(ctx: StepContext, tree: Path, wanted: str, commits: tuple[str, ...]) -> bool:
    try:
        if normalize_git_url(gitutil.remote_url(ctx, tree)) != wanted:
            return False
    except Exception:  # not a clone we can read: look further
        return False
    return all(
        gitutil.git(ctx, tree, "cat-file", "-e", f"{c}^{{commit}}", check=False).returncode == 0
        for c in commits
    )
