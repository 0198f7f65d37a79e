"""gha-wait-for-workflow: wait for a GitHub Actions workflow run to complete and, optionally, check its
conclusion. Config as Kargo's (Akuity Platform) step, plus pollInterval. Output: conclusion (Kargo's), runURL."""

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
from kargo_actions.promotion.steps.support.github_common import client_for, github_errors, poll_seconds

DEFAULT_POLL_SECONDS = 10.0
Conclusion = Literal[
    "success", "failure", "cancelled", "skipped", "timed_out", "action_required", "neutral", "stale"
]
_GO_DURATION = r"(?:\d+(ns|us|µs|ms|s|m|h))+"


class GhaWaitForWorkflowConfig(StepConfig):
    """Kargo's gha-wait-for-workflow config (v1.9), plus pollInterval (a Go duration, default 10s)."""

    repo_url: NonEmpty = Field(alias="repoURL")
    """The repository of the run (https://HOST/OWNER/REPO)."""
    run_id: Annotated[StrictInt, Field(ge=1)] = Field(alias="runID")
    """The run to wait for (e.g. `${{ outputs.dispatch.runID }}`)."""
    expected_conclusion: Conclusion | None = None
    """Fail unless the run concludes so; left out, any conclusion succeeds."""
    insecure_skip_tls_verify: StrictBool = Field(default=False, alias="insecureSkipTLSVerify")
    """Accepted for Kargo's sake; the API is reached with TLS verified."""
    poll_interval: Annotated[StrictStr, Field(pattern=_GO_DURATION)] | None = None
    """How often to look at the run (Go duration; default 10s). Not in Kargo's config."""


class GhaWaitForWorkflow:
    """One look at the run per call: completed -> Succeeded (or Failed on the wrong conclusion), else Running."""

    name: ClassVar[str] = "gha-wait-for-workflow"
    config_model: ClassVar[type[StepConfig]] = GhaWaitForWorkflowConfig
    may_wait: ClassVar[bool] = True  # reports Running while it waits: a promotion can stop here
    work_dir_free: ClassVar[bool] = True
    probe_safe: ClassVar[bool] = True  # reads only: reconcile may look before it claims
    outputs: ClassVar[dict[str, str]] = {
        "conclusion": "The run's conclusion (Kargo's name).",
        "runURL": "The run's web URL.",
    }

    def run(self, ctx: StepContext, config: GhaWaitForWorkflowConfig) -> StepResult:
        interval = poll_seconds(config.poll_interval, DEFAULT_POLL_SECONDS)
        client = client_for(ctx, config.repo_url)
        with github_errors(f"reading workflow run {config.run_id} of {client.repository}"):
            run = client.get_workflow_run(config.run_id)
        if not run.completed:
            return StepResult(
                status=StepStatus.RUNNING,
                message=f"workflow run {run.id} is {run.status or 'pending'} ({run.html_url})",
                retry_after=interval,
                waiting=WaitingOn(
                    kind="workflow-run",
                    description=f"workflow run {run.id} to complete",
                    url=run.html_url,
                    repo_url=config.repo_url,
                    number=run.id,
                ),
            )
        conclusion = run.conclusion or ""
        if config.expected_conclusion and conclusion != config.expected_conclusion:
            raise StepFailed(
                f"workflow run {run.id} ({run.html_url}) concluded {conclusion or 'without a conclusion'}, "
                f"expected {config.expected_conclusion}"
            )
        return StepResult(
            message=f"workflow run {run.id} concluded {conclusion}",
            outputs={"conclusion": conclusion, "runURL": run.html_url},
        )
