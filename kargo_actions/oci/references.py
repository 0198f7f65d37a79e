"""Image names as docker reads them: which registry host serves a repoURL, and under what name; how a
reference `name[:tag][@digest]` splits."""

from __future__ import annotations

import re

from kargo_actions.oci.errors import RegistryError
from kargo_actions.struct import struct

# Docker Hub is known under several names; config.json files use the v1 index URL.
DOCKER_HUB_NAMES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
DOCKER_HUB_API = "registry-1.docker.io"


@struct
class ImageRepository:
    """A repoURL split as docker reads it: registry host (API host for Docker Hub) and repository name."""

    repo_url: str
    host: str
    name: str


@struct
class Reference:
    """`name[:tag][@digest]` split; tag or digest is None where its separator is absent ("" when empty)."""

    name: str
    tag: str | None
    digest: str | None


def split_reference(text: str) -> Reference:
    """The tag's colon is the last one after the last slash (a registry port's colon comes before one); the
    digest follows the first `@`. Checks nothing: each reader says which parts it requires."""
    name, at, digest = text.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return Reference(name=name, tag=tag, digest=digest if at else None)


_HOST_PART = re.compile(r"[.:]|^localhost$")


def parse_repo_url(repo_url: str) -> ImageRepository:
    """`nginx` -> registry-1.docker.io/library/nginx; `127.0.0.1:5000/a/b` -> host 127.0.0.1:5000, name a/b."""
    text = repo_url.strip()
    if not text or "@" in text or text != text.strip("/"):
        raise RegistryError(repo_url, "repoURL is not an image repository", "e.g. ghcr.io/org/app")
    first, sep, rest = text.partition("/")
    if sep and _HOST_PART.search(first):
        host, name = first.lower(), rest
    else:
        host, name = "docker.io", text
    if split_reference(name).tag is not None:
        raise RegistryError(repo_url, "repoURL must not carry a tag", "put the tag rules in constraint")
    if host in DOCKER_HUB_NAMES:
        host = DOCKER_HUB_API
        if "/" not in name:
            name = f"library/{name}"
    return ImageRepository(repo_url=repo_url, host=host, name=name)
