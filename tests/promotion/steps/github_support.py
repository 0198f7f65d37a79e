"""Shared material for the GitHub step tests: the test server with smart HTTP, step contexts for it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.model.freight import Freight
from kargo_actions.promotion.registry import get_step
from kargo_actions.promotion.step_api import StepConfig, StepContext, StepResult, validate_config
from kargo_actions.promotion.steps.support import github_common
from tests.support.github_contract import GitHubContract
from tests.support.github_fixtures import FAST, REPOSITORY, TOKEN, start_checked
from tests.support.github_server import ADMIN_PERMISSIONS, GitHubServer

ADMIN_TOKEN = "ghs_admin_token"
FREIGHT_ID = "3f4e5d6c7b8a99887766554433221100ffeeddcc"


@pytest.fixture(autouse=True)
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The steps' client without GitHub's pacing: the server is local."""
    monkeypatch.setattr(github_common, "CLIENT_OPTIONS", FAST)


@pytest.fixture
def gh(tmp_path: Path, github_contract: GitHubContract) -> Iterator[GitHubServer]:
    """The GitHub test server (every exchange checked against GitHub's OpenAPI), repositories over smart HTTP."""
    for server in start_checked(tmp_path / "gh", github_contract, git_http=True):
        server.add_token(ADMIN_TOKEN, ADMIN_PERMISSIONS, login="admin")
        yield server


def step_env(server: GitHubServer, token: str | None = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["GITHUB_API_URL"] = server.url
    if token is not None:
        env["GITHUB_TOKEN"] = token
    return env


def ctx_for(server: GitHubServer, work: Path, token: str | None = TOKEN, **kwargs: Any) -> StepContext:
    work.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("stage", "prod")
    kwargs.setdefault("promotion", "prod.01jabcdefghjkmnpqrstvwxyz0.3f4e5d6")
    return StepContext(work_dir=work, env=step_env(server, token), **kwargs)


def run_step(name: str, ctx: StepContext, config: Mapping[str, Any]) -> StepResult:
    """Validate the config as the engine does (Kargo's wire names, strict JSON types), then run the step."""
    step = get_step(name)
    typed: StepConfig = validate_config(name, step.config_model, config)
    return step.run(ctx, typed)


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, env=env
    ).stdout.strip()


def bare_git(server: GitHubServer, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(server.repo(REPOSITORY).path), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def seed(server: GitHubServer) -> str:
    """main with a README and the dev/prod manifests; returns main's commit."""
    return server.commit_files(
        REPOSITORY,
        "main",
        {"README.md": "app\n", "env/prod/app.yaml": "image: ghcr.io/acme/app:v1\n"},
        "initial",
    )


def clone(server: GitHubServer, work: Path, path: str = "out", branch: str = "main") -> Path:
    tree = work / path
    tree.parent.mkdir(parents=True, exist_ok=True)
    git(tree.parent, "clone", "-q", "-b", branch, server.clone_url(REPOSITORY), tree.name)
    return tree


def commit_all(tree: Path, files: Mapping[str, str | bytes], message: str) -> str:
    for name, content in files.items():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", message)
    return git(tree, "rev-parse", "HEAD")


def freight(**artifacts: Any) -> Freight:
    return Freight.model_validate(
        {
            "metadata": {"name": FREIGHT_ID},
            "alias": "brave-fox",
            "origin": {"kind": "Warehouse", "name": "app"},
            **artifacts,
        }
    )
