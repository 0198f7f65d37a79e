"""A sharded kargo-discover.yml (more Warehouses than Settings discoveryShardThreshold): a plan job whose
`discover --plan-groups` JSON is the matrix, a job per Warehouse group with its caches kept by a pinned
actions/cache, no fail-fast; zizmor and actionlint clean; at or below the threshold, one job as before."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.github.test_workflows_gen import PINNED, _pipeline
from tests.promotion.test_service import run
from tests.support.workflow_tools import load_yaml, tool

SHA_PIN = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684"


def _warehouse(name: str, sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": {"name": name},
        "spec": {"interval": "10m", "subscriptions": [sub]},
    }


MORE = [
    _warehouse("web", {"git": {"repoURL": "https://github.com/acme/app.git", "includePaths": ["web"]}}),
    _warehouse("api", {"git": {"repoURL": "https://github.com/acme/app.git", "includePaths": ["api"]}}),
    _warehouse("worker", {"image": {"repoURL": "quay.io/acme/worker"}}),
]


def _settings(threshold: int) -> dict[str, Any]:
    return {"discoveryShardThreshold": threshold}


def _generate(repo: Path) -> dict[str, Any]:
    code, _out, err = run(
        repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "https://github.com/acme/app"
    )
    assert code == 0, err
    return load_yaml(repo / ".github/workflows/kargo-discover.yml")


def test_over_the_threshold_discovery_fans_out_as_a_matrix(tmp_path: Path) -> None:
    repo = _pipeline(
        tmp_path, MORE, policies=[{"stage": "dev", "autoPromotionEnabled": True}], settings=_settings(2)
    )
    discover = _generate(repo)
    jobs = discover["jobs"]
    assert list(jobs) == ["plan", "discover"]
    plan_step = jobs["plan"]["steps"][-1]
    assert plan_step["with"]["command"] == "discover --plan-groups"
    assert jobs["plan"]["outputs"]["plan"] == "${{ steps.plan.outputs.result }}"
    assert jobs["plan"]["permissions"] == {"contents": "read"}
    job = jobs["discover"]
    assert job["needs"] == "plan"
    assert job["if"] == "${{ fromJSON(needs.plan.outputs.plan).count > 0 }}"
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.plan.outputs.plan).groups }}"
    assert job["permissions"] == {"contents": "write", "actions": "write"}
    steps = {s.get("name"): s for s in job["steps"]}
    cache = steps["Restore the group's discovery caches"]
    assert cache["uses"] == SHA_PIN  # the comment (# v4.2.3) is YAML's, not the value's
    assert cache["with"]["path"] == "${{ runner.temp }}/kargo-actions-cache"
    assert cache["with"]["key"].startswith("kargo-discover-${{ matrix.key }}-")
    assert cache["with"]["restore-keys"] == "kargo-discover-${{ matrix.key }}-"
    step = steps["Discover"]
    assert step["env"]["KARGO_ACTIONS_CACHE"] == cache["with"]["path"]
    assert step["with"]["warehouses"] == "${{ matrix.warehouses }}"
    assert step["with"]["dispatch-auto-promotions"] == "true"
    missed = steps["Name the Warehouses not discovered"]
    assert missed["if"] == "${{ failure() }}"
    assert "${{" not in missed["run"]  # the group's names reach the shell through env only
    assert "GITHUB_STEP_SUMMARY" in missed["run"]
    # the triggers are those of one job: routing happens in the plan job
    assert discover["on"]["push"]["paths"] == ["api", "api/**", "web", "web/**"]
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


def test_at_the_threshold_one_job_discovers_everything(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path, MORE, settings=_settings(4))  # app, web, api, worker: 4
    jobs = _generate(repo)["jobs"]
    assert list(jobs) == ["discover"]
    assert "strategy" not in jobs["discover"]


def test_plan_groups_prints_the_matrix_of_the_event(tmp_path: Path) -> None:
    repo = _pipeline(tmp_path, MORE, settings=_settings(1))
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "ref": "refs/heads/main",
                "repository": {"clone_url": "https://github.com/acme/app.git", "default_branch": "main"},
                "commits": [{"added": ["web/index.html"], "modified": [], "removed": []}],
            }
        )
    )
    args = ["--output", "json", "discover", "--plan-groups", "--event", str(event)]
    code, out, err = run(repo, *args, "--event-name", "push")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["count"] == 1
    (group,) = plan["groups"]
    assert group["warehouses"] == "web"  # api shares its group (one repository) but its paths did not change
    assert sorted(plan["skipped"]) == ["api", "app", "worker"]
    # GITHUB_EVENT_NAME / GITHUB_EVENT_PATH are the defaults, as in the plan job
    env = {"GITHUB_EVENT_NAME": "repository_dispatch", "GITHUB_EVENT_PATH": str(event)}
    event.write_text(json.dumps({"client_payload": {"repositories": ["quay.io/acme/worker"]}}))
    code, out, err = run(repo, "--output", "json", "discover", "--plan-groups", env=env)
    assert code == 0, err
    assert [g["warehouses"] for g in json.loads(out)["groups"]] == ["worker"]
    event.write_text(json.dumps({"client_payload": {"warehouses": "nope"}}))
    code, out, err = run(repo, "discover", "--plan-groups", env=env)
    assert code == 2
    assert "client_payload.warehouses: no Warehouse 'nope'" in err
    event.write_text("{not json")
    code, out, err = run(repo, "discover", "--plan-groups", env=env)
    assert code == 2
    assert "the event is not JSON" in err
    assert "Traceback" not in err
