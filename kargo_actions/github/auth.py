"""GitHub credentials and API location from the environment: a token, or a GitHub App's installation token."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.github.errors import GitHubPermissionError
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from github import Auth

DEFAULT_API_URL = "https://api.github.com"


@struct
class GitHubSettings:
    """Where the API is (GITHUB_API_URL, so GHES works) and how to authenticate."""

    api_url: str = DEFAULT_API_URL
    token: str = ""
    app_id: str = ""
    app_private_key: str = ""
    app_installation_id: int | None = None

    def __repr__(self) -> str:  # never print secrets
        kind = "app" if self.uses_app else ("token" if self.token else "none")
        return f"GitHubSettings(api_url={self.api_url!r}, auth={kind})"

    @property
    def uses_app(self) -> bool:
        return bool(self.app_id and self.app_private_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitHubSettings:
        """GITHUB_API_URL, GITHUB_TOKEN, GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY (PEM text) or
        GITHUB_APP_PRIVATE_KEY_FILE, and optionally GITHUB_APP_INSTALLATION_ID."""
        env = os.environ if env is None else env
        key = env.get("GITHUB_APP_PRIVATE_KEY", "")
        key_file = env.get("GITHUB_APP_PRIVATE_KEY_FILE", "")
        problems: list[Problem] = []
        if not key and key_file:
            try:
                key = Path(key_file).read_text()
            except OSError as err:
                problems.append(
                    Problem(
                        path="GITHUB_APP_PRIVATE_KEY_FILE", message=f"cannot read {key_file}: {err.strerror}"
                    )
                )
        installation = env.get("GITHUB_APP_INSTALLATION_ID", "")
        if installation and not installation.isdigit():
            problems.append(
                Problem(path="GITHUB_APP_INSTALLATION_ID", message=f"{installation!r} is not a number")
            )
        app_id = env.get("GITHUB_APP_ID", "")
        if bool(app_id) != bool(key) and not problems:
            missing = "GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE)" if app_id else "GITHUB_APP_ID"
            problems.append(
                Problem(path=missing, message="a GitHub App needs both its id and its private key")
            )
        if problems:
            raise InvalidInputError(problems)
        return cls(
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            token=env.get("GITHUB_TOKEN", ""),
            app_id=app_id,
            app_private_key=key,
            app_installation_id=int(installation) if installation else None,
        )

    def auth(self, owner: str, repo: str) -> Auth.Auth:
        """PyGithub auth: the App's installation on owner/repo when App credentials are given, else the token."""
        from github import Auth, GithubException, GithubIntegration

        if self.uses_app:
            app_auth = Auth.AppAuth(self.app_id, self.app_private_key)
            installation = self.app_installation_id
            if installation is None:
                integration = GithubIntegration(auth=app_auth, base_url=self.api_url)
                try:
                    installation = integration.get_repo_installation(owner, repo).id
                except GithubException as err:
                    raise GitHubPermissionError(
                        f"the GitHub App {self.app_id} has no installation on {owner}/{repo} that it can use "
                        f"(GitHub answered {err.status}): install the App on the repository, or check "
                        "GITHUB_APP_ID and the private key",
                        err.status,
                    ) from err
            return app_auth.get_installation_auth(installation)
        if self.token:
            return Auth.Token(self.token)
        raise GitHubPermissionError(
            "no GitHub credentials: set GITHUB_TOKEN (in a workflow `env: GITHUB_TOKEN: ${{ github.token }}`), "
            "or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY for a GitHub App"
        )
