"""gha-dispatch-workflow: start a GitHub Actions workflow (workflow_dispatch) as part of a promotion.

Config as Kargo's (Akuity Platform) step: repoURL, workflowFile, ref, inputs, timeout, insecureSkipTLSVerify.
Outputs: runID (Kargo's), runURL.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from kargo_actions.promotion.step_api import NonEmpty, StepConfig, StepContext, StepResult, TerminalStepError
from kargo_actions.promotion.steps.support.github_common import client_for, github_errors

InputValue = StrictStr | StrictBool | StrictInt | StrictFloat
MAX_INPUTS = 25


class GhaDispatchWorkflowConfig(StepConfig):
    """Kargo's gha-dispatch-workflow config (v1.9)."""

    repo_url: NonEmpty = Field(alias="repoURL")
    """The repository of the workflow (https://HOST/OWNER/REPO)."""
    workflow_file: NonEmpty
    """The workflow's file name under .github/workflows (or its numeric id)."""
    ref: NonEmpty
    """The branch or tag to run the workflow on."""
    inputs: dict[str, InputValue] | None = None
    """The workflow_dispatch inputs (at most 25); booleans and numbers are sent as text."""
    timeout: Annotated[StrictInt, Field(ge=1, le=300)] | None = None
    """Seconds to wait for the run to appear on servers without `return_run_details` (1..300)."""
    insecure_skip_tls_verify: StrictBool = Field(default=False, alias="insecureSkipTLSVerify")
    """Accepted for Kargo's sake; the API is reached with TLS verified."""


def input_text(value: InputValue) -> str:
    """workflow_dispatch inputs travel as strings; booleans as the `true`/`false` a boolean input reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class GhaDispatchWorkflow:
    """Dispatch workflowFile on ref with inputs; the run it started is the output."""

    name: ClassVar[str] = "gha-dispatch-workflow"
    config_model: ClassVar[type[StepConfig]] = GhaDispatchWorkflowConfig
    work_dir_free: ClassVar[bool] = True
    outputs: ClassVar[dict[str, str]] = {
        "runID": "The id of the run the dispatch started (Kargo's name).",
        "runURL": "The run's web URL.",
    }

    def run(self, ctx: StepContext, config: GhaDispatchWorkflowConfig) -> StepResult:
        inputs = {k: input_text(v) for k, v in (config.inputs or {}).items()}
        if len(inputs) > MAX_INPUTS:
            raise TerminalStepError(
                f"inputs: {len(inputs)} given; a workflow_dispatch takes at most {MAX_INPUTS} (GitHub's limit)"
            )
        client = client_for(ctx, config.repo_url)
        with github_errors(f"dispatching {config.workflow_file} on {config.ref} in {client.repository}"):
            run = client.dispatch_workflow(config.workflow_file, ref=config.ref, inputs=inputs)
        return StepResult(
            message=f"dispatched {config.workflow_file} on {config.ref}: run {run.id} ({run.html_url})",
            outputs={"runID": run.id, "runURL": run.html_url},
        )
