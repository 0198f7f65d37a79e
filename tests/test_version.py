"""Version facts: a wheel built from a vX.Y.Z tag says that version and records the tag's full commit; the
release test; the development checkout's HEAD, and no checkout for a package that is not one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kargo_actions import version as version_facts
from tests.conftest import REPO_ROOT


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("1.2.3", True),
        ("0.0.0", True),
        ("10.20.30", True),
        ("1.2.4.dev3+g0123abcd", False),
        ("1.2.3+g0123abcd", False),
        ("1.2.3.dev0", False),
        ("1.2", False),
        ("0.0.0.dev0", False),
        ("0+unknown", False),
        ("v1.2.3", False),
        ("1.2.3rc1", False),
    ],
)
def test_a_release_is_an_exact_x_y_z(text: str, release: bool) -> None:
    assert version_facts.is_release(text) is release


def test_the_package_version_is_the_one_the_cli_prints() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kargo_actions", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout == f"kargo-actions, version {version_facts.version()}\n"
    assert version_facts.version() != version_facts.UNKNOWN_VERSION


def _checkout(top: Path) -> Path:
    (top / "kargo_actions").mkdir(parents=True)
    (top / "kargo_actions" / "__init__.py").write_text("")
    _git(top, "init", "-q")
    _git(top, "add", ".")
    _git(top, "commit", "-q", "-m", "package")
    return top


def test_checkout_head_is_head_of_the_checkout_the_package_sits_in(tmp_path: Path) -> None:
    top = _checkout(tmp_path / "checkout")
    head = _git(top, "rev-parse", "HEAD")
    assert version_facts.checkout_head(top / "kargo_actions") == head
    assert version_facts.checkout_head(top) == head
    (top / "kargo_actions" / "new.py").write_text("")
    _git(top, "add", ".")
    _git(top, "commit", "-q", "-m", "more")
    assert version_facts.checkout_head(top / "kargo_actions") == _git(top, "rev-parse", "HEAD") != head


def test_a_package_installed_inside_some_checkout_is_not_that_checkout(tmp_path: Path) -> None:
    top = _checkout(tmp_path / "checkout")
    installed = top / ".venv" / "lib" / "python3.11" / "site-packages" / "kargo_actions"
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    assert version_facts.checkout_head(installed) is None


def test_no_checkout_head_without_git_or_without_a_commit(tmp_path: Path) -> None:
    plain = tmp_path / "plain" / "kargo_actions"
    plain.mkdir(parents=True)
    (plain / "__init__.py").write_text("")
    assert version_facts.checkout_head(plain) is None
    empty = tmp_path / "empty"
    (empty / "kargo_actions").mkdir(parents=True)
    (empty / "kargo_actions" / "__init__.py").write_text("")
    _git(empty, "init", "-q")
    assert version_facts.checkout_head(empty) is None


def _tagged_clone(tmp_path: Path) -> tuple[Path, str]:
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", "--no-tags", str(REPO_ROOT), str(clone))
    _git(clone, "tag", "-a", "v99.1.2", "-m", "release 99.1.2")
    _git(clone, "tag", "-a", "v99", "-m", "the major tag, never a version")
    _git(clone, "tag", "Freight-1a2b3c", "-m", "a Freight tag, never a version")
    return clone, _git(clone, "rev-parse", "HEAD")


def _built_facts(source: Path, tmp_path: Path) -> tuple[str, list[object], str]:
    """Build a wheel of source; the wheel's name, its version facts and its --version line, from the
    unpacked wheel first on the path (its dependencies come from this environment)."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = dist.glob("*.whl")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    probe = (
        "import json; from kargo_actions import version as v; "
        "print(json.dumps([v.version(), v.build_commit(), v.is_release(), v.checkout_head()]))"
    )

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout

    return wheel.name, json.loads(run("-c", probe)), run("-m", "kargo_actions", "--version")


@pytest.mark.slow
def test_a_wheel_built_from_a_release_tag_records_its_version_and_full_commit(tmp_path: Path) -> None:
    clone, commit = _tagged_clone(tmp_path)
    name, facts, printed = _built_facts(clone, tmp_path)
    assert name == "kargo_actions-99.1.2-py3-none-any.whl"
    assert facts == ["99.1.2", commit, True, None]
    assert printed == "kargo-actions, version 99.1.2\n"


@pytest.mark.slow
def test_a_wheel_built_from_a_git_archive_of_a_release_knows_both_too(tmp_path: Path) -> None:
    # What a runner downloads for `uses: OWNER/REPO@<commit>`: a git archive, export-subst applied, no .git.
    clone, commit = _tagged_clone(tmp_path)
    tree = tmp_path / "archive"
    tree.mkdir()
    tar = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=clone, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=tar.stdout, check=True)
    assert not (tree / ".git").exists()
    name, facts, printed = _built_facts(tree, tmp_path)
    assert name == "kargo_actions-99.1.2-py3-none-any.whl"
    assert facts == ["99.1.2", commit, True, None]
    assert printed == "kargo-actions, version 99.1.2\n"
