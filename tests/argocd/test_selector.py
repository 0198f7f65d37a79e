"""Label selectors: matchLabels / matchExpressions to Kubernetes' selector text, and what it matches."""

from __future__ import annotations

import pytest

from kargo_actions.argocd.selector import Requirement, selector_text
from tests.support.argocd_server import label_selector_matches

LABELS = {"env": "prod", "team": "web", "tier": "front"}


@pytest.mark.parametrize(
    ("match_labels", "expressions", "text", "matches"),
    [
        ({"env": "prod"}, [], "env=prod", True),
        ({"team": "web", "env": "prod"}, [], "env=prod,team=web", True),
        ({"env": "dev"}, [], "env=dev", False),
        ({}, [Requirement("env", "In", ("staging", "prod"))], "env in (prod,staging)", True),
        ({}, [Requirement("env", "NotIn", ("prod",))], "env notin (prod)", False),
        ({}, [Requirement("tier", "Exists")], "tier", True),
        ({}, [Requirement("canary", "DoesNotExist")], "!canary", True),
        (
            {"team": "web"},
            [Requirement("env", "In", ("prod",)), Requirement("x", "Exists")],
            "team=web,env in (prod),x",
            False,
        ),
        ({"app.kubernetes.io/part-of": "gb"}, [], "app.kubernetes.io/part-of=gb", False),
    ],
)
def test_selector_text_and_its_meaning(
    match_labels: dict[str, str], expressions: list[Requirement], text: str, matches: bool
) -> None:
    assert selector_text(match_labels, expressions) == text
    assert label_selector_matches(text, LABELS) is matches


@pytest.mark.parametrize(
    ("match_labels", "expressions", "problem"),
    [
        ({}, [Requirement("env", "In")], "values must not be empty for In and NotIn"),
        ({}, [Requirement("env", "Exists", ("x",))], "values must be empty for Exists and DoesNotExist"),
        ({"bad key!": "x"}, [], "'bad key!' is not a valid label key"),
        ({"env": "a b"}, [], "env: 'a b' is not a valid label value"),
        (
            {},
            [Requirement("env", "Near", ("x",))],
            "operator 'Near' is not In, NotIn, Exists or DoesNotExist",
        ),
    ],
)
def test_selectors_kubernetes_would_refuse(
    match_labels: dict[str, str], expressions: list[Requirement], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        selector_text(match_labels, expressions)
