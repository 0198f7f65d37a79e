"""`kargo-actions promote --auto --stage S`: one Stage, decided as `promote --auto` would, no hold set;
skips exit 0 with the reason; flags that do not go with it are bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ledger.helpers import make_repo
from tests.promotion.test_auto_stage import match_upstream_pipeline
from tests.promotion.test_service import manifests, run, write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", tmp_path / "remote.git")


def test_auto_stage_promotes_what_match_upstream_picks_without_a_hold(repo: Path) -> None:
    f1, f2 = match_upstream_pipeline(repo)
    code, out, err = run(repo, "-o", "json", "promote", "--auto", "--stage", "staging")
    assert code == 0, err
    [decision] = json.loads(out)
    assert (decision["stage"], decision["action"], decision["freight"]) == ("staging", "promoted", f1)
    assert decision["phase"] == "Succeeded"
    status = {s["stage"]: s for s in json.loads(run(repo, "-o", "json", "status")[1])}
    assert status["staging"]["current"][0]["name"] == f1
    assert status["staging"]["holds"] == {}
    assert status["dev"]["current"][0]["name"] == f1  # dev is not touched (--auto alone would take f-2)
    # run again: nothing to do, still exit 0, said in text
    code, out, err = run(repo, "promote", "--auto", "--stage", "staging", "-q")
    assert code == 0, err
    assert out.strip() == "staging: skipped (already holds the Freight to promote)"
    assert f2 != f1


@pytest.mark.parametrize(
    ("enabled", "hold_first", "reason"),
    [
        (False, False, "staging: skipped (auto-promotion is not enabled (ProjectConfig promotionPolicies))"),
        (True, True, "staging: skipped (held at "),
    ],
    ids=["policy-disabled", "held"],
)
def test_auto_stage_skips_exit_0_with_the_reason(
    repo: Path, enabled: bool, hold_first: bool, reason: str
) -> None:
    match_upstream_pipeline(repo, enabled=enabled)
    if hold_first:
        assert run(repo, "promote", "--stage", "staging", "--freight", "f-1", "-q")[0] == 0
        assert run(repo, "promote", "--stage", "dev", "--freight", "f-2", "-q")[0] == 0
    code, out, err = run(repo, "promote", "--auto", "--stage", "staging", "-q")
    assert code == 0, err
    assert out.startswith(reason), out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--freight", "f-1"], "--auto takes no --freight"),
        (["--warehouse", "app"], "--auto takes no --freight, --warehouse"),
        (["--downstream-from", "dev"], "--downstream-from"),
        (["--stage", "stagin"], "no Stage 'stagin'"),
    ],
)
def test_auto_stage_bad_input(repo: Path, args: list[str], message: str) -> None:
    write(repo, manifests())
    code, out, err = run(repo, "promote", "--auto", *args)
    assert code == 2
    assert message in err, err
    assert out == ""
