"""Small helpers shared by the GitHub client tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from github import Auth, Github

from kargo_actions.github.models import RulesetSpec
from tests.support.github_server import ADMIN_PERMISSIONS, GitHubServer

ADMIN_TOKEN = "ghs_admin_token"
REPO = "acme/app"


def raw_github(github: GitHubServer, token: str) -> Github:
    """Plain PyGithub against the server, unpaced, for tests that go around the client."""
    return Github(
        auth=Auth.Token(token),
        base_url=github.url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def seed_promotion_branch(github: GitHubServer, branch: str = "promote/dev") -> tuple[str, str]:
    """main with a README, and `branch` on top changing app.yaml; returns (main sha, branch sha)."""
    main = github.commit_files(REPO, "main", {"README.md": "hello\n", "app.yaml": "image: v1\n"}, "initial")
    head = github.commit_files(REPO, branch, {"app.yaml": "image: v2\n"}, "promote v2 to dev")
    return main, head


def bare(github: GitHubServer) -> Path:
    return github.repo(REPO).path


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, check=True, text=True
    ).stdout.strip()


def git_in(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git in a work tree, not raising: tests look at returncode and stderr."""
    return subprocess.run(["git", *args], cwd=work, capture_output=True, text=True, check=False)


def require_checks(github: GitHubServer, *contexts: str) -> None:
    """An active ruleset on main requiring `contexts`, written as an admin would."""
    from tests.support.github_fixtures import client_for

    github.add_token(ADMIN_TOKEN, ADMIN_PERMISSIONS, login="admin")
    client_for(github, ADMIN_TOKEN).create_ruleset(
        RulesetSpec(name="kargo promotion checks", include=("refs/heads/main",), required_checks=contexts)
    )
