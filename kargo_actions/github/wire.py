"""GitHub's REST answers (JSON) as this project's models (github/models.py), one function per resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kargo_actions.github.models import (
    BranchPattern,
    BranchPolicy,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    Environment,
    EnvironmentSpec,
    PullRequest,
    Reviewer,
    WorkflowRun,
)


def pull_from(data: Mapping[str, Any]) -> PullRequest:
    return PullRequest(
        number=int(data["number"]),
        html_url=data["html_url"],
        state=data["state"],
        title=data["title"],
        body=data.get("body") or "",
        head_ref=data["head"]["ref"],
        head_sha=data["head"]["sha"],
        base_ref=data["base"]["ref"],
        base_sha=data["base"]["sha"],
        merged=bool(data.get("merged")),
        mergeable=data.get("mergeable"),
        mergeable_state=data.get("mergeable_state") or "unknown",
        merge_commit_sha=data.get("merge_commit_sha"),
        labels=tuple(label["name"] for label in data.get("labels") or []),
    )


def status_from(data: Mapping[str, Any]) -> CommitStatus:
    return CommitStatus(
        context=data["context"],
        state=data["state"],
        description=data.get("description") or "",
        target_url=data.get("target_url"),
    )


def deployment_from(data: Mapping[str, Any]) -> Deployment:
    payload = data.get("payload")
    return Deployment(
        id=int(data["id"]),
        sha=data["sha"],
        ref=data["ref"],
        environment=data["environment"],
        task=data["task"],
        description=data.get("description") or "",
        payload=payload if isinstance(payload, dict) else {},
    )


def deployment_status_from(deployment_id: int, data: Mapping[str, Any]) -> DeploymentStatus:
    return DeploymentStatus(
        id=int(data["id"]),
        deployment_id=deployment_id,
        state=data["state"],
        description=data.get("description") or "",
        log_url=data.get("log_url") or data.get("target_url") or "",
        environment=data.get("environment") or "",
    )


def run_from(data: Mapping[str, Any]) -> WorkflowRun:
    return WorkflowRun(
        id=int(data["id"]),
        workflow_id=int(data["workflow_id"]),
        html_url=data["html_url"],
        status=data.get("status") or "",
        conclusion=data.get("conclusion"),
        head_sha=data["head_sha"],
        head_branch=data.get("head_branch") or "",
        event=data["event"],
        run_number=int(data["run_number"]),
    )


def pattern_from(data: Mapping[str, Any]) -> BranchPattern:
    return BranchPattern(name=data["name"], type="tag" if data.get("type") == "tag" else "branch")


def environment_from(data: Mapping[str, Any], patterns: tuple[BranchPattern, ...]) -> Environment:
    wait = 0
    reviewers: list[Reviewer] = []
    prevent = False
    for rule in data.get("protection_rules") or []:
        if rule.get("type") == "wait_timer":
            wait = int(rule.get("wait_timer") or 0)
        elif rule.get("type") == "required_reviewers":
            prevent = bool(rule.get("prevent_self_review", False))
            for item in rule.get("reviewers") or []:
                reviewer_id = int(item["reviewer"]["id"])
                reviewers.append(
                    Reviewer("Team", reviewer_id)
                    if item.get("type") == "Team"
                    else Reviewer("User", reviewer_id)
                )
    policy_data = data.get("deployment_branch_policy")
    policy = None
    if policy_data:
        protected = bool(policy_data.get("protected_branches"))
        policy = BranchPolicy(protected_branches=protected, patterns=() if protected else patterns)
    spec = EnvironmentSpec(
        wait_timer=wait, reviewers=tuple(reviewers), prevent_self_review=prevent, branch_policy=policy
    )
    return Environment(id=int(data["id"]), name=data["name"], html_url=data["html_url"], spec=spec)
