"""The Settings fields `github sync` reads: environment protection, requiredChecks, promotionBranches."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kargo_actions.model.settings import SettingsSpec

CASES: list[tuple[dict[str, Any], str]] = [
    ({"environments": {"prod": {"reviewers": ["octocat", "team:42"], "waitTimer": 30}}}, ""),
    ({"environments": {"prod": {"deploymentBranches": ["main"], "deploymentTags": ["kargo/freight/*"]}}}, ""),
    ({"environments": {"staging": {"protectedBranchesOnly": True}}}, ""),
    ({"requiredChecks": ["ci/test", "lint (3.12)"], "promotionBranches": ["stage/prod"]}, ""),
    ({"environments": {"prod": {"reviewers": ["team:acme/release-managers", "team:my-org/a_b.c"]}}}, ""),
    ({"environments": {"prod": {"reviewers": ["org/team"]}}}, "is not a GitHub login or a team"),
    ({"environments": {"prod": {"reviewers": ["team:0"]}}}, "is not a GitHub login or a team"),
    ({"environments": {"prod": {"reviewers": ["team:acme/"]}}}, "is not a GitHub login or a team"),
    ({"environments": {"prod": {"reviewers": ["team:-acme/x"]}}}, "is not a GitHub login or a team"),
    ({"environments": {"prod": {"reviewers": ["a", "a"]}}}, "a reviewer is listed twice"),
    ({"environments": {"prod": {"reviewers": [f"u{i}" for i in range(7)]}}}, "at most 6 items"),
    ({"environments": {"prod": {"waitTimer": 43201}}}, "less than or equal to 43200"),
    (
        {"environments": {"prod": {"protectedBranchesOnly": True, "deploymentBranches": ["main"]}}},
        "protectedBranchesOnly: true excludes deploymentBranches and deploymentTags",
    ),
    ({"environments": {"prod": {"deploymentTags": [""]}}}, "is not a ref name pattern"),
    ({"requiredChecks": [" ci"]}, "is not a status check name"),
    ({"promotionBranches": ["bad..name"]}, "is not a valid git ref name"),
]


@pytest.mark.parametrize(("spec", "problem"), CASES)
def test_github_settings(spec: dict[str, Any], problem: str) -> None:
    if not problem:
        SettingsSpec.model_validate(spec)
        return
    with pytest.raises(ValidationError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        SettingsSpec.model_validate(spec)
