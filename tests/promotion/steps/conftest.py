"""Fixtures for the step tests: a work dir, a step context, remote repositories to clone from."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.model.freight import Freight
from kargo_actions.promotion.step_api import StepContext
from tests.support.git_http_server import git, make_bare_repo


def context(work_dir: Path, *, env: Mapping[str, str] | None = None, **kwargs: Any) -> StepContext:
    work_dir.mkdir(parents=True, exist_ok=True)
    return StepContext(work_dir=work_dir, env=dict(env if env is not None else os.environ), **kwargs)


def freight(name: str, warehouse: str = "w", **artifacts: Any) -> Freight:
    return Freight.model_validate(
        {"metadata": {"name": name}, "origin": {"kind": "Warehouse", "name": warehouse}, **artifacts}
    )


def commit_files(repo: Path, files: Mapping[str, str], message: str, branch: str = "main") -> str:
    """Commit `files` onto `branch` of the bare repository `repo` through a scratch clone; returns the commit."""
    scratch = repo.parent / f"scratch-{repo.name}"
    if not scratch.exists():
        git(repo.parent, "clone", "-q", str(repo), scratch.name)
    git(scratch, "fetch", "-q", "origin")
    has_branch = git(scratch, "ls-remote", "--heads", "origin", branch).strip()
    if has_branch:
        git(scratch, "checkout", "-q", "-B", branch, f"origin/{branch}")
    else:
        git(scratch, "checkout", "-q", "--orphan", branch)
        git(scratch, "rm", "-rfq", "--ignore-unmatch", ".")
    for name, content in files.items():
        path = scratch / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(scratch, "add", "-A")
    git(scratch, "commit", "-q", "-m", message)
    git(scratch, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return git(scratch, "rev-parse", "HEAD").strip()


def remote_head(repo: Path, ref: str) -> str:
    return git(repo, "rev-parse", "--verify", "-q", ref).strip()


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository with main (app/, env/ and a README), a tag v1.0.0 and a branch stage/dev."""
    repo = make_bare_repo(tmp_path / "remotes", "origin.git")
    commit_files(
        repo,
        {"README.md": "hello\n", "app/deploy.yaml": "kind: Deployment\n", "env/dev/values.yaml": "a: 1\n"},
        "first",
    )
    git(repo, "tag", "v1.0.0", "main")
    commit_files(repo, {"app/deploy.yaml": "kind: Deployment\nreplicas: 2\n"}, "second")
    commit_files(repo, {"rendered.yaml": "old\n"}, "stage", branch="stage/dev")
    return repo
