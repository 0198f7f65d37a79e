"""`kargo-actions freight assemble` run as a user runs it: a real process, a real git repository."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

DIGEST = "sha256:" + "0f" * 32
EXAMPLE = REPO_ROOT / "examples" / "image-updater"


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kargo_actions", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def pipeline_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "pipeline"
    shutil.copytree(EXAMPLE, repo)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "pipeline"], check=True)
    return repo


def test_dry_run_prints_the_kargo_freight_and_records_nothing(pipeline_repo: Path) -> None:
    refs_before = subprocess.run(
        ["git", "-C", str(pipeline_repo), "for-each-ref"], capture_output=True, text=True, check=True
    ).stdout
    done = run(
        "--output", "json", "freight", "assemble", "--warehouse", "web", "--dry-run",
        "--image", f"localhost:5000/demo/web:1.4.0@{DIGEST}",
        cwd=pipeline_repo,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    freight = json.loads(done.stdout)
    assert freight["kind"] == "Freight"
    assert freight["origin"] == {"kind": "Warehouse", "name": "web"}
    assert freight["images"] == [{"repoURL": "localhost:5000/demo/web", "tag": "1.4.0", "digest": DIGEST}]
    assert len(freight["metadata"]["name"]) == 40
    assert freight["alias"]
    refs_after = subprocess.run(
        ["git", "-C", str(pipeline_repo), "for-each-ref"], capture_output=True, text=True, check=True
    ).stdout
    assert refs_after == refs_before


def test_from_json_on_stdin(pipeline_repo: Path) -> None:
    artifacts = {"images": [{"repoURL": "localhost:5000/demo/web", "tag": "1.0.0", "digest": DIGEST}]}
    done = run(
        "-o", "json", "freight", "assemble", "-w", "web", "--from-json", "-", "--dry-run", "--alias", "calm-otter",
        cwd=pipeline_repo, stdin=json.dumps(artifacts),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["alias"] == "calm-otter"


def test_unknown_warehouse_exits_2_with_a_suggestion(pipeline_repo: Path) -> None:
    done = run(
        "freight", "assemble", "-w", "wbe", "--dry-run", "--image", f"r/x:1@{DIGEST}", cwd=pipeline_repo
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --warehouse: no Warehouse 'wbe' (did you mean 'web'?)"
    assert "Traceback" not in done.stderr


def test_mismatch_exits_2_naming_the_artifact(pipeline_repo: Path) -> None:
    done = run(
        "freight", "assemble", "-w", "web", "--dry-run", "--image", f"other/app:1@{DIGEST}", cwd=pipeline_repo
    )
    assert done.returncode == 2
    assert "error: images[0] other/app: matches no subscription of Warehouse 'web'" in done.stderr
    assert (
        "error: warehouse web: no artifact given for subscriptions[0] image localhost:5000/demo/web"
        in done.stderr
    )


def test_recording_without_discovery_needs_allow_undiscovered(pipeline_repo: Path) -> None:
    done = run(
        "freight",
        "assemble",
        "-w",
        "web",
        "--image",
        f"localhost:5000/demo/web:1.0.0@{DIGEST}",
        cwd=pipeline_repo,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: warehouse web: has no discovered artifacts on the ledger, so no revision can be checked "
        "(run `kargo-actions discover --warehouse web`, or give --allow-undiscovered)"
    )


def test_recording_writes_tag_and_ledger_record(pipeline_repo: Path) -> None:
    done = run(
        "-o", "json", "freight", "assemble", "-w", "web", "--allow-undiscovered", "--sign", "never",
        "--image", f"localhost:5000/demo/web:1.0.0@{DIGEST}",
        cwd=pipeline_repo,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    recorded = json.loads(done.stdout)
    fid = recorded["metadata"]["name"]
    tag = subprocess.run(
        ["git", "-C", str(pipeline_repo), "tag", "--list", f"kargo/freight/web/{fid}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert tag == f"kargo/freight/web/{fid}"
    shown = run("-o", "json", "freight", "show", recorded["alias"], cwd=pipeline_repo)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["metadata"]["name"] == fid
    again = run(
        "freight", "assemble", "-w", "web", "--allow-undiscovered", "--sign", "never",
        "--image", f"localhost:5000/demo/web:1.0.0@{DIGEST}",
        cwd=pipeline_repo,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"already recorded Freight {fid}")
