"""docs/github.md's permission table matches what the client asks for."""

from __future__ import annotations

import pytest

from kargo_actions.github.permissions import PERMISSIONS, Op
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "github.md"


@pytest.mark.parametrize("op", list(Op), ids=[op.value for op in Op])
def test_every_operation_has_its_row(op: Op) -> None:
    perm = PERMISSIONS[op]
    rows = [line for line in DOC.read_text().splitlines() if line.startswith(f"| {perm.action} |")]
    assert len(rows) == 1, f"docs/github.md has no single row for {perm.action!r}"
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[2:] == [perm.needed, perm.workflow_permission, f"`{perm.classic_scope}`"]
