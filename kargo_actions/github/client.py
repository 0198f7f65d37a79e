"""A typed GitHub client over PyGithub: every operation the product needs, returning frozen values.

GitHubClient combines one transport (github/api/transport.py: pacing, retries, typed errors naming the
permission a token lacks, polling) with one class per resource of the REST API in github/api/: pull requests,
commit statuses and checks, deployments, workflows, environments and rulesets, the git database.
"""

from __future__ import annotations

from kargo_actions.github.api.deployments import DeploymentsAPI
from kargo_actions.github.api.environments import EnvironmentsAPI
from kargo_actions.github.api.gitdb import GitDatabaseAPI
from kargo_actions.github.api.pulls import PullRequestsAPI
from kargo_actions.github.api.statuses import FAILING_STATES as FAILING_STATES
from kargo_actions.github.api.statuses import PASSING_CONCLUSIONS as PASSING_CONCLUSIONS
from kargo_actions.github.api.transport import ClientOptions as ClientOptions
from kargo_actions.github.api.workflows import MAX_DISPATCH_INPUTS as MAX_DISPATCH_INPUTS
from kargo_actions.github.api.workflows import WorkflowsAPI


class GitHubClient(PullRequestsAPI, DeploymentsAPI, WorkflowsAPI, EnvironmentsAPI, GitDatabaseAPI):
    """One repository's GitHub API, as the product uses it."""
