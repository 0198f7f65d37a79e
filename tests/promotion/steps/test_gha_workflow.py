"""gha-dispatch-workflow and gha-wait-for-workflow: configs as Kargo's docs give them (no JSON Schema is
published for these Akuity Platform steps), a real dispatch recorded by the GitHub test server, waits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.engine import EngineOptions
from kargo_actions.promotion.step_api import StepConfigError, StepFailed, StepStatus, validate_config
from kargo_actions.promotion.steps.gha_dispatch_workflow import GhaDispatchWorkflowConfig
from kargo_actions.promotion.steps.gha_wait_for_workflow import GhaWaitForWorkflowConfig
from tests.promotion.helpers import promote, write_project
from tests.promotion.steps.github_support import ctx_for, gh, run_step, seed, step_env, unpaced
from tests.support.github_fixtures import REPOSITORY, github_contract
from tests.support.github_server import GitHubServer

__all__ = ["gh", "github_contract", "unpaced"]

URL = "https://github.com/acme/app"
WORKFLOW = ".github/workflows/e2e.yml"

DISPATCH_CASES: list[tuple[dict[str, Any], str]] = [
    ({"repoURL": URL, "workflowFile": "e2e.yml", "ref": "main"}, ""),
    (
        {
            "repoURL": URL,
            "workflowFile": "e2e.yml",
            "ref": "main",
            "inputs": {"stage": "prod", "dry": True, "n": 3},
            "timeout": 120,
            "insecureSkipTLSVerify": False,
        },
        "",
    ),
    ({"repoURL": URL, "workflowFile": "e2e.yml"}, "config.ref: required field is missing"),
    ({"repoURL": URL, "workflowFile": "", "ref": "main"}, "config.workflowFile: must not be empty"),
    (
        {"repoURL": URL, "workflowFile": "e2e.yml", "ref": "main", "timeout": 301},
        "config.timeout: must be at most 300, not 301",
    ),
    ({"repoURL": URL, "workflowFile": "e2e.yml", "ref": "main", "inputs": {"a": [1]}}, "config.inputs.a"),
    (
        {"repoURL": URL, "workflowFile": "e2e.yml", "ref": "main", "owner": "acme"},
        "config.owner: unknown field",
    ),
]


@pytest.mark.parametrize(("config", "problem"), DISPATCH_CASES)
def test_dispatch_config(config: dict[str, Any], problem: str) -> None:
    _case("gha-dispatch-workflow", GhaDispatchWorkflowConfig, config, problem)


WAIT_CASES: list[tuple[dict[str, Any], str]] = [
    ({"repoURL": URL, "runID": 12345}, ""),
    ({"repoURL": URL, "runID": 12345, "expectedConclusion": "success", "pollInterval": "2s"}, ""),
    ({"repoURL": URL, "runID": "12345"}, "config.runID: expected an integer"),
    (
        {"repoURL": URL, "runID": 1, "expectedConclusion": "passed"},
        "config.expectedConclusion: must be one of 'success', 'failure', 'cancelled', 'skipped', 'timed_out', "
        "'action_required', 'neutral' or 'stale', not 'passed'",
    ),
    ({"repoURL": URL}, "config.runID: required field is missing"),
]


@pytest.mark.parametrize(("config", "problem"), WAIT_CASES)
def test_wait_config(config: dict[str, Any], problem: str) -> None:
    _case("gha-wait-for-workflow", GhaWaitForWorkflowConfig, config, problem)


def _case(name: str, model: type[Any], config: dict[str, Any], problem: str) -> None:
    if not problem:
        validate_config(name, model, config)
        return
    with pytest.raises(StepConfigError) as raised:
        validate_config(name, model, config)
    assert any(str(p).startswith(problem) for p in raised.value.problems), raised.value.problems


def test_dispatch_records_inputs_and_wait_sees_the_conclusion(gh: GitHubServer, tmp_path: Path) -> None:
    seed(gh)
    workflow = gh.add_workflow(REPOSITORY, WORKFLOW)
    # the run moves on at each read, and the dispatch itself reads none: running at the first wait, then done
    workflow.script = [("in_progress", None), ("completed", "success")]
    ctx = ctx_for(gh, tmp_path / "work")
    url = gh.clone_url(REPOSITORY)
    dispatched = run_step(
        "gha-dispatch-workflow",
        ctx,
        {
            "repoURL": url,
            "workflowFile": "e2e.yml",
            "ref": "main",
            "inputs": {"stage": "prod", "dry": True, "n": 3},
        },
    )
    repo = gh.repo(REPOSITORY)
    [dispatch] = repo.dispatches
    assert (dispatch.workflow_id, dispatch.ref) == (workflow.id, "main")
    assert dispatch.inputs == {"stage": "prod", "dry": "true", "n": "3"}
    run_id = dispatched.outputs["runID"]
    assert run_id == dispatch.run_id
    assert str(dispatched.outputs["runURL"]).endswith(f"/actions/runs/{run_id}")

    config = {"repoURL": url, "runID": run_id, "expectedConclusion": "success", "pollInterval": "10ms"}
    waiting = run_step("gha-wait-for-workflow", ctx, config)
    assert (waiting.status, waiting.retry_after) == (StepStatus.RUNNING, 0.01)
    done = run_step("gha-wait-for-workflow", ctx, config)
    assert done.status == StepStatus.SUCCEEDED
    assert done.outputs["conclusion"] == "success"


def test_wait_fails_on_another_conclusion_and_reports_any_without_expectation(
    gh: GitHubServer, tmp_path: Path
) -> None:
    seed(gh)
    gh.add_workflow(REPOSITORY, WORKFLOW)
    ctx = ctx_for(gh, tmp_path / "work")
    url = gh.clone_url(REPOSITORY)
    run_id = run_step(
        "gha-dispatch-workflow", ctx, {"repoURL": url, "workflowFile": "e2e.yml", "ref": "main"}
    ).outputs["runID"]
    gh.finish_run(REPOSITORY, run_id, "failure")
    with pytest.raises(StepFailed, match="concluded failure, expected success"):
        run_step(
            "gha-wait-for-workflow", ctx, {"repoURL": url, "runID": run_id, "expectedConclusion": "success"}
        )
    seen = run_step("gha-wait-for-workflow", ctx, {"repoURL": url, "runID": run_id})
    assert seen.outputs["conclusion"] == "failure"


def test_both_steps_in_a_promotion_pass_the_run_id_along(gh: GitHubServer, tmp_path: Path) -> None:
    seed(gh)
    gh.add_workflow(REPOSITORY, WORKFLOW)
    url = gh.clone_url(REPOSITORY)
    project = write_project(
        tmp_path / "repo",
        [
            {
                "uses": "gha-dispatch-workflow",
                "as": "e2e",
                "config": {
                    "repoURL": url,
                    "workflowFile": "e2e.yml",
                    "ref": "main",
                    "inputs": {"stage": "${{ ctx.stage }}"},
                },
            },
            {
                "uses": "gha-wait-for-workflow",
                "as": "wait",
                "config": {
                    "repoURL": url,
                    "runID": "${{ outputs.e2e.runID }}",
                    "expectedConclusion": "success",
                    "pollInterval": "10ms",
                },
            },
        ],
    )
    options = EngineOptions(poll_interval=0.01, retry_backoff=0.01, retry_backoff_max=0.02, env=step_env(gh))
    result = promote(project, tmp_path / "work", options=options)
    assert result.phase == "Succeeded", result.message
    assert result.outputs["wait"]["conclusion"] == "success"
    assert gh.repo(REPOSITORY).dispatches[0].inputs == {"stage": "dev"}
