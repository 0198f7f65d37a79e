"""The generated promote workflow hands Argo CD's address and token to the promote step when a Stage uses
argocd-update or argocd-wait (and only then); zizmor and actionlint accept it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.github.test_workflows_gen import PINNED, _pipeline
from tests.promotion.test_service import run
from tests.support.workflow_tools import load_yaml, tool

ARGOCD_STAGE = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "Stage",
    "metadata": {"name": "qa"},
    "spec": {
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}],
        "promotionTemplate": {
            "spec": {"steps": [{"uses": "argocd-update", "config": {"apps": [{"name": "qa"}]}}]}
        },
    },
}


def _promote_step(repo: Path) -> dict[str, Any]:
    workflow = load_yaml(repo / ".github" / "workflows" / "kargo-promote.yml")
    steps = workflow["jobs"]["promote"]["steps"]
    found: dict[str, Any] = next(s for s in steps if s.get("id") == "promote")
    return found


@pytest.mark.parametrize("with_argocd", [True, False])
def test_promote_step_env(tmp_path: Path, with_argocd: bool) -> None:
    repo = _pipeline(tmp_path, [ARGOCD_STAGE] if with_argocd else [])
    assert run(repo, "workflows", "generate", "--uses", PINNED, "--repository-url", "")[0] == 0
    step = _promote_step(repo)
    if not with_argocd:
        assert "env" not in step
        return
    assert step["env"] == {
        "ARGOCD_SERVER": "${{ vars.ARGOCD_SERVER }}",
        "ARGOCD_AUTH_TOKEN": "${{ secrets.ARGOCD_AUTH_TOKEN }}",
        "ARGOCD_OPTS": "${{ vars.ARGOCD_OPTS }}",
    }
    workflows = repo / ".github" / "workflows"
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(workflows)], capture_output=True, text=True
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    lint = subprocess.run(
        [tool("actionlint"), "-no-color", str(workflows / "kargo-promote.yml")],
        capture_output=True,
        text=True,
        cwd=repo,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_actions_mask_the_argo_cd_token_before_anything_runs(tmp_path: Path) -> None:
    env_script = Path(__file__).resolve().parents[2] / "actions" / "setup" / "env.sh"
    script = f'source "{env_script}"; echo "ran with $ARGOCD_AUTH_TOKEN"'
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ARGOCD_AUTH_TOKEN": "argocd-secret"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["::add-mask::argocd-secret", "ran with argocd-secret"]
