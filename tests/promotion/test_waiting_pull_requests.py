"""A promotion through a reviewed pull request, without a waiting runner, against the GitHub test server
(every exchange checked against GitHub's OpenAPI description): `promote --no-wait` opens the pull request and
stops at git-wait-for-pr with the Deployment in progress; the `pull_request` closed event of another pull
request moves nothing; the merge's event resumes it (Succeeded, the Deployment succeeds); a pull request closed
without merging fails it, as Kargo's step does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from kargo_actions.ledger import Ledger, LedgerConfig
from kargo_actions.ledger.records import PromotionRecord, StageStateRecord
from tests.ledger.helpers import make_freight
from tests.promotion import test_github_reporting as reporting_tests
from tests.promotion.test_github_reporting import (
    APP_URL,
    REPOSITORY,
    client_for,
    github_env,
    ledger_log,
    record,
    statuses,
)
from tests.promotion.test_service import run, write
from tests.support.github_server import GitHubServer

# The GitHub test server and the pipeline repository whose remote is its bare acme/app (fixtures).
github_contract = reporting_tests.github_contract
gh = reporting_tests.gh
repo = reporting_tests.repo

REVIEW_STEPS: list[dict[str, Any]] = [
    {
        "uses": "git-open-pr",
        "as": "open-pr",
        "config": {"repoURL": APP_URL, "sourceBranch": "promo/review", "targetBranch": "main"},
    },
    {
        "uses": "git-wait-for-pr",
        "as": "wait-for-pr",
        "config": {"repoURL": APP_URL, "prNumber": "${{ outputs['open-pr'].pr.id }}"},
    },
    {"uses": "compose-output", "as": "merged", "config": {"commit": "${{ outputs['wait-for-pr'].commit }}"}},
]


def pipeline() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Project", "metadata": {"name": "p"}},
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app"},
            "spec": {"subscriptions": [{"image": {"repoURL": "ghcr.io/example/app"}}]},
        },
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "review"},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
                ],
                "promotionTemplate": {"spec": {"steps": REVIEW_STEPS}},
            },
        },
    ]


def event(tmp_path: Path, name: str, payload: dict[str, Any]) -> dict[str, str]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(payload))
    return {"GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path)}


def closed_event(tmp_path: Path, number: int, merged: bool) -> dict[str, str]:
    return event(
        tmp_path,
        "pull_request",
        {
            "action": "closed",
            "number": number,
            "pull_request": {"number": number, "merged": merged, "head": {"ref": "promo/review"}},
            "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        },
    )


def stage_state(repo: Path) -> StageStateRecord:
    with Ledger(repo, LedgerConfig()) as ledger:
        ledger.sync()
        return ledger.stage_state("review")


def start(gh: GitHubServer, repo: Path) -> tuple[str, int]:
    shutil.rmtree(repo / ".kargo")
    write(repo, pipeline())
    record(repo, make_freight(1, alias="f-1"))
    gh.commit_files(REPOSITORY, "promo/review", {"env/review.yaml": "image: v1\n"})
    code, out, err = run(
        repo, "-o", "json", "promote", "-s", "review", "-f", "f-1", "--no-wait", env=github_env(gh)
    )
    assert code == 0, err
    [result] = json.loads(out)
    assert result["phase"] == "Running"
    wait = result["wait"]
    assert (wait["kind"], wait["step"], wait["description"]) == (
        "pull-request",
        "wait-for-pr",
        "PR #1 to be merged",
    )
    assert wait["number"] == 1
    return result["name"], wait["number"]


def test_the_merge_event_resumes_the_promotion(gh: GitHubServer, repo: Path, tmp_path: Path) -> None:
    name, number = start(gh, repo)
    client = client_for(gh)
    [deployment] = client.list_deployments(environment="review")
    assert [s for s, _ in statuses(client, deployment.id)] == ["in_progress", "in_progress"]
    assert "Waiting for PR #1 to be merged" in client.deployment_statuses(deployment.id)[0].description
    assert stage_state(repo).active_promotion == name

    # another pull request's event: nothing looked at, nothing written
    writes = len(ledger_log(gh))
    env = {**github_env(gh), **closed_event(tmp_path, number + 41, merged=True)}
    code, out, err = run(repo, "-o", "json", "reconcile", env=env)
    assert (code, json.loads(out)) == (0, []), err
    assert len(ledger_log(gh)) == writes

    client.merge_pull_request(number)
    env = {**github_env(gh), **closed_event(tmp_path, number, merged=True)}
    code, out, err = run(repo, "-o", "json", "reconcile", env=env)
    assert code == 0, err
    [action] = json.loads(out)
    assert (action["promotion"], action["action"], action["phase"]) == (name, "resumed", "Succeeded")
    state = stage_state(repo)
    assert [c.name for c in state.current_freight] == [make_freight(1).name]
    assert state.active_promotion is None
    # the Deployment the promotion began with ends: one Deployment for one promotion
    [again] = client.list_deployments(environment="review")
    assert again.id == deployment.id
    assert [s for s, _ in statuses(client, deployment.id)][-1] == "success"


def test_a_pull_request_closed_without_merging_fails_the_promotion(
    gh: GitHubServer, repo: Path, tmp_path: Path
) -> None:
    name, number = start(gh, repo)
    client = client_for(gh)
    client.close_pull_request(number)
    env = {**github_env(gh), **closed_event(tmp_path, number, merged=False)}
    code, out, err = run(repo, "-o", "json", "reconcile", env=env)
    assert code == 1, err
    [action] = json.loads(out)
    assert (action["promotion"], action["action"], action["phase"]) == (name, "resumed", "Failed")
    state = stage_state(repo)
    assert state.current_freight == []
    assert state.active_promotion is None
    [deployment] = client.list_deployments(environment="review")
    assert [s for s, _ in statuses(client, deployment.id)][-1] == "failure"


def test_a_resumed_promotion_dispatches_downstream_auto_promotions(
    gh: GitHubServer, repo: Path, tmp_path: Path
) -> None:
    """After the merge resumes review to Succeeded, `reconcile --dispatch-workflow` dispatches the promote
    workflow for the Stage fed by review that auto-promotes, as the promote action does after a promotion."""
    docs = pipeline()
    docs.append(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "after"},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"stages": ["review"]}}
                ],
                "promotionTemplate": {"spec": {"steps": [{"uses": "compose-output", "config": {"x": "y"}}]}},
            },
        }
    )
    docs.append(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ProjectConfig",
            "metadata": {"name": "p"},
            "spec": {"promotionPolicies": [{"stage": "after", "autoPromotionEnabled": True}]},
        }
    )
    shutil.rmtree(repo / ".kargo")
    write(repo, docs)
    freight = record(repo, make_freight(1, alias="f-1"))
    gh.commit_files(REPOSITORY, "promo/review", {"env/review.yaml": "image: v1\n"})
    gh.add_workflow(REPOSITORY, ".github/workflows/kargo-promote.yml", "kargo-promote")
    code, out, err = run(
        repo, "-o", "json", "promote", "-s", "review", "-f", "f-1", "--no-wait", env=github_env(gh)
    )
    assert code == 0, err
    [result] = json.loads(out)
    assert gh.repo(REPOSITORY).dispatches == []
    client_for(gh).merge_pull_request(result["wait"]["number"])
    env = {**github_env(gh), **closed_event(tmp_path, result["wait"]["number"], merged=True)}
    code, out, err = run(repo, "-o", "json", "reconcile", "--dispatch-workflow", "kargo-promote.yml", env=env)
    assert code == 0, err
    assert [a["phase"] for a in json.loads(out)] == ["Succeeded"]
    [dispatch] = gh.repo(REPOSITORY).dispatches
    assert dispatch.workflow_path == ".github/workflows/kargo-promote.yml"
    assert dispatch.inputs == {"stage": "after", "freight": freight.name, "auto": "true"}
    assert dispatch.ref == "main"
    assert "dispatched kargo-promote.yml for after" in err


def test_the_merge_event_that_frees_the_stage_starts_its_queue(
    gh: GitHubServer, repo: Path, tmp_path: Path
) -> None:
    name, number = start(gh, repo)
    second = record(repo, make_freight(2, alias="f-2"))
    code, out, err = run(
        repo, "-o", "json", "promote", "-s", "review", "-f", "f-2", "--no-wait", "--queue", env=github_env(gh)
    )
    assert code == 0, err
    queued = json.loads(out)[0]["name"]
    assert stage_state(repo).pending_promotions == [queued]
    client = client_for(gh)
    client.merge_pull_request(number)
    gh.commit_files(
        REPOSITORY, "promo/review", {"env/review.yaml": "image: v2\n"}
    )  # the next change to review
    env = {**github_env(gh), **closed_event(tmp_path, number, merged=True)}
    code, out, err = run(repo, "-o", "json", "reconcile", env=env)
    assert code == 0, err
    actions = json.loads(out)
    assert [(a["promotion"], a["action"], a["phase"]) for a in actions] == [
        (name, "resumed", "Succeeded"),
        (queued, "started", "Running"),  # it opened the next pull request and waits for it
    ]
    assert actions[1]["wait"]["number"] == number + 1
    state = stage_state(repo)
    assert state.active_promotion == queued
    assert state.pending_promotions == []
    assert [c.name for c in state.current_freight] == [make_freight(1).name]
    assert second.name != make_freight(1).name


def test_resume_of_a_promotion_another_process_runs_is_refused_and_left_alone(
    gh: GitHubServer, repo: Path
) -> None:
    name, _number = start(gh, repo)
    # the record as a live process running its steps would leave it: a runner with a lease, no wait
    with Ledger(repo, LedgerConfig()) as ledger:
        from kargo_actions.ledger.records import RunnerRecord, dump_record
        from kargo_actions.ledger.store import WritePlan

        def take(snap: Any) -> WritePlan[None]:
            found = snap.load(PromotionRecord, f"promotions/review/{name}.json")
            runner = RunnerRecord(
                host="elsewhere",
                pid=1,
                claimed_at="2026-01-01T00:00:00Z",
                lease_expires_at="2999-01-01T00:00:00Z",
            )
            taken = found.model_copy(update={"wait": None, "runner": runner})
            return WritePlan(
                summary="test", files={f"promotions/review/{name}.json": dump_record(taken)}, result=None
            )

        ledger.write(take)
    code, _out, err = run(repo, "promote", "--resume", name, env=github_env(gh))
    assert code == 3
    assert "being run by another process" in err
    with Ledger(repo, LedgerConfig()) as ledger:
        ledger.sync()
        kept = ledger.snapshot().load(PromotionRecord, f"promotions/review/{name}.json")
    assert kept is not None
    assert kept.phase == "Running"
    assert kept.runner is not None


def _claimed_by(repo: Path, name: str, runner: Any) -> None:
    """The record as a process running the promotion's steps leaves it: a runner with a lease, no wait."""
    from kargo_actions.ledger.records import dump_record
    from kargo_actions.ledger.store import WritePlan

    def take(snap: Any) -> WritePlan[None]:
        found = snap.load(PromotionRecord, f"promotions/review/{name}.json")
        taken = found.model_copy(update={"wait": None, "runner": runner})
        return WritePlan(
            summary="test", files={f"promotions/review/{name}.json": dump_record(taken)}, result=None
        )

    with Ledger(repo, LedgerConfig()) as ledger:
        ledger.write(take)


def test_a_promotion_whose_actions_run_is_over_is_closed_at_once(gh: GitHubServer, repo: Path) -> None:
    """Its runner is on another machine with a lease far from over, but GitHub says its run was cancelled."""
    from kargo_actions.ledger.records import RunnerRecord

    name, _number = start(gh, repo)
    workflow = gh.add_workflow(REPOSITORY, ".github/workflows/kargo-promote.yml", "kargo-promote")
    run_id = client_for(gh).dispatch_workflow(workflow.path.rsplit("/", 1)[-1], ref="main", inputs={}).id
    gh.finish_run(REPOSITORY, run_id, "cancelled")
    runner = RunnerRecord(
        host="elsewhere",
        pid=1,
        run_id=str(run_id),
        repository=REPOSITORY,
        claimed_at="2026-01-01T00:00:00Z",
        lease_expires_at="2999-01-01T00:00:00Z",
    )
    _claimed_by(repo, name, runner)
    code, out, err = run(repo, "-o", "json", "reconcile", env=github_env(gh))
    assert code == 0, err
    [action] = json.loads(out)
    assert action["action"] == "closed"
    assert f"Actions run {run_id} is over: cancelled" in action["reason"]
    state = stage_state(repo)
    assert state.active_promotion is None
