"""Hermetic test set-up: a fresh HOME and fixed git identity for every test, and ../shared lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own HOME, XDG dirs, cache and git identity; nothing of the machine leaks in."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("KARGO_ACTIONS_CACHE", str(home / ".cache" / "kargo-actions"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    for var in ("GITHUB_ACTIONS", "GITHUB_TOKEN", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "DOCKER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    return home


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the test where it is absent, but fails under CI=true (unless
    KARGO_ACTIONS_SHARED=absent says the run knows it has none: the project's own workflow on GitHub)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true" and os.environ.get("KARGO_ACTIONS_SHARED") != "absent":
            pytest.fail(f"{path} is missing: CI must have shared/ beside the checkout")
        pytest.skip(
            f"{path} is absent (a fresh clone without ../shared); these tests check the real Kargo contract"
        )
    return path


@pytest.fixture
def shared() -> Path:
    return shared_path()
