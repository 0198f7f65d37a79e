"""docs/steps/<step>.md: every registered step has a page whose generated part matches its config model."""

from __future__ import annotations

from pathlib import Path

import pytest

from kargo_actions.promotion.registry import get_step, step_names
from kargo_actions.report.step_docs import BEGIN, END, field_rows, main, render_page, stale_pages
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs" / "steps"


def test_every_registered_step_has_a_fresh_page() -> None:
    stale = stale_pages(DOCS)
    assert not stale, (
        f"missing or stale step pages: {', '.join(stale)}; "
        "run .venv/bin/python -m kargo_actions.report.step_docs --write"
    )


def test_every_page_keeps_hand_written_parts() -> None:
    for name in sorted(step_names()):
        page = (DOCS / f"{name}.md").read_text()
        assert page.startswith(f"# `{name}`\n"), name
        assert page.count(BEGIN) == page.count(END) == 1, name
        assert "## Example" in page, name
        assert "```yaml" in page.split("## Example", 1)[1], f"{name}: no example"
        assert "## Differences from Kargo" in page, name


@pytest.mark.parametrize("name", sorted(step_names()))
def test_every_field_has_a_description_and_outputs_are_declared(name: str) -> None:
    step = get_step(name)
    missing = [row.path for row in field_rows(step.config_model) if not row.description]
    assert not missing, f"{name}: add Field(description=...) or a docstring under: {', '.join(missing)}"
    outputs = getattr(type(step), "outputs", None)
    assert isinstance(outputs, dict), f"{name}: declare `outputs: ClassVar[dict[str, str]]` ({{}} for none)"


def test_a_hand_written_page_is_converted_and_a_missing_one_gets_a_skeleton(tmp_path: Path) -> None:
    old = (
        "# `copy`\n\nCopies things.\n\n## Config\n\n| Field | Type |\n|---|---|\n| `inPath` | string |\n\n"
        "Symlinks are skipped.\n\n## Example\n\n```yaml\n- uses: copy\n```\n"
    )
    page = render_page("copy", old)
    assert page.startswith("# `copy`\n\nCopies things.\n\n" + BEGIN)
    assert "| `inPath` | string | yes |  | The file or directory to copy" in page
    assert page.endswith(END + "\n\nSymlinks are skipped.\n\n## Example\n\n```yaml\n- uses: copy\n```\n")
    assert render_page("copy", page) == page  # stable: a second run changes nothing
    # --write on an empty folder makes every page; --check then passes.
    assert main(["--write", "--docs-dir", str(tmp_path)]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.md")) == sorted(step_names())
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 0
    # A model change makes the page stale.
    (tmp_path / "copy.md").write_text(page.replace("| `inPath` |", "| `inPathOld` |"))
    assert main(["--check", "--docs-dir", str(tmp_path)]) == 1


def test_outputs_are_listed_when_the_step_declares_them() -> None:
    page = (DOCS / "oci-push.md").read_text()
    generated = page.split(BEGIN, 1)[1].split(END, 1)[0]
    for name in ("image", "digest", "tag"):
        assert f"| `{name}` |" in generated
