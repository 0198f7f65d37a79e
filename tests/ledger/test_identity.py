"""The committer identity a ledger records as its actor: read from git's environment and configuration as
`git var GIT_COMMITTER_IDENT` reads them, and git itself asked whenever that reading is not plain."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from kargo_actions.ledger import Ledger, LedgerConfig, SigningPolicy
from kargo_actions.ledger.git import Git, committer_identity
from tests.ledger.helpers import record_git_runs

UNSIGNED = LedgerConfig(signing=SigningPolicy.NEVER)
CASES = [
    ({"user.name": "Ada Lovelace", "user.email": "ada@example.com"}, {}),
    ({"user.name": "Ada", "user.email": "ada@example.com"}, {"GIT_COMMITTER_NAME": "Grace"}),
    ({"user.name": "Ada", "user.email": "ada@example.com"}, {"GIT_COMMITTER_EMAIL": "grace@example.com"}),
    ({"user.name": "Ada", "user.email": "ada@example.com", "committer.name": "Bot"}, {}),
    ({"user.name": "Ada", "committer.email": "bot@example.com", "user.email": "ada@example.com"}, {}),
    ({"user.name": "Ada"}, {"EMAIL": "env@example.com"}),
    ({"user.name": "Ada", "user.email": "ada@example.com"}, {"EMAIL": "env@example.com"}),
    ({"user.name": " Ada.", "user.email": "<ada@example.com>"}, {}),  # git trims these: asked
    ({"user.name": "Ada <x>", "user.email": "ada@example.com"}, {}),
    ({"user.name": "Ada", "user.email": "ada@example.com"}, {"GIT_COMMITTER_NAME": ""}),
]


def _repo(tmp_path: Path, config: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for key, value in config.items():
        subprocess.run(["git", "-C", str(repo), "config", key, value], check=True)
    return repo


def _plain_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "EMAIL", "GITHUB_ACTOR"))}
    return {**env, "HOME": "/nonexistent", "GIT_CONFIG_NOSYSTEM": "1", **extra}


@pytest.mark.parametrize(("config", "env"), CASES)
def test_the_identity_is_the_one_git_var_names(
    tmp_path: Path, config: dict[str, str], env: dict[str, str]
) -> None:
    repo = _repo(tmp_path, config)
    git = Git(repo, _plain_env(env))
    asked = subprocess.run(
        ["git", "var", "GIT_COMMITTER_IDENT"],
        cwd=repo,
        env=git.env,
        capture_output=True,
        text=True,
        check=False,
    )
    values = {key.lower(): value for key, value in config.items()}
    ident, extra = committer_identity(git, values)
    if asked.returncode == 0:
        assert _undated(ident) == _undated(asked.stdout.strip())
        assert extra == {}
    else:  # git refuses the identity (an empty name): commits get the fallback one
        assert _undated(ident) == "kargo-actions <kargo-actions@users.noreply.github.com>"
        assert extra["GIT_COMMITTER_NAME"] == "kargo-actions"


def _undated(ident: str) -> str:
    return re.sub(r"\s+\d+ [+-]\d{4}$", "", ident)


def test_a_configured_identity_costs_no_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path, {"user.name": "Ada", "user.email": "ada@example.com"})
    ran = record_git_runs(monkeypatch)
    with Ledger(repo, UNSIGNED, env=_plain_env({})) as ledger:
        ledger.git_config()
        ran.clear()
        assert ledger.actor() == "Ada <ada@example.com>"
    assert ran == []


def test_without_an_identity_commits_are_made_as_the_actions_actor(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"user.useConfigOnly": "true"})
    git = Git(repo, _plain_env({"GITHUB_ACTOR": "octocat"}))
    ident, extra = committer_identity(git, {"user.useconfigonly": "true"})
    assert ident.startswith("octocat <octocat@users.noreply.github.com>")
    assert extra["GIT_COMMITTER_EMAIL"] == extra["GIT_AUTHOR_EMAIL"] == "octocat@users.noreply.github.com"
