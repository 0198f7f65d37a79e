"""Which reporter a promotion or verification gets: GitHub's (promotion.github_reporting, imported only then,
so a local `promote` never loads the GitHub client) when the environment names a repository and credentials,
else none; and the check that tells whether another runner's Actions run is over."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.promotion.reporting import Reporter


def github_configured(env: Mapping[str, str]) -> bool:
    """Whether the environment names a GitHub repository and credentials (a token or a GitHub App)."""
    return bool(env.get("GITHUB_REPOSITORY")) and bool(env.get("GITHUB_TOKEN") or env.get("GITHUB_APP_ID"))


def choose_reporter(github: bool | None = None, env: Mapping[str, str] | None = None) -> Reporter:
    """GitHub reporting when asked (`github=True`) or, by default, when GITHUB_REPOSITORY and a token are set;
    no reporting when `github=False` or the environment names no GitHub repository."""
    env = os.environ if env is None else env
    if github is False or (github is None and not github_configured(env)):
        return Reporter()
    if not github_configured(env):
        missing = [] if env.get("GITHUB_REPOSITORY") else ["GITHUB_REPOSITORY"]
        if not (env.get("GITHUB_TOKEN") or env.get("GITHUB_APP_ID")):
            missing.append("GITHUB_TOKEN (or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY)")
        raise InvalidInputError(
            [
                Problem(
                    path="--github",
                    message=f"reporting to GitHub needs {' and '.join(missing)}",
                    hint="set them (Actions sets GITHUB_REPOSITORY; pass `GITHUB_TOKEN: ${{ github.token }}`), "
                    "or drop --github",
                )
            ]
        )
    from kargo_actions.promotion.github_reporting import GitHubReporter

    return GitHubReporter(env)


def run_checker(env: Mapping[str, str] | None = None) -> Callable[[str, str], str | None] | None:
    """Tells whether an Actions run is over (its conclusion, or None while it runs or when GitHub cannot
    say), for closing promotions whose runner's run ended; None when no GitHub credentials are set."""
    env = os.environ if env is None else env
    if not github_configured(env):
        return None

    over: dict[tuple[str, str], str] = {}  # a run that is over stays over: asked once per command

    def check(repository: str, run_id: str) -> str | None:
        from kargo_actions.github.client import ClientOptions, GitHubClient

        if (repository, run_id) in over:
            return over[repository, run_id]
        try:
            client = GitHubClient.from_env(repository, env=env, options=ClientOptions(retries=1, timeout=10))
            run = client.get_workflow_run(int(run_id))
        except Exception:  # a run that cannot be read proves nothing: the lease decides
            return None
        if not run.completed:
            return None
        over[repository, run_id] = run.conclusion or "completed"
        return over[repository, run_id]

    return check
