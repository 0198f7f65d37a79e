"""docs/cli.md's generated command reference matches the commands' own help."""

from __future__ import annotations

from kargo_actions.cli.reference import DOC_PATH, render_reference, updated
from tests.conftest import REPO_ROOT


def test_cli_reference_is_fresh() -> None:
    current = (REPO_ROOT / DOC_PATH).read_text()
    assert updated(current) == current, (
        "docs/cli.md is stale: run python -m kargo_actions.cli.reference --write"
    )


def test_reference_covers_every_command_and_option() -> None:
    text = render_reference()
    for heading in (
        "### `kargo-actions validate`",
        "### `kargo-actions freight assemble`",
        "### `kargo-actions expr`",
    ):
        assert heading in text
    assert "| `--dry-run` |" in text
    assert "`-o, --output [text\\|json]`" in text  # pipes escaped so the table holds
