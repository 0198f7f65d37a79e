"""`workflows generate --dashboard`: kargo-dashboard.yml (build the site, upload it, deploy it to GitHub Pages
with SHA-pinned actions), called by the discover and promote workflows; zizmor and actionlint find nothing;
the build step's own command, run on a real repository, writes the directory the upload step publishes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from kargo_actions.cli.main import main
from kargo_actions.ledger import Ledger
from tests.ledger.helpers import make_repo
from tests.report.test_dashboard import MANIFESTS, shop_freight
from tests.support.workflow_tools import load_yaml, tool

PINNED = "kargo-actions/kargo-actions@" + "0123456789abcdef" * 2 + "01234567"
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def run(repo: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--repo", str(repo), *args])
        except SystemExit as done:
            code = int(done.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    (repo / ".kargo").mkdir()
    for i, doc in enumerate(MANIFESTS):
        (repo / ".kargo" / f"{i:02d}.yaml").write_text(json.dumps(doc))
    return repo


def test_dashboard_workflow_builds_uploads_and_deploys(repo: Path) -> None:
    code, _, err = run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "", "--dashboard")
    assert code == 0, err
    folder = repo / ".github" / "workflows"
    flow = load_yaml(folder / "kargo-dashboard.yml")
    assert set(flow["on"]) == {"workflow_call", "workflow_dispatch"}
    assert flow["permissions"] == {}
    build, deploy = flow["jobs"]["build"], flow["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    uses = [s["uses"] for s in build["steps"] if "uses" in s]
    assert uses[-2] == PINNED  # the root action runs the command
    assert uses[-1].startswith("actions/upload-pages-artifact@")
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert deploy["concurrency"]["cancel-in-progress"] is False
    (step,) = deploy["steps"]
    assert step["uses"].startswith("actions/deploy-pages@")
    for pinned in (uses[-1], step["uses"]):
        assert SHA_PIN.match(pinned), pinned
    for name, needs in (("kargo-discover.yml", "discover"), ("kargo-promote.yml", "promote")):
        job = load_yaml(folder / name)["jobs"]["dashboard"]
        after = [job["needs"]] if isinstance(job["needs"], str) else job["needs"]
        assert after[0] == needs  # and the verify job, where the promote workflow has one
        assert job["uses"] == "./.github/workflows/kargo-dashboard.yml"  # $/ is unknown to act
        # a called workflow gets at most what its caller job grants
        assert job["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
        assert job["if"] == "${{ !cancelled() }}"


def test_without_the_option_nothing_changes(repo: Path) -> None:
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "")[0] == 0
    folder = repo / ".github" / "workflows"
    assert sorted(p.name for p in folder.iterdir()) == [
        "kargo-discover.yml",
        "kargo-freeze.yml",
        "kargo-promote.yml",
    ]
    assert "dashboard" not in load_yaml(folder / "kargo-promote.yml")["jobs"]
    # turning it on later regenerates the callers and adds the workflow; --check then finds nothing stale
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "", "--dashboard")[0] == 0
    code, _, err = run(
        repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "", "--dashboard", "--check"
    )
    assert code == 0, err


def test_zizmor_and_actionlint_pass_with_the_dashboard(repo: Path) -> None:
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "", "--dashboard")[0] == 0
    folder = repo / ".github" / "workflows"
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    lint = subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, sorted(folder.glob("*.yml")))],
        capture_output=True,
        text=True,
        cwd=repo,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_build_step_writes_what_the_upload_step_publishes(repo: Path) -> None:
    with Ledger(repo) as ledger:
        ledger.record_freight(shop_freight(1))
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "", "--dashboard")[0] == 0
    steps = load_yaml(repo / ".github" / "workflows" / "kargo-dashboard.yml")["jobs"]["build"]["steps"]
    build = next(s for s in steps if s.get("name") == "Build the dashboard")
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact@"))
    args = shlex.split(build["with"]["command"])
    cwd = Path.cwd()
    os.chdir(repo)  # the runner's working directory is the workspace
    try:
        code, _, err = run(repo, "--config-dir", build["with"]["config-dir"], *args)
    finally:
        os.chdir(cwd)
    assert code == 0, err
    site = repo / upload["with"]["path"]
    assert (site / "index.html").is_file()
    assert (site / "assets" / "dashboard.css").is_file()
