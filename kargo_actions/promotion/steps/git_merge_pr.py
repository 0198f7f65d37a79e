"""git-merge-pr: merge a GitHub pull request with the chosen method once GitHub says it is mergeable and
every check its base requires (rulesets and branch protection) passes; with `wait`, keep trying until then
(Running, naming the check it waits for); a failed required check fails the step, naming it."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, cast

from pydantic import Field, StrictBool, StrictInt, StrictStr

from kargo_actions.github.errors import GitHubTimeoutError, MergeBlockedError
from kargo_actions.github.models import MergeMethod
from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepFailed,
    StepResult,
    StepStatus,
    TerminalStepError,
    WaitingOn,
)
from kargo_actions.promotion.steps.support.github_common import (
    check_provider,
    client_for,
    github_errors,
    poll_seconds,
)

# Kargo's default interval between merge attempts with wait: true.
DEFAULT_POLL_SECONDS = 10.0
MERGE_METHODS = ("merge", "squash", "rebase")
_GO_DURATION = r"(?:\d+(ns|us|µs|ms|s|m|h))+"


class GitMergePRConfig(StepConfig):
    """Kargo's GitMergePRConfig."""

    repo_url: NonEmpty = Field(alias="repoURL")
    """The repository on GitHub (https://HOST/OWNER/REPO[.git])."""
    pr_number: Annotated[StrictInt, Field(ge=1)]
    """The pull request's number (e.g. `${{ outputs['open-pr'].pr.id }}`)."""
    provider: Literal["azure", "bitbucket", "gitea", "github", "gitlab"] | None = None
    """Only `github` (or left out) is supported."""
    insecure_skip_tls_verify: StrictBool = Field(default=False, alias="insecureSkipTLSVerify")
    """Accepted for Kargo's sake; the API is reached with TLS verified."""
    wait: StrictBool = False
    """Not ready yet (checks pending, mergeability unknown): wait (Running) instead of failing."""
    poll_interval: Annotated[StrictStr, Field(pattern=_GO_DURATION)] | None = None
    """With wait: how often to try again (Go duration; default 10s)."""
    merge_method: NonEmpty | None = None
    """`merge` (default), `squash` or `rebase`."""


class GitMergePR:
    """Merge now if GitHub allows it; otherwise Running (wait: true) or Failed (wait: false)."""

    name: ClassVar[str] = "git-merge-pr"
    config_model: ClassVar[type[StepConfig]] = GitMergePRConfig
    may_wait: ClassVar[bool] = True  # reports Running while it waits: a promotion can stop here
    work_dir_free: ClassVar[bool] = True
    outputs: ClassVar[dict[str, str]] = {"commit": "The commit the merge made on the target branch."}

    def run(self, ctx: StepContext, config: GitMergePRConfig) -> StepResult:
        check_provider(config.provider)
        method = config.merge_method or "merge"
        if method not in MERGE_METHODS:
            raise TerminalStepError(
                f"mergeMethod: {method!r} is not a GitHub merge method; use one of {', '.join(MERGE_METHODS)}"
            )
        interval = poll_seconds(config.poll_interval, DEFAULT_POLL_SECONDS)
        client = client_for(ctx, config.repo_url)
        number = config.pr_number
        with github_errors(f"merging pull request #{number} of {client.repository}"):
            try:
                # timeout 0: one look at mergeability and the required checks; the engine polls again
                result = client.merge_pull_request(number, method=cast(MergeMethod, method), timeout=0)
            except GitHubTimeoutError as err:
                if not config.wait:
                    raise StepFailed(
                        f"pull request #{number} of {client.repository} is not ready to merge: {err}; "
                        "set wait: true to wait for it"
                    ) from None
                # checks report no event a pull request's promotion could wait on: the schedule resumes it
                return StepResult(
                    status=StepStatus.RUNNING,
                    message=str(err),
                    retry_after=interval,
                    waiting=WaitingOn(
                        kind="step",
                        description=_waited_for(str(err), number, client.repository),
                        repo_url=config.repo_url,
                        number=number,
                    ),
                )
            except MergeBlockedError as err:
                raise StepFailed(str(err)) from None
        return StepResult(
            message=f"merged pull request #{number} ({method}) as {result.sha[:7]}",
            outputs={"commit": result.sha},
        )


def _waited_for(message: str, number: int, repository: str) -> str:
    """What a blocked merge waits for: the required checks the client names, else mergeability."""
    if message.startswith("waiting for "):
        return f"{message.removeprefix('waiting for ')} of {repository}"
    return f"pull request #{number} of {repository} to become mergeable"
