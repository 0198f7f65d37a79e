"""URL normalisation: Kargo's own tables (pkg/urls *_test.go at 1c764767) as data, and the Freight IDs they make."""

from __future__ import annotations

import hashlib

import pytest

from kargo_actions.freight.identity import freight_id
from kargo_actions.freight.urls import (
    is_ssh_git_url,
    normalize_chart_url,
    normalize_git_url,
    normalize_image_url,
    sanitize_url,
)
from kargo_actions.model.freight import Chart, FreightOrigin, GitCommit

SANITIZE: dict[str, str] = {
    "  https://example.com/repo  ": "https://example.com/repo",
    "\n\thttps://example.com/repo\t\n": "https://example.com/repo",
    "\ufeffhttps://example.com/repo": "https://example.com/repo",
    "https://example.com/\u200brepo": "https://example.com/repo",
    "https://example.com/repo\ufeff": "https://example.com/repo",
    "\ufeff https://example.com/\u200brepo \ufeff": "https://example.com/repo",
    "\ufeff \n https://example.com/\trepo \u200b \n ": "https://example.com/repo",
    "https://example.com/repo": "https://example.com/repo",
    "ftp://example.com/resource": "ftp://example.com/resource",
    "   ": "",
    "": "",
    "https://example.com/ myrepo": "https://example.com/ myrepo",
    "https://example.com/\u200bmyrepo": "https://example.com/myrepo",
}


@pytest.mark.parametrize(("url", "expected"), SANITIZE.items(), ids=[repr(k) for k in SANITIZE])
def test_sanitize_url(url: str, expected: str) -> None:
    assert sanitize_url(url) == expected


GIT: dict[str, str] = {
    # What cannot be normalised comes back as given.
    "https://not a url": "https://not a url",
    "http://github.com/example/repo?foo=bar": "http://github.com/example/repo?foo=bar",
    "ssh://not a url": "ssh://not a url",
    "ssh://github.com/example/repo?foo=bar": "ssh://github.com/example/repo?foo=bar",
    "not even remotely a url": "not even remotely a url",
    # http[s]://[proxy-user:proxy-pass@]host.xz[:port][/path/to/repo[.git][/]]
    "https://github.com": "https://github.com",
    "https://github.com/": "https://github.com",
    "https://foo:bar@github.com": "https://github.com",
    "https://foo:bar@github.com/": "https://github.com",
    "https://github.com/example/repo": "https://github.com/example/repo",
    "https://github.com/example/repo/": "https://github.com/example/repo",
    "https://github.com/example/repo.git": "https://github.com/example/repo",
    "https://github.com/example/repo.git/": "https://github.com/example/repo",
    "https://localhost:8443/example/repo": "https://localhost:8443/example/repo",
    "https://localhost:8443/example/repo/": "https://localhost:8443/example/repo",
    "https://localhost:8443/example/repo.git": "https://localhost:8443/example/repo",
    "https://localhost:8443/example/repo.git/": "https://localhost:8443/example/repo",
    "https://foo:bar@github.com/example/repo": "https://github.com/example/repo",
    "https://foo:bar@github.com/example/repo/": "https://github.com/example/repo",
    "https://foo:bar@github.com/example/repo.git": "https://github.com/example/repo",
    "https://foo:bar@github.com/example/repo.git/": "https://github.com/example/repo",
    "https://foo:bar@localhost:8443/example/repo": "https://localhost:8443/example/repo",
    "https://foo:bar@localhost:8443/example/repo/": "https://localhost:8443/example/repo",
    "https://foo:bar@localhost:8443/example/repo.git": "https://localhost:8443/example/repo",
    "https://foo:bar@localhost:8443/example/repo.git/": "https://localhost:8443/example/repo",
    # ssh://[user@]host.xz[:port][/path/to/repo[.git][/]]
    "ssh://git.example.com": "ssh://git.example.com",
    "ssh://git.example.com/": "ssh://git.example.com",
    "ssh://git@git.example.com": "ssh://git@git.example.com",
    "ssh://git@git.example.com/": "ssh://git@git.example.com",
    "ssh://github.com/example/repo": "ssh://github.com/example/repo",
    "ssh://github.com/example/repo/": "ssh://github.com/example/repo",
    "ssh://github.com/example/repo.git": "ssh://github.com/example/repo",
    "ssh://github.com/example/repo.git/": "ssh://github.com/example/repo",
    "ssh://localhost:2222/example/repo": "ssh://localhost:2222/example/repo",
    "ssh://localhost:2222/example/repo/": "ssh://localhost:2222/example/repo",
    "ssh://localhost:2222/example/repo.git": "ssh://localhost:2222/example/repo",
    "ssh://localhost:2222/example/repo.git/": "ssh://localhost:2222/example/repo",
    "ssh://git@github.com/example/repo": "ssh://git@github.com/example/repo",
    "ssh://git@github.com/example/repo/": "ssh://git@github.com/example/repo",
    "ssh://git@github.com/example/repo.git": "ssh://git@github.com/example/repo",
    "ssh://git@github.com/example/repo.git/": "ssh://git@github.com/example/repo",
    "ssh://git@localhost:2222/example/repo": "ssh://git@localhost:2222/example/repo",
    "ssh://git@localhost:2222/example/repo/": "ssh://git@localhost:2222/example/repo",
    "ssh://git@localhost:2222/example/repo.git": "ssh://git@localhost:2222/example/repo",
    "ssh://git@localhost:2222/example/repo.git/": "ssh://git@localhost:2222/example/repo",
    # scp-style [user@]host.xz[:path/to/repo[.git][/]]
    "git.example.com": "ssh://git.example.com",
    "git@git.example.com": "ssh://git@git.example.com",
    "github.com:example/repo": "ssh://github.com/example/repo",
    "github.com:example/repo/": "ssh://github.com/example/repo",
    "github.com:example/repo.git": "ssh://github.com/example/repo",
    "github.com:example/repo.git/": "ssh://github.com/example/repo",
    "git@github.com:example/repo": "ssh://git@github.com/example/repo",
    "git@github.com:example/repo/": "ssh://git@github.com/example/repo",
    "git@github.com:example/repo.git": "ssh://git@github.com/example/repo",
    "git@github.com:example/repo.git/": "ssh://git@github.com/example/repo",
    # Ours: case and invisible characters, as SanitizeURL strips them before parsing.
    "\ufeffGit@GitHub.com:Example/Repo.git\u200b ": "ssh://git@github.com/example/repo",
    "https://github.com/example/\trepo.git": "https://github.com/example/repo",
}


@pytest.mark.parametrize(("url", "expected"), GIT.items(), ids=list(GIT))
def test_normalize_git_url(url: str, expected: str) -> None:
    assert normalize_git_url(url) == expected


IMAGE: list[tuple[str, str]] = [
    ("index.docker.io/library/busybox", "busybox"),
    ("index.docker.io/busybox", "busybox"),
    ("registry-1.docker.io/library/busybox", "busybox"),
    ("registry-1.docker.io/busybox", "busybox"),
    ("docker.io/library/busybox", "busybox"),
    ("docker.io/busybox", "busybox"),
    ("library/busybox", "busybox"),
    ("busybox", "busybox"),
    ("index.docker.io/example/repo", "example/repo"),
    ("docker.io/example/repo", "example/repo"),
    ("example/repo", "example/repo"),
    ("ghcr.io/example/repo", "ghcr.io/example/repo"),
    ("quay.io/example/repo", "quay.io/example/repo"),
    ("invalid url", "invalid url"),
    # Ours: a tag or digest names the same repository; a port makes the first part a registry.
    ("GHCR.io/Example/Repo:v1.2.3", "ghcr.io/example/repo"),
    ("nginx@sha256:" + "a" * 64, "nginx"),
    ("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app"),
]


@pytest.mark.parametrize(("url", "expected"), IMAGE, ids=[c[0] for c in IMAGE])
def test_normalize_image_url(url: str, expected: str) -> None:
    assert normalize_image_url(url) == expected


CHART: list[tuple[str, str, str]] = [
    ("empty string", "", ""),
    ("single word", "repo", "repo"),
    ("leading and trailing whitespace", "  repo  ", "repo"),
    ("mixed case", "REpo", "repo"),
    ("oci prefix", "oci://repo", "repo"),
    ("oci prefix with whitespace", "  oci://repo  ", "repo"),
    ("oci prefix with mixed case", "OCI://Repo", "repo"),
    ("docker.io URL with oci prefix", "oci://docker.io/example/repo", "example/repo"),
    ("docker.io URL without oci prefix", "docker.io/example/repo", "example/repo"),
    ("index.docker.io URL with oci prefix", "oci://index.docker.io/example/repo", "example/repo"),
    ("index.docker.io URL without oci prefix", "index.docker.io/example/repo", "example/repo"),
    ("registry-1.docker.io URL with oci prefix", "oci://registry-1.docker.io/example/repo", "example/repo"),
    ("registry-1.docker.io URL without oci prefix", "registry-1.docker.io/example/repo", "example/repo"),
    ("ours: an https chart repository", "https://Charts.Example.com", "https://charts.example.com"),
    ("ours: a BOM before oci://", "\ufeffoci://ghcr.io/org/charts", "ghcr.io/org/charts"),
]


@pytest.mark.parametrize(("url", "expected"), [c[1:] for c in CHART], ids=[c[0] for c in CHART])
def test_normalize_chart_url(url: str, expected: str) -> None:
    assert normalize_chart_url(url) == expected


@pytest.mark.parametrize(
    ("url", "ssh"),
    [
        ("ssh://git@github.com/example/repo", True),
        ("git@github.com:example/repo.git", True),
        ("SSH://github.com/example/repo", True),
        ("https://github.com/example/repo", False),
        ("http://127.0.0.1:8080/repo.git", False),
        ("file:///srv/git/repo", False),
        ("/srv/git/repo", False),
    ],
)
def test_is_ssh_git_url(url: str, ssh: bool) -> None:
    assert is_ssh_git_url(url) is ssh


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - Kargo's ID is SHA-1


ORIGIN = FreightOrigin(name="w")


@pytest.mark.parametrize(
    "url",
    [
        "ssh://git@github.com/example/repo.git/",
        "git@github.com:example/repo.git",
        "\ufeffgit@GitHub.com:example/repo\u200b",
        "ssh://git@github.com/example/repo",
    ],
)
def test_freight_id_of_ssh_subscriptions_is_kargos(url: str) -> None:
    commit = GitCommit(repo_url=url, id="abc", subscription_name="cfg")
    assert freight_id(ORIGIN, commits=[commit]) == _sha1(
        "Warehouse/w:ssh://git@github.com/example/repo:abc:cfg"
    )


@pytest.mark.parametrize(
    "url",
    ["oci://registry-1.docker.io/bitnami", "oci://docker.io/bitnami", "\ufeffOCI://index.docker.io/bitnami"],
)
def test_freight_id_of_docker_hub_charts_is_kargos(url: str) -> None:
    chart = Chart(repo_url=url, name="redis", version="18.0.0")
    assert freight_id(ORIGIN, charts=[chart]) == _sha1("Warehouse/w:bitnami/redis:18.0.0")
