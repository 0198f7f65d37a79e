"""Kargo-compatible Freight IDs: a SHA-1 over the origin and the sorted artifact keys."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable

from kargo_actions.freight.urls import normalize_chart_url, normalize_git_url, normalize_image_url
from kargo_actions.model.freight import Chart, FreightOrigin, GitCommit, Image

__all__ = [
    "chart_key",
    "commit_key",
    "freight_id",
    "image_key",
    "normalize_chart_url",
    "normalize_git_url",
    "normalize_image_url",
]


def _go_path_join(*elems: str) -> str:
    """Go's path.Join: join the non-empty elements and clean the result (so `//` collapses)."""
    joined = "/".join(e for e in elems if e)
    if not joined:
        return ""
    cleaned = posixpath.normpath(joined)
    # posixpath keeps a leading `//`; Go's Clean does not.
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _named(key: str, subscription_name: str | None) -> str:
    return f"{key}:{subscription_name}" if subscription_name else key


def commit_key(commit: GitCommit) -> str:
    repo = normalize_git_url(commit.repo_url)
    key = f"{repo}:{commit.tag}:{commit.id}" if commit.tag else f"{repo}:{commit.id}"
    return _named(key, commit.subscription_name)


def image_key(image: Image) -> str:
    return _named(f"{image.repo_url}:{image.tag}@{image.digest}", image.subscription_name)


def chart_key(chart: Chart) -> str:
    base = _go_path_join(normalize_chart_url(chart.repo_url), chart.name)
    return _named(f"{base}:{chart.version}", chart.subscription_name)


def freight_id(
    origin: FreightOrigin,
    commits: Iterable[GitCommit] = (),
    images: Iterable[Image] = (),
    charts: Iterable[Chart] = (),
) -> str:
    """The Freight ID Kargo computes for these artifacts: lowercase hex SHA-1."""
    parts = [commit_key(c) for c in commits] + [image_key(i) for i in images] + [chart_key(c) for c in charts]
    material = f"{origin.kind}/{origin.name}:" + "|".join(sorted(parts))
    return hashlib.sha1(material.encode(), usedforsecurity=False).hexdigest()
