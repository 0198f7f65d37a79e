"""Which token permission each GitHub operation of the product needs (also the source of docs/github.md's table)."""

from __future__ import annotations

import enum

from kargo_actions.struct import struct


class Op(enum.Enum):
    READ_REPOSITORY = "read_repository"
    OPEN_PULL_REQUEST = "open_pull_request"
    READ_PULL_REQUEST = "read_pull_request"
    LABEL_PULL_REQUEST = "label_pull_request"
    MERGE_PULL_REQUEST = "merge_pull_request"
    CREATE_STATUS = "create_status"
    READ_STATUSES = "read_statuses"
    READ_CHECK_RUNS = "read_check_runs"
    CREATE_DEPLOYMENT = "create_deployment"
    READ_DEPLOYMENTS = "read_deployments"
    DISPATCH_WORKFLOW = "dispatch_workflow"
    READ_WORKFLOW_RUNS = "read_workflow_runs"
    READ_ENVIRONMENTS = "read_environments"
    WRITE_ENVIRONMENTS = "write_environments"
    READ_RULESETS = "read_rulesets"
    WRITE_RULESETS = "write_rulesets"
    WRITE_CONTENTS = "write_contents"
    READ_CONTENTS = "read_contents"
    READ_USERS = "read_users"
    READ_TEAMS = "read_teams"


@struct
class Permission:
    """What an operation does (for messages) and the permission it needs, in each token's terms."""

    action: str  # completes "the token cannot ..."
    resource: str  # fine-grained / App permission name, as in a workflow's `permissions:` (with _ for -)
    level: str  # read | write
    classic_scope: str  # the classic PAT scope
    github_token: bool  # whether the Actions GITHUB_TOKEN can be granted it

    @property
    def needed(self) -> str:
        return f"`{self.resource}: {self.level}`"

    @property
    def workflow_permission(self) -> str:
        """What a workflow's `permissions:` block must say for GITHUB_TOKEN to have it."""
        if not self.github_token:
            return "never"
        if self.resource == "metadata":
            return "always granted"
        return f"`{self.resource.replace('_', '-')}: {self.level}`"


PERMISSIONS: dict[Op, Permission] = {
    Op.READ_REPOSITORY: Permission("read the repository", "metadata", "read", "repo", True),
    Op.OPEN_PULL_REQUEST: Permission("open pull requests", "pull_requests", "write", "repo", True),
    Op.READ_PULL_REQUEST: Permission("read pull requests", "pull_requests", "read", "repo", True),
    Op.LABEL_PULL_REQUEST: Permission("label pull requests", "pull_requests", "write", "repo", True),
    Op.MERGE_PULL_REQUEST: Permission("merge pull requests", "contents", "write", "repo", True),
    Op.CREATE_STATUS: Permission("create commit statuses", "statuses", "write", "repo:status", True),
    Op.READ_STATUSES: Permission("read commit statuses", "statuses", "read", "repo:status", True),
    Op.READ_CHECK_RUNS: Permission("read check runs", "checks", "read", "repo", True),
    Op.CREATE_DEPLOYMENT: Permission("create deployments", "deployments", "write", "repo_deployment", True),
    Op.READ_DEPLOYMENTS: Permission("read deployments", "deployments", "read", "repo_deployment", True),
    Op.DISPATCH_WORKFLOW: Permission("dispatch workflows", "actions", "write", "repo", True),
    Op.READ_WORKFLOW_RUNS: Permission("read workflow runs", "actions", "read", "repo", True),
    Op.READ_ENVIRONMENTS: Permission("read environments", "actions", "read", "repo", True),
    Op.WRITE_ENVIRONMENTS: Permission(
        "create or update environments", "administration", "write", "repo", False
    ),
    Op.READ_RULESETS: Permission("read rulesets", "metadata", "read", "repo", True),
    Op.WRITE_RULESETS: Permission("create or update rulesets", "administration", "write", "repo", False),
    Op.WRITE_CONTENTS: Permission("commit through the API", "contents", "write", "repo", True),
    Op.READ_CONTENTS: Permission("read git objects", "contents", "read", "repo", True),
    Op.READ_USERS: Permission("look up users", "metadata", "read", "read:user", True),
    # An organization permission: GITHUB_TOKEN never has it (github sync needs another token anyway).
    Op.READ_TEAMS: Permission("look up teams", "members", "read", "read:org", False),
}
