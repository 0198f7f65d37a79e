"""What the promote and reconcile actions say about waiting promotions: the promote action's step after
`promote --no-wait` (notice, job summary, outputs) and the reconcile action's plan -> matrix of Stages,
run by bash as the runner runs them, with the inputs in env."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.github.resume import how_resumed, plan_stages, waiting_lines
from tests.support.workflow_tools import load_yaml

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "acme/app"


def _promotion(wait: dict[str, Any], phase: str = "Running") -> dict[str, Any]:
    return {"name": "prod.01j", "stage": "prod", "phase": phase, "wait": wait}


PR = {
    "kind": "pull-request",
    "description": "PR #12 to be merged",
    "url": "https://github.com/acme/app/pull/12",
    "prNumber": 12,
    "deadline": "2026-12-05T17:00:00Z",
}


@pytest.mark.parametrize(
    ("wait", "line"),
    [
        (
            PR,
            "prod: prod.01j is waiting for PR #12 to be merged (until 2026-12-05T17:00:00Z); resumed by "
            "kargo-reconcile.yml on the pull_request closed event",
        ),
        (
            {"kind": "pull-request", "url": "https://github.com/acme/config/pull/7", "prNumber": 7},
            "prod: prod.01j is waiting for PR #7 to be merged; resumed by kargo-reconcile.yml on a "
            "kargo-reconcile repository_dispatch from acme/config (docs/github.md) or on its schedule",
        ),
        (
            {"kind": "workflow-run", "runID": 99, "url": "https://github.com/ACME/app/actions/runs/99"},
            "prod: prod.01j is waiting for workflow run 99 to complete; resumed by kargo-reconcile.yml on the "
            "workflow_run completed event",
        ),
        (
            {"kind": "http", "description": "https://health.example/ready to say ready"},
            "prod: prod.01j is waiting for https://health.example/ready to say ready; resumed by "
            "kargo-reconcile.yml on its schedule (or a kargo-reconcile repository_dispatch)",
        ),
    ],
    ids=["own-pr", "other-repository-pr", "workflow-run", "http"],
)
def test_a_waiting_promotion_says_what_resumes_it(wait: dict[str, Any], line: str) -> None:
    assert waiting_lines([_promotion(wait)], REPOSITORY, "kargo-reconcile.yml") == [line]


def test_only_running_promotions_with_a_wait_count() -> None:
    done = {"name": "dev.1", "stage": "dev", "phase": "Succeeded"}
    decisions = {"results": [done, {"stage": "prod", "action": "promoted", "promotion": _promotion(PR)}]}
    assert len(waiting_lines(decisions, REPOSITORY, "r.yml")) == 1
    assert waiting_lines([done, _promotion(PR, "Failed")], REPOSITORY, "r.yml") == []
    assert how_resumed({"kind": "argocd"}, REPOSITORY, "r.yml").startswith("resumed by r.yml on its schedule")


def test_plan_stages_are_distinct_in_order() -> None:
    plan = [
        {"stage": "prod", "promotion": "prod.1", "action": "would-resume", "reason": "PR #12 merged"},
        {"stage": "qa", "promotion": "qa.1", "action": "waiting", "reason": "waiting for PR #3"},
        {"stage": "dev", "promotion": "dev.2", "action": "would-start", "reason": "queued"},
        {"stage": "prod", "promotion": "prod.3", "action": "would-start", "reason": "queued"},
        {"stage": "uat", "promotion": "uat.1", "action": "busy", "reason": "being run by PID 7"},
    ]
    assert plan_stages(plan) == ["prod", "dev"]  # a Stage that still waits or is being run starts no job
    assert plan_stages({"error": "x"}) == [] == plan_stages(None)


def _outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT's heredocs as a dict."""
    values: dict[str, str] = {}
    lines = path.read_text().splitlines()
    while lines:
        name, _, delimiter = lines.pop(0).partition("<<")
        end = lines.index(delimiter)
        values[name] = "\n".join(lines[:end])
        del lines[: end + 1]
    return values


def _run_step(
    action: str, step_id: str, env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    step = next(
        s
        for s in load_yaml(ROOT / "actions" / action / "action.yml")["runs"]["steps"]
        if s.get("id") == step_id
    )
    assert all(v.startswith("${{ ") for v in step["env"].values())  # inputs reach the shell through env only
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "KA_"))},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_ACTION_PATH": str(ROOT / "actions" / action),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_REPOSITORY": REPOSITORY,
        **env,
    }
    return subprocess.run(["bash", "-c", step["run"]], env=full, capture_output=True, text=True, check=False)


def test_promote_action_says_how_a_suspended_promotion_resumes(tmp_path: Path) -> None:
    result = json.dumps([_promotion(PR)])
    done = _run_step(
        "promote", "waiting", {"KA_RESULT": result, "KA_RECONCILE_WORKFLOW": "kargo-reconcile.yml"}, tmp_path
    )
    assert done.returncode == 0, done.stderr
    line = (
        "prod: prod.01j is waiting for PR #12 to be merged (until 2026-12-05T17:00:00Z); resumed by "
        "kargo-reconcile.yml on the pull_request closed event"
    )
    assert done.stdout == f"::notice title=Promotion waiting::{line}\n"
    assert _outputs(tmp_path / "github_output") == {"waiting": "true", "resume": line}
    assert (tmp_path / "summary.md").read_text() == f"\n### Waiting promotions\n\n- {line}\n"

    # a promotion that finished: nothing said, `waiting` false (downstream dispatches go on)
    (tmp_path / "github_output").unlink()
    finished = json.dumps([{"name": "dev.1", "stage": "dev", "phase": "Succeeded"}])
    assert _run_step("promote", "waiting", {"KA_RESULT": finished}, tmp_path).stdout == ""
    assert _outputs(tmp_path / "github_output") == {"waiting": "false", "resume": ""}
    action = load_yaml(ROOT / "actions" / "promote" / "action.yml")
    dispatch = next(s for s in action["runs"]["steps"] if s["name"] == "Dispatch downstream auto-promotions")
    assert "steps.waiting.outputs.waiting != 'true'" in dispatch["if"]


def test_promote_action_passes_no_wait_when_wait_is_false(tmp_path: Path) -> None:
    """The promote step's script with a kargo-actions on PATH that prints its arguments (the shell's part)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "kargo-actions"
    stub.write_text(
        f'#!/bin/sh\nexec {sys.executable} -c "import json,sys; print(json.dumps(sys.argv[1:]))" "$@"\n'
    )
    stub.chmod(0o755)
    for wait, expected in (("false", ["--no-wait"]), ("true", []), ("", [])):
        env = {
            "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "RUNNER_TEMP": str(tmp_path),
            "KA_STAGE": "prod",
            "KA_FREIGHT": "abc",
            "KA_AUTO": "false",
            "KA_SKIP_STEPS": "",
            "KA_WAIT": wait,
            "KA_OUTPUT": "json",
        }
        done = _run_step("promote", "run", env, tmp_path)
        assert done.returncode == 0, done.stderr
        args = json.loads(done.stdout.splitlines()[0])
        assert args == ["-o", "json", "promote", "--stage", "prod", "--freight", "abc", *expected]


def test_reconcile_action_builds_the_command_and_the_matrix(tmp_path: Path) -> None:
    """The reconcile action's steps: its arguments from the inputs, then the plan's Stages as a JSON list."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "kargo-actions"
    stub.write_text(
        f'#!/bin/sh\nexec {sys.executable} -c "import json,sys; print(json.dumps(sys.argv[1:]))" "$@"\n'
    )
    stub.chmod(0o755)
    base = {
        "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(tmp_path),
        "KA_OUTPUT": "json",
    }
    cases = [
        ({"KA_STAGE": "", "KA_PLAN": "true", "KA_DISPATCH_WORKFLOW": ""}, ["--plan"]),
        (
            {"KA_STAGE": "prod", "KA_PLAN": "false", "KA_DISPATCH_WORKFLOW": "kargo-promote.yml"},
            ["--stage", "prod", "--dispatch-workflow", "kargo-promote.yml"],
        ),
        ({"KA_STAGE": "prod", "KA_PLAN": "false", "KA_DISPATCH_WORKFLOW": ""}, ["--stage", "prod"]),
    ]
    for env, expected in cases:
        done = _run_step("reconcile", "run", {**base, **env}, tmp_path)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[0]) == ["-o", "json", "reconcile", *expected]
    (tmp_path / "github_output").unlink()
    plan = [
        {"stage": "prod", "promotion": "p.1", "reason": "PR #12 merged"},
        {"stage": "dev", "promotion": "d.1", "reason": "queued"},
    ]
    done = _run_step("reconcile", "stages", {"KA_RESULT": json.dumps(plan)}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert _outputs(tmp_path / "github_output") == {"stages": '["prod", "dev"]'}
