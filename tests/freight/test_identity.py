"""Freight ID test vectors: each expected material string is written out by hand from Kargo's rules."""

from __future__ import annotations

import hashlib

import pytest

from kargo_actions.freight.identity import freight_id, normalize_chart_url, normalize_git_url
from kargo_actions.model.freight import Chart, FreightOrigin, GitCommit, Image


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - Kargo's ID is SHA-1


GUESTBOOK = FreightOrigin(name="guestbook")


def test_documented_single_image_example() -> None:
    image = Image(repo_url="ghcr.io/akuity/guestbook", tag="v0.0.1", digest="sha256:abc")
    assert freight_id(GUESTBOOK, images=[image]) == sha1(
        "Warehouse/guestbook:ghcr.io/akuity/guestbook:v0.0.1@sha256:abc"
    )
    # The same ID pinned as a literal, so a broken sha1() helper above cannot hide a wrong algorithm.
    assert freight_id(GUESTBOOK, images=[image]) == "bacce7b3206b7e392fe66c85f3e26888f971ab36"


CASES: list[tuple[str, list[GitCommit], list[Image], list[Chart], str]] = [
    (
        "commit without tag, https URL with user info, .git and trailing slash",
        [GitCommit(repo_url=" https://User:Pw@GitHub.com/Org/Repo.git/ ", id="abc123")],
        [],
        [],
        "Warehouse/guestbook:https://github.com/org/repo:abc123",
    ),
    (
        "commit with a tag",
        [GitCommit(repo_url="https://github.com/org/repo", id="abc123", tag="v1.2.3")],
        [],
        [],
        "Warehouse/guestbook:https://github.com/org/repo:v1.2.3:abc123",
    ),
    (
        "scp-style URL read as ssh://, lowercased, without .git",
        [GitCommit(repo_url="git@GitHub.com:Org/Repo.git", id="def456")],
        [],
        [],
        "Warehouse/guestbook:ssh://git@github.com/org/repo:def456",
    ),
    (
        "image repoURL is not normalized",
        [],
        [Image(repo_url="GHCR.io/Org/App", tag="1.0.0", digest="sha256:1")],
        [],
        "Warehouse/guestbook:GHCR.io/Org/App:1.0.0@sha256:1",
    ),
    (
        "https chart repository: path.Join collapses the scheme's double slash",
        [],
        [],
        [Chart(repo_url="https://charts.example.com", name="nginx", version="1.2.3")],
        "Warehouse/guestbook:https:/charts.example.com/nginx:1.2.3",
    ),
    (
        "oci chart with an empty name, Docker Hub host and library/ dropped",
        [],
        [],
        [Chart(repo_url="oci://docker.io/library/Redis", version="18.0.0")],
        "Warehouse/guestbook:redis:18.0.0",
    ),
    (
        "oci chart on another registry keeps its path",
        [],
        [],
        [Chart(repo_url="oci://ghcr.io/org/charts/app", version="0.1.0")],
        "Warehouse/guestbook:ghcr.io/org/charts/app:0.1.0",
    ),
    (
        "named subscriptions append the name; parts are sorted",
        [GitCommit(repo_url="https://git.example.com/cfg", id="c0ffee", subscription_name="config")],
        [
            Image(
                repo_url="registry.example.com/web", tag="2.0.0", digest="sha256:b", subscription_name="web"
            ),
            Image(repo_url="registry.example.com/api", tag="1.0.0", digest="sha256:a"),
        ],
        [],
        "Warehouse/guestbook:"
        "https://git.example.com/cfg:c0ffee:config"
        "|registry.example.com/api:1.0.0@sha256:a"
        "|registry.example.com/web:2.0.0@sha256:b:web",
    ),
]


@pytest.mark.parametrize(
    ("label", "commits", "images", "charts", "material"), CASES, ids=[c[0] for c in CASES]
)
def test_freight_id_vectors(
    label: str, commits: list[GitCommit], images: list[Image], charts: list[Chart], material: str
) -> None:
    assert freight_id(GUESTBOOK, commits=commits, images=images, charts=charts) == sha1(material), label


def test_order_of_artifacts_does_not_change_the_id() -> None:
    a = Image(repo_url="r/a", tag="1", digest="sha256:1")
    b = Image(repo_url="r/b", tag="1", digest="sha256:2")
    assert freight_id(GUESTBOOK, images=[a, b]) == freight_id(GUESTBOOK, images=[b, a])


def test_origin_is_part_of_the_id() -> None:
    image = Image(repo_url="r/a", tag="1", digest="sha256:1")
    assert freight_id(GUESTBOOK, images=[image]) != freight_id(FreightOrigin(name="other"), images=[image])


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/org/repo.git", "https://github.com/org/repo"),
        ("http://token@git.local:8080/r.git/", "http://git.local:8080/r"),
        ("HTTPS://GitHub.com/Org/Repo", "https://github.com/org/repo"),
        ("ssh://git@github.com/org/repo.git", "ssh://git@github.com/org/repo"),
    ],
)
def test_normalize_git_url(url: str, expected: str) -> None:
    assert normalize_git_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("oci://index.docker.io/library/nginx", "nginx"),
        ("oci://docker.io/bitnami/redis", "bitnami/redis"),
        ("https://Charts.Example.com", "https://charts.example.com"),
    ],
)
def test_normalize_chart_url(url: str, expected: str) -> None:
    assert normalize_chart_url(url) == expected
