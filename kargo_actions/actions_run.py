"""The GitHub Actions run a command runs in, from the runner's environment (no GitHub client needed)."""

from __future__ import annotations

from collections.abc import Mapping


def run_url(env: Mapping[str, str]) -> str:
    """The Actions run's page (GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID), or ""."""
    run_id = env.get("GITHUB_RUN_ID", "")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not run_id or not repository:
        return ""
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    return f"{server}/{repository}/actions/runs/{run_id}"
