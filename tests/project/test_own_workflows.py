"""The project's own workflows: zizmor (offline) and actionlint find nothing in ci.yml and release.yml; their
actions are pinned by commit with a version comment and their permissions are least privilege; ci.yml's
lint job runs under act (host mode) and passes, and fails when the code breaks a lint rule."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.support.workflow_tools import load_yaml, tool

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
OWN = ("ci.yml", "release.yml")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
SETUP_PYTHON = "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97"


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in workflow["jobs"].items() for step in spec["steps"]]


def _uses_lines(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    return [line.split("uses:", 1)[1].strip() for line in lines if re.match(r"\s*(- )?uses:", line)]


@pytest.mark.parametrize("name", OWN)
def test_zizmor_offline_finds_nothing(name: str) -> None:
    done = subprocess.run(
        [tool("zizmor"), "--offline", "--persona", "regular", "--format", "plain", str(WORKFLOWS / name)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


@pytest.mark.parametrize("name", OWN)
def test_actionlint_finds_nothing(name: str) -> None:
    done = subprocess.run([tool("actionlint"), str(WORKFLOWS / name)], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize("name", OWN)
def test_actions_are_pinned_by_commit_and_checkouts_keep_no_credentials(name: str) -> None:
    uses = _uses_lines(WORKFLOWS / name)
    assert uses
    assert [line for line in uses if not PINNED.match(line)] == []
    workflow = load_yaml(WORKFLOWS / name)
    for _, step in _steps(workflow):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_permissions_are_least_privilege() -> None:
    for name in OWN:
        assert load_yaml(WORKFLOWS / name)["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in load_yaml(WORKFLOWS / "ci.yml")["jobs"].values())
    jobs = load_yaml(WORKFLOWS / "release.yml")["jobs"]
    assert jobs["build"]["permissions"] == {"contents": "read", "id-token": "write", "attestations": "write"}
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    assert jobs["publish"]["environment"] == "pypi"
    assert jobs["github-release"]["permissions"] == {"contents": "write"}


def test_ci_tests_every_supported_python_with_the_readme_command() -> None:
    test = load_yaml(WORKFLOWS / "ci.yml")["jobs"]["test"]
    assert test["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    assert "bash scripts/test.sh" in (REPO_ROOT / "README.md").read_text()
    assert [step["run"] for step in test["steps"] if "run" in step][-1] == "bash scripts/test.sh"


def test_release_runs_on_version_tags_and_publishes_without_a_token() -> None:
    release = load_yaml(WORKFLOWS / "release.yml")
    assert release["on"] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
    publish = release["jobs"]["publish"]["steps"][-1]
    assert publish["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert "with" not in publish  # no password: the index trusts the workflow's OIDC token
    assert "cache:" not in (WORKFLOWS / "release.yml").read_text()  # no cache can reach a release


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _act_world(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A clone of this checkout's HEAD, a HOME, and a stand-in for actions/setup-python (github.com is out
    of reach): a fresh virtual environment of this interpreter that sees this environment's packages, so
    the job's own `pip install -e '.[dev]'` installs the clone there without downloading the dependencies."""
    work = tmp_path / "work"
    _git(tmp_path, "clone", "-q", "--no-tags", str(REPO_ROOT), str(work))
    home = tmp_path / "home"
    home.mkdir()
    venv = tmp_path / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    stub = tmp_path / "setup-python"
    stub.mkdir()
    (stub / "action.yml").write_text(
        "name: setup-python stand-in\ndescription: puts the tests' interpreter first on PATH\n"
        "inputs:\n  python-version: {required: false}\n  cache: {required: false}\n"
        "  cache-dependency-path: {required: false}\n"
        "runs:\n  using: composite\n  steps:\n    - shell: bash\n      run: |\n"
        f"        echo '{Path(sys.executable).parent}' >> \"$GITHUB_PATH\"\n"
        f"        echo '{venv / 'bin'}' >> \"$GITHUB_PATH\"\n"
    )
    return work, home, stub


def _act_lint(work: Path, home: Path, stub: Path) -> subprocess.CompletedProcess[str]:
    args = [
        *(tool("act"), "push", "-W", ".github/workflows/ci.yml", "-j", "lint"),
        *("-P", "ubuntu-latest=-self-hosted", "--no-cache-server"),
        *("--local-repository", f"{SETUP_PYTHON}={stub}"),
    ]
    env = {
        "HOME": str(home),
        "PATH": os.environ["PATH"],
        "ACT_DISABLE_VERSION_CHECK": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        **{k: v for k, v in os.environ.items() if k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_", "PIP_"))},
    }
    return subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.e2e
def test_the_lint_job_passes_under_act_and_fails_on_a_lint_error(tmp_path: Path) -> None:
    uses = _uses_lines(WORKFLOWS / "ci.yml")
    assert f"{SETUP_PYTHON} # v7.0.0" in uses  # the pin the stand-in replaces
    work, home, stub = _act_world(tmp_path)

    done = _act_lint(work, home, stub)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    for step in ("ruff", "ruff format", "mypy", "zizmor and actionlint over every action and workflow"):
        assert re.search(rf"Success - Main {re.escape(step)}\s", log), step
    assert "No findings to report" in log

    # An unsorted import breaks `ruff check`: the job fails there and runs nothing after it.
    bad = work / "kargo_actions" / "lint_probe.py"
    bad.write_text('"""x"""\n\nimport sys\nimport os\n\nprint(os, sys)\n')
    _git(work, "add", str(bad))
    _git(work, "commit", "-q", "-m", "probe")
    done = _act_lint(work, home, stub)
    log = done.stdout + done.stderr
    assert done.returncode != 0, log[-6000:]
    assert re.search(r"Failure - Main ruff\s", log), log[-6000:]
    assert "lint_probe.py" in log
    assert "Main mypy" not in log
