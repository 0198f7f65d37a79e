"""Credentials: GitHub App installation tokens, GHES base URLs, settings from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kargo_actions.errors import InvalidInputError
from kargo_actions.github.auth import GitHubSettings
from kargo_actions.github.client import GitHubClient
from kargo_actions.github.errors import GitHubPermissionError
from kargo_actions.github.models import EnvironmentSpec
from tests.github.helpers import REPO
from tests.support.github_contract import GitHubContract
from tests.support.github_fixtures import FAST, TOKEN, start_checked
from tests.support.github_server import ADMIN_PERMISSIONS, GitHubServer


def _key_pair() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public


def test_github_app_installation_token_can_administer(github: GitHubServer, tmp_path: Path) -> None:
    private, public = _key_pair()
    app = github.add_app(4242, public, ADMIN_PERMISSIONS)
    key_file = tmp_path / "app.pem"
    key_file.write_text(private)
    env = {
        "GITHUB_API_URL": github.url,
        "GITHUB_APP_ID": "4242",
        "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file),
    }
    client = GitHubClient.from_env(REPO, env=env, options=FAST)
    sha = github.commit_files(REPO, "main", {"a": "1"})
    env_created = client.put_environment("prod", EnvironmentSpec(wait_timer=5))
    status = client.set_gate_status(sha, state="success", description="ok")
    assert env_created.spec.wait_timer == 5
    assert status.state == "success"
    assert len(github.requests("GET", f"/repos/{REPO}/installation$")) == 1
    assert len(github.requests("POST", f"/app/installations/{app.installation_id}/access_tokens$")) == 1
    assert github.repo(REPO).statuses[sha][0]["creator"]["login"] == "app-4242[bot]"


def test_an_app_key_that_does_not_match_is_refused(github: GitHubServer) -> None:
    private, _ = _key_pair()
    _, other_public = _key_pair()
    github.add_app(7, other_public, ADMIN_PERMISSIONS)
    env = {"GITHUB_API_URL": github.url, "GITHUB_APP_ID": "7", "GITHUB_APP_PRIVATE_KEY": private}
    with pytest.raises(
        GitHubPermissionError, match=r"the GitHub App 7 has no installation on acme/app .*answered 401"
    ):
        GitHubClient.from_env(REPO, env=env, options=FAST)


@pytest.fixture
def ghes(tmp_path: Path, github_contract: GitHubContract) -> Iterator[GitHubServer]:
    """The server under /api/v3, as GitHub Enterprise Server serves its API."""
    yield from start_checked(tmp_path / "ghes", github_contract, prefix="/api/v3")


def test_enterprise_server_base_url(ghes: GitHubServer) -> None:
    sha = ghes.commit_files(REPO, "main", {"a": "1"})
    env = {"GITHUB_API_URL": ghes.url + "/", "GITHUB_TOKEN": TOKEN}
    client = GitHubClient.from_env(REPO, env=env, options=FAST)
    assert client.repository_info().default_branch == "main"
    assert client.combined_status(sha).sha == sha
    assert ghes.url.endswith("/api/v3")
    assert [e.path for e in ghes.exchanges] == [f"/repos/{REPO}", f"/repos/{REPO}/commits/{sha}/status"]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"GITHUB_APP_ID": "1"},
            "GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE): a GitHub App needs both",
        ),
        (
            {"GITHUB_APP_PRIVATE_KEY": "pem"},
            "GITHUB_APP_ID: a GitHub App needs both its id and its private key",
        ),
        (
            {"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_FILE": "/nonexistent/key.pem"},
            "GITHUB_APP_PRIVATE_KEY_FILE: cannot read",
        ),
        ({"GITHUB_APP_INSTALLATION_ID": "abc"}, "GITHUB_APP_INSTALLATION_ID: 'abc' is not a number"),
    ],
)
def test_settings_problems(env: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        GitHubSettings.from_env(env)


def test_settings_defaults_and_no_secret_in_repr() -> None:
    settings = GitHubSettings.from_env({"GITHUB_TOKEN": "ghs_secret_value"})
    assert settings.api_url == "https://api.github.com"
    assert "ghs_secret_value" not in repr(settings)
    assert "auth=token" in repr(settings)
