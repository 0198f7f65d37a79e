"""kargo-reconcile.yml and the promote workflow of a pipeline whose promotions wait: triggers from the
manifests (promotion branches, dispatched workflows' names, Settings reconcileInterval), a plan job and one
resume job per Stage in the promote workflow's concurrency group, `wait: "false"` in the promote job, the
GitHub App token step, zizmor and actionlint on the output, digest and user regions."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.github.workflow_parts import GITHUB_APP_ACTION, WAITING_STEPS
from tests.promotion.test_service import manifests, run, write
from tests.support.workflow_tools import load_yaml, tool

PINNED = "kargo-actions/kargo-actions@" + "0123456789abcdef" * 2 + "01234567"
URL = "https://github.com/acme/app.git"
PR_STEPS = [
    {
        "uses": "git-open-pr",
        "as": "pr",
        "config": {"repoURL": URL, "sourceBranch": "release/prod", "targetBranch": "main"},
    },
    {"uses": "git-wait-for-pr", "config": {"repoURL": URL, "prNumber": "${{ outputs.pr.pr.id }}"}},
    {"uses": "argocd-wait", "config": {"apps": [{"name": "prod"}]}},
]
RUN_STEPS = [
    {
        "uses": "gha-dispatch-workflow",
        "as": "smoke",
        "config": {"repoURL": URL, "workflowFile": "smoke.yml", "ref": "main"},
    },
    {
        "uses": "gha-dispatch-workflow",
        "as": "other",
        "config": {"repoURL": "https://github.com/acme/tests.git", "workflowFile": "e2e.yml", "ref": "main"},
    },
    {"uses": "gha-wait-for-workflow", "config": {"repoURL": URL, "runID": "${{ outputs.smoke.runID }}"}},
]
PERMISSIONS = {
    "contents": "write",
    "deployments": "write",
    "statuses": "write",
    "pull-requests": "write",
    "checks": "read",
    "actions": "write",
}


def _waiting_pipeline(
    tmp_path: Path, settings: dict[str, Any] | None = None, run_steps: list[dict[str, Any]] = RUN_STEPS
) -> Path:
    from tests.ledger.helpers import make_repo

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    docs = manifests(policies=[{"stage": "staging", "autoPromotionEnabled": True}], settings=settings)
    docs[3]["spec"]["promotionTemplate"]["spec"]["steps"] = copy.deepcopy(run_steps)
    docs[4]["spec"]["promotionTemplate"]["spec"]["steps"] = copy.deepcopy(PR_STEPS)
    write(repo, docs)
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "smoke.yml").write_text(
        "name: smoke tests\non: workflow_dispatch\npermissions: {}\njobs:\n  smoke:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ok\n"
    )
    return repo


def _generate(repo: Path, *args: str) -> tuple[int, str, str]:
    return run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", URL, *args)


def test_reconcile_workflow_resumes_on_the_events_that_can_move_a_promotion(tmp_path: Path) -> None:
    repo = _waiting_pipeline(tmp_path, {"reconcileInterval": "30m"})
    code, out, err = _generate(repo)
    assert code == 0, err
    assert "kargo-reconcile.yml" in out
    workflow = load_yaml(repo / ".github/workflows/kargo-reconcile.yml")
    on = workflow["on"]
    assert on["pull_request"] == {"types": ["closed"]}
    # by the dispatched workflow's name; the other repository's workflow sends no workflow_run here
    assert on["workflow_run"] == {"workflows": ["smoke tests"], "types": ["completed"]}
    assert on["repository_dispatch"] == {"types": ["kargo-reconcile"]}
    assert on["schedule"] == [{"cron": "*/30 * * * *"}]
    assert on["workflow_dispatch"]["inputs"]["stage"]["default"] == ""
    assert workflow["permissions"] == {}

    plan = workflow["jobs"]["plan"]
    assert plan["if"] == (
        "github.event_name != 'pull_request' || (github.event.pull_request.head.repo.full_name == "
        "github.repository && (startsWith(github.event.pull_request.head.ref, 'kargo/promotion/') || "
        "github.event.pull_request.head.ref == 'release/prod'))"
    )
    assert plan["permissions"] == {"contents": "read"}
    assert plan["outputs"] == {"stages": "${{ steps.plan.outputs.stages }}"}
    checkout = plan["steps"][0]
    assert checkout["with"]["ref"].startswith("${{ github.event_name == 'pull_request' && ")
    assert checkout["with"]["persist-credentials"] is False
    step = plan["steps"][-1]
    assert step["uses"] == PINNED.replace("@", "/actions/reconcile@")
    assert step["with"]["plan"] == "true"

    resume = workflow["jobs"]["resume"]
    assert resume["needs"] == "plan"
    assert resume["strategy"] == {
        "fail-fast": False,
        "matrix": {"stage": "${{ fromJSON(needs.plan.outputs.stages) }}"},
    }
    # the group of the promote workflow: one Stage is never promoted and resumed at once
    promote = load_yaml(repo / ".github/workflows/kargo-promote.yml")
    assert resume["concurrency"] == {
        "group": "kargo-promote-${{ matrix.stage }}",
        "cancel-in-progress": False,
    }
    assert promote["concurrency"]["group"] == "kargo-promote-${{ inputs.stage }}"
    assert resume["environment"] == {"name": "${{ matrix.stage }}", "deployment": False}
    assert resume["permissions"] == promote["jobs"]["promote"]["permissions"] == PERMISSIONS
    step = resume["steps"][-1]
    assert step["env"]["ARGOCD_AUTH_TOKEN"] == "${{ secrets.ARGOCD_AUTH_TOKEN }}"
    assert step["with"] == {
        "config-dir": ".kargo",
        "stage": "${{ matrix.stage }}",
        "dispatch-workflow": "kargo-promote.yml",  # staging auto-promotes
    }

    with_ = promote["jobs"]["promote"]["steps"][-1]["with"]
    assert (with_["wait"], with_["reconcile-workflow"]) == ("false", "kargo-reconcile.yml")


def test_a_pipeline_that_never_waits_gets_no_reconcile_workflow(tmp_path: Path) -> None:
    from tests.ledger.helpers import make_repo

    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    write(repo, manifests())
    assert _generate(repo)[0] == 0
    assert not (repo / ".github/workflows/kargo-reconcile.yml").exists()
    with_ = load_yaml(repo / ".github/workflows/kargo-promote.yml")["jobs"]["promote"]["steps"][-1]["with"]
    assert "wait" not in with_  # the promote action's default: the job waits


def test_waiting_steps_are_the_registrys_steps_that_may_wait() -> None:
    from kargo_actions.promotion.registry import get_step, step_names
    from kargo_actions.promotion.step_api import may_wait

    assert {n for n in step_names() if may_wait(get_step(n))} == WAITING_STEPS


def test_no_workflow_run_trigger_when_the_workflow_is_named_by_an_expression(tmp_path: Path) -> None:
    steps = copy.deepcopy(RUN_STEPS)
    steps[0]["config"]["workflowFile"] = "${{ vars.workflow }}"
    repo = _waiting_pipeline(tmp_path, run_steps=steps)
    assert _generate(repo)[0] == 0
    text = (repo / ".github/workflows/kargo-reconcile.yml").read_text()
    assert "workflow_run" not in load_yaml(repo / ".github/workflows/kargo-reconcile.yml")["on"]
    assert "# no workflow_run: the gha-dispatch-workflow steps name their workflow by expression" in text


@pytest.mark.parametrize(
    ("settings", "flags", "app_id", "key"),
    [
        (
            {"githubApp": {"appIdVariable": "RELEASE_APP_ID", "privateKeySecret": "RELEASE_KEY"}},
            [],
            "RELEASE_APP_ID",
            "RELEASE_KEY",
        ),
        (None, ["--github-app"], "KARGO_APP_ID", "KARGO_APP_PRIVATE_KEY"),
        ({"githubApp": {}}, ["--no-github-app"], "", ""),  # the flag wins over Settings
    ],
    ids=["settings", "flag", "flag-off"],
)
def test_github_app_token_in_the_promote_and_resume_jobs(
    tmp_path: Path, settings: dict[str, Any] | None, flags: list[str], app_id: str, key: str
) -> None:
    repo = _waiting_pipeline(tmp_path, settings)
    code, _, err = _generate(repo, *flags)
    assert code == 0, err
    promote = load_yaml(repo / ".github/workflows/kargo-promote.yml")["jobs"]["promote"]
    resume = load_yaml(repo / ".github/workflows/kargo-reconcile.yml")["jobs"]["resume"]
    for job, action in ((promote, "promote"), (resume, "reconcile")):
        names = [s["name"] for s in job["steps"]]
        if not app_id:
            assert "github-token" not in job["steps"][-1]["with"]
            assert job["permissions"] == PERMISSIONS
            assert all(s.get("id") != "app-token" for s in job["steps"])
            continue
        token = next(s for s in job["steps"] if s.get("id") == "app-token")
        assert token["uses"] == GITHUB_APP_ACTION.split(" #")[0]
        assert token["with"]["app-id"] == f"${{{{ vars.{app_id} }}}}"
        assert token["with"]["private-key"] == f"${{{{ secrets.{key} }}}}"
        # the token gets what the job would need; GITHUB_TOKEN only checks out
        assert {
            k.removeprefix("permission-"): v for k, v in token["with"].items() if k.startswith("permission-")
        } == PERMISSIONS
        assert job["permissions"] == {"contents": "read"}
        assert names.index(token["name"]) < names.index("Promote" if action == "promote" else "Resume")
        assert job["steps"][-1]["with"]["github-token"] == "${{ steps.app-token.outputs.token }}"
        assert job["steps"][-1]["uses"] == PINNED.replace("@", f"/actions/{action}@")
    plan = load_yaml(repo / ".github/workflows/kargo-reconcile.yml")["jobs"]["plan"]
    assert all(s.get("id") != "app-token" for s in plan["steps"])  # reading the ledger needs no App


def test_app_create_token_action_is_pinned_to_a_release_commit() -> None:
    uses, _, comment = GITHUB_APP_ACTION.partition(" # ")
    assert uses == "actions/create-github-app-token@fee1f7d63c2ff003460e3d139729b119787bc349"
    assert comment == "v2.2.2"


def test_app_repositories_include_this_repository(tmp_path: Path) -> None:
    repo = _waiting_pipeline(tmp_path, {"githubApp": {"owner": "acme", "repositories": ["config"]}})
    assert _generate(repo)[0] == 0
    token = load_yaml(repo / ".github/workflows/kargo-promote.yml")["jobs"]["promote"]["steps"][2]
    assert (token["with"]["owner"], token["with"]["repositories"]) == ("acme", "app,config")
    # without this repository's URL the token's repositories cannot name it: exit 2, nothing written
    (repo / ".github/workflows/kargo-promote.yml").unlink()
    code, _, err = run(repo, "workflows", "generate", "--repository-url", "")
    assert code == 2
    assert "githubApp.repositories" in err
    assert "--repository-url" in err
    assert not (repo / ".github/workflows/kargo-promote.yml").exists()


def test_zizmor_and_actionlint_pass_on_the_waiting_pipelines_workflows(tmp_path: Path) -> None:
    repo = _waiting_pipeline(tmp_path, {"githubApp": {}})
    assert _generate(repo, "--dashboard")[0] == 0
    workflows = repo / ".github" / "workflows"
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(workflows)], capture_output=True, text=True
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    lint = subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, sorted(workflows.glob("*.yml")))],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert set(load_yaml(workflows / "kargo-reconcile.yml")["jobs"]) == {"plan", "resume"}


def test_reconcile_workflow_keeps_user_regions_and_refuses_other_edits(tmp_path: Path) -> None:
    repo = _waiting_pipeline(tmp_path)
    path = repo / ".github/workflows/kargo-reconcile.yml"
    assert _generate(repo)[0] == 0
    first = path.read_text()
    mine = "      - name: Notify\n        run: echo resumed\n"
    marker = "      # kargo-actions: end user after-reconcile\n"
    path.write_text(first.replace(marker, mine + marker))
    code, out, err = _generate(repo, "--check")
    assert code == 0, out + err  # a user region's edit is not staleness
    (repo / ".kargo" / "99.yaml").write_text(
        '{"apiVersion": "kargo-actions/v1alpha1", "kind": "Settings", "metadata": {"name": "settings"},'
        ' "spec": {"reconcileInterval": "1h"}}'
    )
    code, out, _ = _generate(repo, "--check")
    assert (code, "stale" in out) == (1, True)
    assert _generate(repo)[0] == 0
    workflow = load_yaml(path)
    assert workflow["on"]["schedule"] == [{"cron": "0 */1 * * *"}]
    assert workflow["jobs"]["resume"]["steps"][-1]["name"] == "Notify"

    path.write_text(path.read_text().replace("timeout-minutes: 10", "timeout-minutes: 20"))
    code, _, err = _generate(repo)
    assert code == 2
    assert "kargo-reconcile.yml" in err
    assert "edited outside" in err


def test_a_waiting_promotion_is_not_verified_by_the_promote_workflow(tmp_path: Path) -> None:
    """prod verifies: the verify job runs only for a promotion that finished, not for one left waiting
    (the promote action's `waiting` output reaches the job's outputs)."""
    repo = _waiting_pipeline(tmp_path)
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "smoke"},
        "spec": {"metrics": [{"name": "up", "provider": {"web": {"url": "http://127.0.0.1:1/health"}}}]},
    }
    (repo / ".kargo" / "98.yaml").write_text(json.dumps(template))
    stage_file = repo / ".kargo" / "04.yaml"
    prod = json.loads(stage_file.read_text())
    assert prod["metadata"]["name"] == "prod"
    prod["spec"]["verification"] = {"analysisTemplates": [{"name": "smoke"}]}
    stage_file.write_text(json.dumps(prod))
    code, _, err = _generate(repo)
    assert code == 0, err
    jobs = load_yaml(repo / ".github/workflows/kargo-promote.yml")["jobs"]
    assert jobs["promote"]["outputs"]["waiting"] == "${{ steps.promote.outputs.waiting }}"
    assert jobs["verify"]["if"].startswith(
        "needs.promote.outputs.promotion != '' && needs.promote.outputs.waiting != 'true' && "
    )


def test_pull_request_filter_takes_literal_source_branches_only(tmp_path: Path) -> None:
    repo = _waiting_pipeline(tmp_path)
    stage_file = repo / ".kargo" / "04.yaml"
    prod = json.loads(stage_file.read_text())
    steps = prod["spec"]["promotionTemplate"]["spec"]["steps"]
    steps[0]["config"]["sourceBranch"] = "it's/prod"
    steps.insert(0, copy.deepcopy(steps[0]))
    steps[0]["config"]["sourceBranch"] = "${{ outputs.push.branch }}"  # evaluated per promotion: not listed
    steps[0]["as"] = "pr0"
    steps.insert(0, copy.deepcopy(steps[1]))
    steps[0]["config"]["sourceBranch"] = "kargo/promotion/fixed"  # the prefix covers it
    steps[0]["as"] = "pr1"
    stage_file.write_text(json.dumps(prod))
    code, _, err = _generate(repo)
    assert code == 0, err
    condition = load_yaml(repo / ".github/workflows/kargo-reconcile.yml")["jobs"]["plan"]["if"]
    assert condition.endswith(
        "(startsWith(github.event.pull_request.head.ref, 'kargo/promotion/') || "
        "github.event.pull_request.head.ref == 'it''s/prod'))"
    )
    lint = subprocess.run(
        [tool("actionlint"), "-no-color", str(repo / ".github/workflows/kargo-reconcile.yml")],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
