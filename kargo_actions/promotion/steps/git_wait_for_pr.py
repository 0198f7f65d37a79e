"""git-wait-for-pr: wait until a GitHub pull request is merged (output: the merge commit); a pull request
closed without merging fails the step."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepFailed,
    StepResult,
    StepStatus,
    WaitingOn,
)
from kargo_actions.promotion.steps.support.github_common import (
    check_provider,
    client_for,
    github_errors,
    poll_seconds,
)

# Kargo's default poll interval for this step.
DEFAULT_POLL_SECONDS = 30.0
_GO_DURATION = r"(?:\d+(ns|us|µs|ms|s|m|h))+"


class GitWaitForPRConfig(StepConfig):
    """Kargo's GitWaitForPRConfig."""

    repo_url: NonEmpty = Field(alias="repoURL")
    """The repository on GitHub (https://HOST/OWNER/REPO[.git])."""
    pr_number: Annotated[StrictInt, Field(ge=1)]
    """The pull request's number (e.g. `${{ outputs['open-pr'].pr.id }}`)."""
    insecure_skip_tls_verify: StrictBool = Field(default=False, alias="insecureSkipTLSVerify")
    """Accepted for Kargo's sake; the API is reached with TLS verified."""
    provider: Literal["azure", "bitbucket", "gitea", "github", "gitlab"] | None = None
    """Only `github` (or left out) is supported."""
    poll_interval: Annotated[StrictStr, Field(pattern=_GO_DURATION)] | None = None
    """How often to look again while the pull request is open (Go duration; default 30s)."""


class GitWaitForPR:
    """One look at the pull request per run: merged -> Succeeded, open -> Running, closed -> Failed."""

    name: ClassVar[str] = "git-wait-for-pr"
    config_model: ClassVar[type[StepConfig]] = GitWaitForPRConfig
    may_wait: ClassVar[bool] = True  # reports Running while it waits: a promotion can stop here
    work_dir_free: ClassVar[bool] = True
    probe_safe: ClassVar[bool] = True  # reads only: reconcile may look before it claims
    outputs: ClassVar[dict[str, str]] = {"commit": "The merge commit now on the target branch."}

    def run(self, ctx: StepContext, config: GitWaitForPRConfig) -> StepResult:
        check_provider(config.provider)
        interval = poll_seconds(config.poll_interval, DEFAULT_POLL_SECONDS)
        client = client_for(ctx, config.repo_url)
        with github_errors(f"reading pull request #{config.pr_number} of {client.repository}"):
            pr = client.get_pull_request(config.pr_number)
        if pr.merged:
            commit = pr.merge_commit_sha or ""
            return StepResult(
                message=f"pull request #{pr.number} was merged into {pr.base_ref} as {commit[:7]}",
                outputs={"commit": commit},
            )
        if pr.closed_unmerged:
            raise StepFailed(
                f"pull request #{pr.number} ({pr.html_url}) was closed without being merged: the promotion it "
                "carries is abandoned; reopen and merge it, or promote again"
            )
        return StepResult(
            status=StepStatus.RUNNING,
            message=f"waiting for pull request #{pr.number} ({pr.html_url}) to be merged",
            retry_after=interval,
            waiting=WaitingOn(
                kind="pull-request",
                description=f"PR #{pr.number} to be merged",
                url=pr.html_url,
                repo_url=config.repo_url,
                number=pr.number,
            ),
        )
