"""Warehouse subscriptions: defaults, deprecated fields, tag filters, one-of rules, uniqueness."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kargo_actions.model.warehouse import ChartSubscription, GitSubscription, ImageSubscription, Warehouse


def warehouse(*subscriptions: dict[str, Any], **spec: Any) -> Warehouse:
    return Warehouse.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "w"},
            "spec": {"subscriptions": list(subscriptions), **spec},
        }
    )


def test_defaults_are_kargos() -> None:
    w = warehouse({"image": {"repoURL": "a/b"}}, {"git": {"repoURL": "https://h/r.git"}},
                  {"chart": {"repoURL": "oci://h/c"}})  # fmt: skip
    assert (w.spec.interval, w.spec.freight_creation_policy) == ("5m0s", "Automatic")
    image, git, chart = (s.source for s in w.subscriptions)
    assert isinstance(image, ImageSubscription)
    assert (image.image_selection_strategy, image.strict_semvers, image.discovery_limit) == (
        "SemVer",
        True,
        20,
    )
    assert (image.cache_by_tag, image.insecure_skip_tls_verify, image.constraint) == (False, False, None)
    assert isinstance(git, GitSubscription)
    assert (git.commit_selection_strategy, git.strict_semvers, git.discovery_limit) == (
        "NewestFromBranch",
        True,
        20,
    )
    assert (git.branch, git.blobless, git.include_paths) == (None, False, [])
    assert isinstance(chart, ChartSubscription)
    assert chart.is_oci
    assert chart.discovery_limit == 20
    assert [s.kind for s in w.subscriptions] == ["image", "git", "chart"]


def test_wire_names_are_kargos() -> None:
    w = warehouse({"image": {"repoURL": "a/b", "insecureSkipTLSVerify": True}})
    body = w.wire()["spec"]["subscriptions"][0]["image"]  # type: ignore[index]
    assert body["repoURL"] == "a/b"
    assert body["insecureSkipTLSVerify"] is True
    assert "allowTags" not in body
    assert "semverConstraint" not in body


@pytest.mark.parametrize(
    ("body", "allowed", "refused"),
    [
        ({"allowTagsRegexes": ["^v1"]}, ["v1.0", "v10"], ["v2.0", "latest"]),
        ({"ignoreTagsRegexes": ["-rc"]}, ["v1.0"], ["v1.0-rc1"]),
        ({"allowTagsRegexes": ["^v"], "ignoreTagsRegexes": ["^v0"]}, ["v1"], ["v0.9", "x"]),
        ({"allowTags": "^v1"}, ["v1.2"], ["v2"]),
        ({"ignoreTags": ["v1.0", "latest"]}, ["v1x0", "latest2"], ["v1.0", "latest"]),
        ({}, ["anything"], []),
    ],
)
def test_tag_filters_ignore_wins(body: dict[str, Any], allowed: list[str], refused: list[str]) -> None:
    image = warehouse({"image": {"repoURL": "a/b", **body}}).subscriptions[0].image
    assert image is not None
    assert [t for t in allowed if image.tag_allowed(t)] == allowed
    assert [t for t in refused if not image.tag_allowed(t)] == refused


def test_deprecated_fields_fold_on_git_too() -> None:
    git = warehouse({"git": {"repoURL": "https://h/r.git", "allowTags": "^v", "allowTagsRegexes": ["^r"]}})
    body = git.subscriptions[0].git
    assert body is not None
    assert body.allow_tags_regexes == ["^r", "^v"]
    assert body.allow_tags is None


@pytest.mark.parametrize(
    ("subscriptions", "message"),
    [
        ([{"image": {"repoURL": "a/b"}}, {"image": {"repoURL": "a/b"}}],
         "subscriptions[0] and subscriptions[1] both watch image a/b"),
        ([{"name": "x", "image": {"repoURL": "a/b"}}, {"name": "x", "image": {"repoURL": "a/c"}}],
         "subscriptions[0] and subscriptions[1] are both named 'x'"),
        ([{"image": {"repoURL": "a/b"}, "chart": {"repoURL": "oci://h/c"}}], "found image and chart"),
        ([{"image": {"repoURL": "a/b", "imageSelectionStrategy": "Digest"}}], "Digest strategy needs constraint"),
        ([{"image": {"repoURL": "a/b", "constraint": "latest"}}], "invalid semver constraint 'latest'"),
        ([{"git": {"repoURL": "https://h/r", "since": "2024-01-31"}}], "not an RFC 3339 date-time"),
        ([{"chart": {"repoURL": "https://h", "name": ""}}], "name is required for an https chart repository"),
    ],
)  # fmt: skip
def test_subscription_rules(subscriptions: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        warehouse(*subscriptions)


def test_digest_constraint_is_a_tag_not_a_range() -> None:
    image = warehouse(
        {"image": {"repoURL": "a/b", "imageSelectionStrategy": "Digest", "constraint": "latest"}}
    )
    assert image.subscriptions[0].repo_url == "a/b"


def test_charts_with_the_same_repo_and_other_names_may_coexist() -> None:
    w = warehouse(
        {"chart": {"repoURL": "https://h", "name": "a"}}, {"chart": {"repoURL": "https://h", "name": "b"}}
    )
    assert [s.chart.name for s in w.subscriptions if s.chart] == ["a", "b"]
