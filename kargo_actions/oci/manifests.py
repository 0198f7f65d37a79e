"""OCI and Docker manifests: media types, digests, and what discovery and the oci steps read from them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from kargo_actions.oci.errors import MalformedResponseError
from kargo_actions.struct import struct

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})


def digest_of(content: bytes) -> str:
    """The sha256 digest that names these bytes in a registry (`sha256:<hex>`)."""
    return "sha256:" + hashlib.sha256(content).hexdigest()


def is_index(media_type: str, document: Mapping[str, Any]) -> bool:
    """An image index or manifest list: by its media type, or by a `manifests` array when the type is unset."""
    return media_type in INDEX_TYPES or "manifests" in document


class NotAnObjectError(ValueError):
    """A manifest or config body that is no JSON object; the message completes "<what> ..."."""


def json_object(body: bytes) -> dict[str, Any]:
    """A manifest's or config's JSON object; NotAnObjectError (`is not JSON: ...`) for anything else."""
    try:
        data = json.loads(body)
    except ValueError as err:
        raise NotAnObjectError(f"is not JSON: {err}") from err
    if not isinstance(data, dict):
        raise NotAnObjectError("is not a JSON object")
    return data


def _document(body: bytes, what: str, repo_url: str) -> dict[str, Any]:
    try:
        return json_object(body)
    except NotAnObjectError as err:
        raise MalformedResponseError(repo_url, f"{what} {err}") from err


@struct
class Platform:
    """os/architecture[/variant] as an index entry or an image config states it."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@struct
class ChildManifest:
    """One entry of an index / manifest list."""

    digest: str
    media_type: str
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()


@struct
class ManifestInfo:
    """What discovery needs from one manifest; a digest names its content, so this never goes stale."""

    digest: str
    media_type: str
    annotations: tuple[tuple[str, str], ...] = ()
    config_digest: str = ""  # image manifests
    children: tuple[ChildManifest, ...] = ()  # indexes and manifest lists

    @property
    def is_index(self) -> bool:
        return bool(self.children) or self.media_type.endswith(("index.v1+json", "manifest.list.v2+json"))


@struct
class ConfigInfo:
    """What discovery needs from an image config blob: its date, platform and labels."""

    digest: str
    created: str = ""
    platform: Platform | None = None
    labels: tuple[tuple[str, str], ...] = ()


@struct
class ManifestHead:
    """What a HEAD on a manifest tells: its digest and media type."""

    digest: str
    media_type: str


@struct
class FetchedManifest:
    digest: str
    media_type: str
    body: bytes


def parse_manifest(fetched: FetchedManifest, repo_url: str) -> ManifestInfo:
    """What discovery reads from a manifest or index; MalformedResponseError (naming repo_url) when it is neither."""
    data = _document(fetched.body, f"manifest {fetched.digest}", repo_url)
    media_type = str(data.get("mediaType") or fetched.media_type)
    annotations = _string_pairs(data.get("annotations"))
    if is_index(media_type, data):
        children = []
        for entry in data.get("manifests") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
                raise MalformedResponseError(repo_url, f"index {fetched.digest} has an entry without digest")
            plat = entry.get("platform")
            platform = (
                Platform(
                    os=str(plat.get("os", "")),
                    architecture=str(plat.get("architecture", "")),
                    variant=str(plat.get("variant", "")),
                )
                if isinstance(plat, dict)
                else None
            )
            children.append(
                ChildManifest(
                    digest=entry["digest"],
                    media_type=str(entry.get("mediaType", "")),
                    platform=platform,
                    annotations=_string_pairs(entry.get("annotations")),
                )
            )
        return ManifestInfo(
            digest=fetched.digest,
            media_type=media_type or OCI_INDEX,
            annotations=annotations,
            children=tuple(children),
        )
    config = data.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
        raise MalformedResponseError(repo_url, f"manifest {fetched.digest} has no config digest")
    return ManifestInfo(
        digest=fetched.digest,
        media_type=media_type or OCI_MANIFEST,
        annotations=annotations,
        config_digest=config["digest"],
    )


def parse_config(digest: str, body: bytes, repo_url: str) -> ConfigInfo:
    """What discovery reads from an image config blob: its date, platform and labels."""
    data = _document(body, f"image config {digest}", repo_url)
    inner = data.get("config") if isinstance(data.get("config"), dict) else {}
    assert isinstance(inner, dict)
    os_, arch = data.get("os"), data.get("architecture")
    platform = (
        Platform(os=os_, architecture=arch, variant=str(data.get("variant", "")))
        if isinstance(os_, str) and isinstance(arch, str)
        else None
    )
    created = data.get("created")
    return ConfigInfo(
        digest=digest,
        created=created if isinstance(created, str) else "",
        platform=platform,
        labels=_string_pairs(inner.get("Labels")),
    )


def _string_pairs(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in value.items()))
