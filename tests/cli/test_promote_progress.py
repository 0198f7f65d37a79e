"""`promote` progress: each promotion's step lines follow a header naming its Stage, Freight and promotion
(`promote --auto` runs several), and an unnamed step is shown by the step it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ledger.helpers import make_repo
from tests.promotion.test_service import manifests, record, run, write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", tmp_path / "remote.git")


def _pipeline() -> list[dict[str, Any]]:
    policies = [{"stageSelector": {"name": n}, "autoPromotionEnabled": True} for n in ("dev", "staging")]
    docs = manifests(policies)
    for doc in docs:
        if doc["kind"] == "Stage":
            steps = doc["spec"]["promotionTemplate"]["spec"]["steps"]
            doc["spec"]["promotionTemplate"]["spec"]["steps"] = [
                *steps,
                {"uses": "compose-output", "config": {"stage": doc["metadata"]["name"]}},
            ]
    return docs


def test_auto_groups_step_lines_under_a_header_per_stage(repo: Path) -> None:
    write(repo, _pipeline())
    record(repo, 1, 1)
    code, out, err = run(repo, "promote", "--auto")
    assert code == 0, err
    lines = err.splitlines()
    headers = [i for i, line in enumerate(lines) if not line.startswith(" ")]
    assert [lines[i].split()[:4] for i in headers] == [
        ["dev:", "promoting", "Freight", "f-1"],
        ["staging:", "promoting", "Freight", "f-1"],
    ]
    dev_steps = lines[headers[0] + 1 : headers[1]]
    assert [line.split(":")[0] for line in dev_steps] == [
        "  out (compose-output)",
        "  compose-output (step-2)",
    ]
    assert all(" Succeeded in " in line for line in dev_steps)
    assert len(lines) - headers[1] - 1 == 2  # staging's two steps follow its own header
    promoted = [line.split()[1] for line in out.splitlines() if line.startswith(("dev: ", "staging: "))]
    assert [f"({name})" for name in promoted] == [lines[i].split()[-1] for i in headers]


def test_one_promotion_has_its_header_too(repo: Path) -> None:
    write(repo, _pipeline())
    record(repo, 1, 1)
    code, _, err = run(repo, "promote", "--stage", "dev", "--freight", "f-1")
    assert code == 0, err
    first, *steps = err.splitlines()
    assert first.startswith("dev: promoting Freight f-1 (dev.")
    assert [s.split(":")[0] for s in steps] == ["  out (compose-output)", "  compose-output (step-2)"]
