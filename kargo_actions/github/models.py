"""Frozen values the GitHub client returns (never PyGithub objects) and the specs it applies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any, Literal

from kargo_actions.struct import struct

MergeMethod = Literal["merge", "squash", "rebase"]
StatusState = Literal["error", "failure", "pending", "success"]
DeploymentState = Literal["error", "failure", "inactive", "in_progress", "queued", "pending", "success"]
Enforcement = Literal["active", "disabled", "evaluate"]

VERIFIED_CONTEXT_PREFIX = "kargo/verified/"
GATE_CONTEXT = "kargo/gate"


def verified_context(stage: str) -> str:
    """The commit status context saying a Freight's commit is verified in `stage`."""
    return f"{VERIFIED_CONTEXT_PREFIX}{stage}"


@struct
class Repository:
    full_name: str
    default_branch: str
    html_url: str
    clone_url: str
    private: bool


@struct
class PullRequest:
    number: int
    html_url: str
    state: str  # open | closed
    title: str
    body: str
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    merged: bool
    mergeable: bool | None  # None while GitHub is still computing it
    mergeable_state: str
    merge_commit_sha: str | None
    labels: tuple[str, ...] = ()

    @property
    def closed_unmerged(self) -> bool:
        return self.state == "closed" and not self.merged


@struct
class MergeResult:
    number: int
    sha: str
    method: MergeMethod


@struct
class CommitStatus:
    context: str
    state: str
    description: str
    target_url: str | None


@struct
class CombinedStatus:
    sha: str
    state: str  # failure | pending | success
    statuses: tuple[CommitStatus, ...]

    def get(self, context: str) -> CommitStatus | None:
        return next((s for s in self.statuses if s.context == context), None)


@struct
class CheckRun:
    id: int
    name: str
    status: str  # queued | in_progress | completed
    conclusion: str | None


@struct
class Deployment:
    id: int
    sha: str
    ref: str
    environment: str
    task: str
    description: str
    payload: Mapping[str, Any] = field(default_factory=dict)


@struct
class DeploymentStatus:
    id: int
    deployment_id: int
    state: str
    description: str
    log_url: str
    environment: str


@struct
class DispatchedRun:
    """The run a workflow_dispatch started, as the dispatch's answer names it (GitHubClient.get_workflow_run
    reads its state)."""

    id: int
    html_url: str


@struct
class WorkflowRun:
    id: int
    workflow_id: int
    html_url: str
    status: str  # queued | in_progress | completed | ...
    conclusion: str | None
    head_sha: str
    head_branch: str
    event: str
    run_number: int

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def succeeded(self) -> bool:
        return self.completed and self.conclusion == "success"


@struct
class Reviewer:
    """A required reviewer of an environment: a user or team id (look ids up with GitHubClient.user_id)."""

    type: Literal["User", "Team"]
    id: int


@struct
class BranchPattern:
    """A custom deployment branch (or tag) policy: which refs may deploy to the environment."""

    name: str
    type: Literal["branch", "tag"] = "branch"


@struct
class BranchPolicy:
    """Deployment branch policy: protected branches only, or the listed patterns."""

    protected_branches: bool = False
    patterns: tuple[BranchPattern, ...] = ()


@struct
class EnvironmentSpec:
    """What an environment should look like; put_environment makes it so."""

    wait_timer: int = 0  # minutes, 0..43200
    reviewers: tuple[Reviewer, ...] = ()
    prevent_self_review: bool = False
    branch_policy: BranchPolicy | None = None  # None: any branch may deploy


@struct
class Environment:
    id: int
    name: str
    html_url: str
    spec: EnvironmentSpec


@struct
class RulesetSpec:
    """A repository ruleset in the terms the product uses; `to_api` gives GitHub's JSON."""

    name: str
    target: Literal["branch", "tag"] = "branch"
    enforcement: Enforcement = "active"
    include: tuple[str, ...] = ("~DEFAULT_BRANCH",)
    exclude: tuple[str, ...] = ()
    required_checks: tuple[str, ...] = ()
    strict_checks: bool = False
    block_creation: bool = False
    block_update: bool = False
    block_deletion: bool = False
    block_force_push: bool = False

    def to_api(self) -> dict[str, Any]:
        rules: list[dict[str, Any]] = []
        for flag, kind in (
            (self.block_creation, "creation"),
            (self.block_update, "update"),
            (self.block_deletion, "deletion"),
            (self.block_force_push, "non_fast_forward"),
        ):
            if flag:
                rules.append({"type": kind})
        if self.required_checks:
            rules.append(
                {
                    "type": "required_status_checks",
                    "parameters": {
                        "strict_required_status_checks_policy": self.strict_checks,
                        "required_status_checks": [{"context": c} for c in self.required_checks],
                    },
                }
            )
        return {
            "name": self.name,
            "target": self.target,
            "enforcement": self.enforcement,
            "conditions": {"ref_name": {"include": list(self.include), "exclude": list(self.exclude)}},
            "rules": rules,
        }

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> RulesetSpec:
        ref_name = (data.get("conditions") or {}).get("ref_name") or {}
        kinds: set[str] = set()
        checks: tuple[str, ...] = ()
        strict = False
        for rule in data.get("rules") or []:
            kinds.add(rule.get("type", ""))
            if rule.get("type") == "required_status_checks":
                params = rule.get("parameters") or {}
                checks = tuple(c["context"] for c in params.get("required_status_checks") or [])
                strict = bool(params.get("strict_required_status_checks_policy", False))
        target = data.get("target", "branch")
        return cls(
            name=str(data["name"]),
            target="tag" if target == "tag" else "branch",
            enforcement=data.get("enforcement", "active"),
            include=tuple(ref_name.get("include") or ()),
            exclude=tuple(ref_name.get("exclude") or ()),
            required_checks=checks,
            strict_checks=strict,
            block_creation="creation" in kinds,
            block_update="update" in kinds,
            block_deletion="deletion" in kinds,
            block_force_push="non_fast_forward" in kinds,
        )


@struct
class Ruleset:
    id: int
    spec: RulesetSpec


@struct
class FileChange:
    """One path in an API commit: new content, or None to delete it."""

    path: str
    content: bytes | None
    executable: bool = False


@struct
class GitCommit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    verified: bool
    html_url: str


@struct
class RateLimit:
    limit: int
    remaining: int
    reset: int  # epoch seconds
