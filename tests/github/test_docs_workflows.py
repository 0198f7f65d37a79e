"""The copy-paste workflows of docs/github.md pass actionlint and zizmor, and use only inputs the actions
have."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.conftest import REPO_ROOT
from tests.support.workflow_tools import tool

DOC = REPO_ROOT / "docs" / "github.md"
SECTION = "## Set-up from zero: the actions and the workflows"
# The examples show kargo-actions at a tag for readability; everything else must be pinned to a commit.
ZIZMOR_CONFIG = """rules:
  unpinned-uses:
    config:
      policies:
        "kargo-actions/*": ref-pin
        "*": hash-pin
"""


def doc_workflows() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    return [b for b in blocks if "\njobs:" in b]


def test_the_docs_have_a_workflow_for_each_way_of_use() -> None:
    uses = "\n".join(doc_workflows())
    for action in (
        "actions/discover@",
        "actions/promote@",
        "actions/approve@",
        "actions/steps/",
        "actions/setup@",
    ):
        assert action in uses
    assert "kargo-actions/kargo-actions@v1" in uses  # the root action


def _inputs_of(uses: str) -> set[str]:
    path = uses.partition("@")[0].removeprefix("kargo-actions/kargo-actions").lstrip("/")
    action = YAML(typ="safe", pure=True).load((REPO_ROOT / path / "action.yml").read_text())
    return set(action.get("inputs") or {})


def test_doc_workflows_use_only_inputs_the_actions_have() -> None:
    for text in doc_workflows():
        workflow: Any = YAML(typ="safe", pure=True).load(text)
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                uses = step.get("uses", "")
                if uses.startswith("kargo-actions/kargo-actions"):
                    assert set(step.get("with") or {}) <= _inputs_of(uses), (uses, step.get("with"))


def test_doc_workflows_pass_actionlint_and_zizmor(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    for i, text in enumerate(doc_workflows()):
        (folder / f"doc{i}.yml").write_text(text)
    lint = subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, sorted(folder.iterdir()))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    config = tmp_path / "zizmor.yml"
    config.write_text(ZIZMOR_CONFIG)
    audit = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--config", str(config), str(folder)],
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
