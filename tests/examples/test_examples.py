"""Every examples/<name>/: manifests that load here and in Kargo (its CRDs), a README with the sections
docs/patterns.md promises and the pipeline drawn as `graph --format mermaid` draws it, and the workflows
`workflows generate` makes for it (zizmor-clean)."""

from __future__ import annotations

import re
import subprocess

import pytest
from ruamel.yaml import YAML

from tests.examples.harness import EXAMPLES, USES, example_names, repository_url
from tests.model.test_crd_contract import CRD_FILES, contract_errors
from tests.promotion.test_service import run
from tests.support.workflow_tools import tool

SECTIONS = ("## The pattern", "## The pipeline", "## Adopt it", "## Run it locally")
NAMES = example_names()
# image-updater is also the demo's pipeline (kargo_actions/demo/pipeline), which names the demo's own
# localhost servers instead of the placeholders
CONVENTIONAL = [name for name in NAMES if name != "image-updater"]


def _mermaid(readme: str) -> str:
    found = re.findall(r"```mermaid\n(.*?)```", readme, re.S)
    assert len(found) == 1, "the README draws the pipeline in exactly one ```mermaid block"
    return str(found[0])


@pytest.mark.parametrize("name", NAMES)
def test_manifests_load_here_and_in_kargo(name: str) -> None:
    code, out, err = run(EXAMPLES / name, "validate", "--strict")
    assert code == 0, err + out
    checked = 0
    for path in sorted((EXAMPLES / name / ".kargo").glob("*.yaml")):
        for doc in YAML(typ="safe").load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") in CRD_FILES:
                assert contract_errors(doc) == [], f"{path.name}: {doc['kind']} {doc['metadata']['name']}"
                checked += 1
    assert checked >= 3


@pytest.mark.parametrize("name", NAMES)
def test_readme_sections_and_drawing(name: str) -> None:
    readme = (EXAMPLES / name / "README.md").read_text()
    missing = [s for s in SECTIONS if s not in readme]
    assert missing == [], f"examples/{name}/README.md lacks {missing}"
    code, drawn, err = run(EXAMPLES / name, "graph", "--format", "mermaid")
    assert code == 0, err
    assert _mermaid(readme).strip() == drawn.strip(), (
        f"examples/{name}/README.md: paste `kargo-actions --repo examples/{name} graph --format mermaid`"
    )
    assert "127.0.0.1" not in readme


@pytest.mark.parametrize("name", NAMES)
def test_workflows_are_current_and_clean(name: str) -> None:
    args = ("workflows", "generate", "--uses", USES, "--repository-url", repository_url(name), "--check")
    code, out, err = run(EXAMPLES / name, *args)
    assert code == 0, (
        f"examples/{name}/.github/workflows is stale: run `kargo-actions --repo examples/{name} "
        f"{' '.join(args[:-1])}`\n{out}{err}"
    )
    workflows = EXAMPLES / name / ".github" / "workflows"
    zizmor = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(workflows)], capture_output=True, text=True
    )
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr


def test_every_example_follows_the_url_convention() -> None:
    """Only placeholder URLs in manifests and GitOps files, so the harness can point them at local servers."""
    for name in CONVENTIONAL:
        for path in sorted((EXAMPLES / name).rglob("*.yaml")):
            if ".github" in path.parts:
                continue
            text = path.read_text()
            assert not re.search(r"localhost|127\.0\.0\.1", text), path
            assert re.findall(r"https://github\.com/(?!example/)\S*", text) == [], path
            assert re.findall(r"ghcr\.io/(?!example/)\S*", text) == [], path


def test_patterns_page_links_every_example() -> None:
    page = (EXAMPLES.parent / "docs" / "patterns.md").read_text()
    linked = set(re.findall(r"\]\(\.\./examples/([a-z-]+)/\)", page))
    assert set(NAMES) - linked == set(), "docs/patterns.md: add a row for each example"
