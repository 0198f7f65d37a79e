"""The generated promote workflow runs the verify action in a verify job for Stages with verification; the
promote job then leaves verification (and those Stages' auto-promotion dispatches) to it; zizmor and
actionlint pass on the result and on actions/verify."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.github.test_workflows_gen import PINNED
from tests.ledger.helpers import make_repo
from tests.promotion.test_service import run, write
from tests.support.workflow_tools import load_yaml, tool
from tests.verification.test_cli import pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_verify_job_for_stages_with_verification(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    write(repo, pipeline("http://127.0.0.1:9", auto=True))
    code, _, err = run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "")
    assert code == 0, err
    workflows = repo / ".github" / "workflows"
    promote = load_yaml(workflows / "kargo-promote.yml")
    job = promote["jobs"]["promote"]
    assert job["outputs"] == {"promotion": "${{ steps.promote.outputs.promotion }}"}
    step = job["steps"][-1]["with"]
    assert step["verify"] == "false"
    # dev's auto-promotion dispatches wait for its verification; the other Stages dispatch after promoting
    assert step["dispatch-auto-promotions"] == "${{ !contains(fromJSON('[\"dev\"]'), inputs.stage) }}"
    verify = promote["jobs"]["verify"]
    assert verify["needs"] == "promote"
    assert (
        verify["if"]
        == "needs.promote.outputs.promotion != '' && contains(fromJSON('[\"dev\"]'), inputs.stage)"
    )
    assert verify["permissions"] == {"contents": "write", "statuses": "write", "actions": "write"}
    last = verify["steps"][-1]
    assert last["uses"] == PINNED.replace("@", "/actions/verify@")
    assert last["with"]["stage"] == "${{ inputs.stage }}"
    assert last["with"]["dispatch-auto-promotions"] == "true"
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(workflows), str(ROOT / "actions" / "verify")],
        capture_output=True,
        text=True,
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    lint = subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, sorted(workflows.glob("*.yml")))],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_verify_action_passes_inputs_through_env_only() -> None:
    action = load_yaml(ROOT / "actions" / "verify" / "action.yml")
    steps = action["runs"]["steps"]
    assert all("${{" not in step.get("run", "") for step in steps)
    env = steps[1]["env"]
    assert {v.removeprefix("${{ inputs.").removesuffix(" }}") for v in env.values()} == set(
        action["inputs"]
    ) - {
        "dispatch-auto-promotions",
        "promote-workflow",
    }
    assert 'run.sh" verify "${args[@]}"' in steps[1]["run"]
