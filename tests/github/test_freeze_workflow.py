"""kargo-freeze.yml and the freeze action: stop the line from the Actions tab; unfreeze dispatches the promote
workflow for the auto-promotions a freeze deferred (GitHub test server); windows bring kargo-reconcile.yml."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from tests.conftest import REPO_ROOT
from tests.github.test_workflows_gen import PINNED, _pipeline
from tests.promotion.test_service import record, run
from tests.support.github_fixtures import REPOSITORY, TOKEN
from tests.support.github_server import GitHubServer
from tests.support.workflow_tools import load_yaml, tool

WINDOW = {
    "name": "nights",
    "kind": "Deny",
    "dtstart": "20260101T220000Z",
    "dtend": "20260102T060000Z",
    "rrule": "FREQ=DAILY",
}


def test_freeze_workflow_is_generated_linted_and_calls_the_freeze_action(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path, policies=[{"stage": "staging", "autoPromotionEnabled": True}])
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "")[0] == 0
    workflows = repo / ".github" / "workflows"
    assert not (workflows / "kargo-reconcile.yml").exists()  # no waiting step, no window
    freeze = load_yaml(workflows / "kargo-freeze.yml")
    on = freeze["on"] if "on" in freeze else freeze[True]
    inputs = on["workflow_dispatch"]["inputs"]
    assert sorted(inputs) == ["reason", "stages", "unfreeze", "until"]
    assert inputs["stages"]["default"] == "all"
    job = freeze["jobs"]["freeze"]
    assert job["permissions"] == {"contents": "write", "actions": "write"}
    [step] = [s for s in job["steps"] if s.get("name") == "Freeze"]
    assert step["uses"].startswith("kargo-actions/kargo-actions/actions/freeze@")
    assert step["with"]["dispatch-workflow"] == "kargo-promote.yml"
    action = YAML(typ="safe").load((REPO_ROOT / "actions" / "freeze" / "action.yml").read_text())
    assert set(step["with"]) <= set(action["inputs"])
    for args in (
        [tool("zizmor"), "--offline", "--no-progress", str(workflows / "kargo-freeze.yml")],
        [tool("actionlint"), "-no-color", str(workflows / "kargo-freeze.yml")],
    ):
        done = subprocess.run(args, capture_output=True, text=True, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr


def test_promotion_windows_bring_the_reconcile_workflow(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path, policies=[{"stage": "staging", "autoPromotionEnabled": True}])
    config = next(p for p in (repo / ".kargo").glob("*.yaml") if '"ProjectConfig"' in p.read_text())
    doc = json.loads(config.read_text())
    doc["spec"]["promotionWindows"] = [WINDOW]
    config.write_text(json.dumps(doc))
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "")[0] == 0
    assert (repo / ".github" / "workflows" / "kargo-reconcile.yml").exists()


def test_unfreeze_dispatches_the_auto_promotions_the_freeze_deferred(
    tmp_path: Path, github: GitHubServer
) -> None:
    repo = _pipeline(tmp_path, policies=[{"stage": "dev", "autoPromotionEnabled": True}])
    newest = record(repo, 1, 1)
    github.commit_files(REPOSITORY, "main", {"README": "x"})
    github.add_workflow(REPOSITORY, ".github/workflows/kargo-promote.yml", "kargo-promote")
    env = {"GITHUB_API_URL": github.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPOSITORY}
    assert run(repo, "freeze", "--stage", "dev", "--reason", "incident 7")[0] == 0
    code, out, err = run(repo, "-o", "json", "promote", "--auto", "--stage", "dev")
    assert code == 0, err
    assert json.loads(out)[0]["action"] == "deferred"
    code, _, err = run(
        repo,
        "unfreeze",
        "--stage",
        "dev",
        "--dispatch-workflow",
        "kargo-promote.yml",
        "--ref",
        "main",
        env=env,
    )
    assert code == 0, err
    assert "dispatched kargo-promote.yml for dev" in err
    [sent] = github.repo(REPOSITORY).dispatches
    assert (sent.workflow_path, sent.inputs) == (
        ".github/workflows/kargo-promote.yml",
        {"stage": "dev", "freight": newest, "auto": "true"},
    )


def test_verify_job_can_roll_back_when_a_stage_has_auto_rollback(tmp_path: Path) -> None:
    from tests.ledger.helpers import make_repo
    from tests.promotion.test_service import write
    from tests.verification.test_cli import pipeline

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    write(repo, pipeline("http://127.0.0.1:9"))
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "")[0] == 0
    promote = repo / ".github" / "workflows" / "kargo-promote.yml"
    plain = load_yaml(promote)["jobs"]["verify"]["permissions"]
    assert "deployments" not in plain
    docs = pipeline("http://127.0.0.1:9")
    docs.append(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ProjectConfig",
            "metadata": {"name": "p"},
            "spec": {"promotionPolicies": [{"stage": "dev", "autoRollback": {}}]},
        }
    )
    write(repo, docs)
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "")[0] == 0
    verify = load_yaml(promote)["jobs"]["verify"]
    # the rollback runs the Stage's promotion steps here: the promote job's rights, write winning over read
    assert verify["permissions"]["contents"] == "write"
    assert verify["permissions"]["deployments"] == "write"
    assert verify["permissions"]["statuses"] == "write"
    for args in (
        [tool("zizmor"), "--offline", "--no-progress", str(promote)],
        [tool("actionlint"), "-no-color", str(promote)],
    ):
        done = subprocess.run(args, capture_output=True, text=True, cwd=repo)
        assert done.returncode == 0, done.stdout + done.stderr
