"""Real git repositories, bare remotes and Freight values for the ledger tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kargo_actions.freight.identity import freight_id
from kargo_actions.model.freight import Freight, FreightMetadata, FreightOrigin, GitCommit, Image


def record_git_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The arguments of every `Git.run` (the ledger's git commands) from now on, in order."""
    from kargo_actions.ledger.git import Git

    ran: list[tuple[str, ...]] = []
    real = Git.run

    def recording(self: Git, *args: str, **kwargs: object) -> object:
        ran.append(args)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Git, "run", recording)
    return ran


def git(cwd: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def make_repo(path: Path, remote: Path | None = None) -> Path:
    """A work tree with one commit on main; with `remote`, a bare repository it pushes to as origin."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("pipeline\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    if remote is not None:
        if not remote.exists():
            git(path.parent, "init", "-q", "--bare", str(remote))
        git(path, "remote", "add", "origin", str(remote))
        git(path, "push", "-q", "origin", "main")
    return path


def clone(remote: Path, path: Path) -> Path:
    git(remote.parent, "clone", "-q", str(remote), str(path))
    return path


def make_freight(n: int, warehouse: str = "app", alias: str | None = None) -> Freight:
    origin = FreightOrigin(name=warehouse)
    images = [Image(repo_url="ghcr.io/example/app", tag=f"1.0.{n}", digest=f"sha256:{n:064x}")]
    return Freight(
        metadata=FreightMetadata(name=freight_id(origin, images=images)),
        origin=origin,
        images=images,
        alias=alias,
    )


def make_commit_freight(repo_url: str, commit: str, warehouse: str = "app") -> Freight:
    origin = FreightOrigin(name=warehouse)
    commits = [GitCommit(repo_url=repo_url, id=commit, branch="main")]
    return Freight(
        metadata=FreightMetadata(name=freight_id(origin, commits=commits)), origin=origin, commits=commits
    )
