"""GitHub test server fixtures for the github-checks provider and kargo/verified statuses."""

from tests.support.github_fixtures import github, github_client, github_contract

__all__ = ["github", "github_client", "github_contract"]
