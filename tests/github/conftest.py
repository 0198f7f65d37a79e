"""GitHub test server fixtures (see tests/support/github_fixtures.py)."""

from tests.support.github_fixtures import github, github_client, github_contract

__all__ = ["github", "github_client", "github_contract"]
