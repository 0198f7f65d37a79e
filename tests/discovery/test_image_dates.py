"""NewestBuild dates as on Kargo main (#6777): Kargo's repository_client date tables at 1c764767, as data.

Single images are dated by the pure rule (image_date); indexes are served by a registry answering hand-written
manifests, so each case is exactly the index Kargo's table describes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.discovery.image import (
    DiscoveredImage,
    ImageDiscoveryError,
    discover_images,
    image_date,
    parse_platform,
)
from kargo_actions.model.warehouse import ImageSubscription
from kargo_actions.oci.cache import MetadataCache
from kargo_actions.oci.manifests import ConfigInfo
from kargo_actions.oci.session import RegistrySession
from tests.discovery.registry_server import PagingServer

OCI = "org.opencontainers.image.created"
LEGACY = "org.label-schema.build-date"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# name, manifest annotations, config labels, config created, expected date (None: Go's zero time)
SINGLE: list[tuple[str, dict[str, str], dict[str, str], str, datetime | None]] = [
    ("basic case: nothing dates it", {}, {}, "", None),
    ("annotation", {OCI: "2023-01-01T00:00:00Z"}, {}, "", at("2023-01-01")),
    ("date taken from label", {}, {OCI: "2023-02-01T00:00:00Z"}, "2023-01-01T00:00:00Z", at("2023-02-01")),
    (
        "annotation beats label",
        {OCI: "2023-03-01T00:00:00Z"},
        {OCI: "2023-02-01T00:00:00Z"},
        "2023-01-01T00:00:00Z",
        at("2023-03-01"),
    ),
    ("legacy annotation", {LEGACY: "2023-04-01T00:00:00Z"}, {}, "2023-01-01T00:00:00Z", at("2023-04-01")),
    ("legacy label", {}, {LEGACY: "2023-05-01T00:00:00Z"}, "2023-01-01T00:00:00Z", at("2023-05-01")),
    (
        "OCI annotation beats legacy annotation",
        {OCI: "2023-06-01T00:00:00Z", LEGACY: "2023-07-01T00:00:00Z"},
        {},
        "2023-01-01T00:00:00Z",
        at("2023-06-01"),
    ),
    (
        "legacy annotation beats OCI label",
        {LEGACY: "2023-09-01T00:00:00Z"},
        {OCI: "2023-08-01T00:00:00Z"},
        "2023-01-01T00:00:00Z",
        at("2023-09-01"),
    ),
    (
        "OCI label beats legacy label",
        {},
        {OCI: "2023-10-01T00:00:00Z", LEGACY: "2023-11-01T00:00:00Z"},
        "2023-01-01T00:00:00Z",
        at("2023-10-01"),
    ),
    ("config created when nothing else", {}, {}, "2023-12-01T00:00:00Z", at("2023-12-01")),
    (
        "config created when later than the label (a base image's label)",
        {},
        {OCI: "2023-01-01T00:00:00Z"},
        "2023-12-01T00:00:00Z",
        at("2023-12-01"),
    ),
    (
        "label when later than config created (reproducible builds)",
        {},
        {OCI: "2023-05-01T00:00:00Z"},
        "",
        at("2023-05-01"),
    ),
    (
        "annotation even when config created is later",
        {OCI: "2023-01-01T00:00:00Z"},
        {},
        "2023-12-01T00:00:00Z",
        at("2023-01-01"),
    ),
    (
        "ours: an unparsable OCI label falls to the legacy one",
        {},
        {OCI: "yesterday", LEGACY: "2023-02-02T00:00:00Z"},
        "2023-01-01T00:00:00Z",
        at("2023-02-02"),
    ),
]


@pytest.mark.parametrize(
    ("annotations", "labels", "created", "expected"), [c[1:] for c in SINGLE], ids=[c[0] for c in SINGLE]
)
def test_single_image_date(
    annotations: dict[str, str], labels: dict[str, str], created: str, expected: datetime | None
) -> None:
    config = ConfigInfo(digest="sha256:c", created=created, labels=tuple(sorted(labels.items())))
    assert image_date(tuple(sorted(annotations.items())), config) == expected


PLATFORMS: list[tuple[str, tuple[str, str, str] | None]] = [
    ("invalid", None),
    ("linux/amd64", ("linux", "amd64", "")),
    ("linux/amd64/fake-variant", ("linux", "amd64", "fake-variant")),
    ("linux/arm/v7/extra", ("linux", "arm", "v7/extra")),  # split on `/` at most twice
]


@pytest.mark.parametrize(("text", "parts"), PLATFORMS, ids=[c[0] for c in PLATFORMS])
def test_parse_platform(text: str, parts: tuple[str, str, str] | None) -> None:
    parsed = parse_platform(text)
    assert (None if parsed is None else (parsed.os, parsed.architecture, parsed.variant)) == parts
    if parsed is not None:
        assert str(parsed) == text


class Repository:
    """Hand-written manifests, indexes and configs behind tags of one PagingServer repository."""

    def __init__(self, server: PagingServer) -> None:
        self.server = server

    def _put(self, body: dict[str, Any], media_type: str) -> str:
        raw = json.dumps(body).encode()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.server.manifests[digest] = (raw, media_type)
        return digest

    def image(self, created: str, annotations: dict[str, str] | None = None, arch: str = "amd64") -> str:
        config = json.dumps({"os": "linux", "architecture": arch, "created": created, "config": {}}).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        self.server.blobs[config_digest] = config
        body: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest},
            "layers": [],
        }
        if annotations:
            body["annotations"] = annotations
        return self._put(body, OCI_MANIFEST)

    def index(
        self, entries: list[tuple[str, dict[str, str] | None, dict[str, str]]], annotations: dict[str, str]
    ) -> str:
        manifests = []
        for digest, platform, entry_annotations in entries:
            entry: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": digest, "size": 1}
            if platform is not None:
                entry["platform"] = platform
            if entry_annotations:
                entry["annotations"] = entry_annotations
            manifests.append(entry)
        body: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        if annotations:
            body["annotations"] = annotations
        return self._put(body, OCI_INDEX)

    def tag(self, tag: str, digest: str) -> None:
        self.server.manifests[tag] = self.server.manifests[digest]


def newest_builds(server: PagingServer, cache: Path, **fields: Any) -> list[DiscoveredImage]:
    subscription = ImageSubscription.model_validate(
        {"repoURL": f"{server.host}/app", "imageSelectionStrategy": "NewestBuild", **fields}
    )
    with RegistrySession(cache=MetadataCache(cache)) as session:
        return list(discover_images(subscription, session).images)


AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64"}


def _index_case(repo: Repository, case: str) -> str:
    early = repo.image("2023-01-01T00:00:00Z")
    if case == "own annotation":
        return repo.index([(early, AMD64, {})], {OCI: "2023-03-01T00:00:00Z"})
    if case == "entry annotation":
        return repo.index([(early, AMD64, {OCI: "2023-02-01T00:00:00Z"})], {})
    late = repo.image("2023-04-01T00:00:00Z", arch="arm64")
    return repo.index([(early, AMD64, {}), (late, ARM64, {})], {})


INDEX: list[tuple[str, dict[str, Any], datetime]] = [
    ("own annotation", {}, at("2023-03-01")),
    ("entry annotation", {}, at("2023-02-01")),
    ("newest referenced image", {}, at("2023-04-01")),
    # Kargo dates the index by all its images; the platform only decides whether the tag qualifies.
    ("newest referenced image", {"platform": "linux/amd64"}, at("2023-04-01")),
]


@pytest.mark.parametrize(("case", "fields", "expected"), INDEX, ids=[f"{c[0]} {c[1]}" for c in INDEX])
def test_index_date(
    tmp_path: Path,
    paging_server: Callable[..., PagingServer],
    case: str,
    fields: dict[str, Any],
    expected: datetime,
) -> None:
    server = paging_server(["1.0.0"], mode="all")
    repo = Repository(server)
    repo.tag("1.0.0", _index_case(repo, case))
    [image] = newest_builds(server, tmp_path, **fields)
    assert image.created == expected


def test_entry_annotations_spare_the_image_requests(
    tmp_path: Path, paging_server: Callable[..., PagingServer]
) -> None:
    server = paging_server(["1.0.0"], mode="all")
    repo = Repository(server)
    child = repo.image("2023-01-01T00:00:00Z")
    repo.tag("1.0.0", repo.index([(child, AMD64, {OCI: "2023-02-01T00:00:00Z"})], {}))
    newest_builds(server, tmp_path)
    assert not [h for h in server.hits if child in h or "/blobs/" in h]


@pytest.mark.parametrize("strategy", ["NewestBuild", "SemVer", "Digest"])
def test_index_without_platform_entries_is_an_error(
    tmp_path: Path, paging_server: Callable[..., PagingServer], strategy: str
) -> None:
    server = paging_server(["1.0.0"], mode="all")
    repo = Repository(server)
    attestation = repo.image("2023-01-01T00:00:00Z")
    unknown = {"os": "unknown", "architecture": "unknown"}
    repo.tag("1.0.0", repo.index([(attestation, unknown, {}), (attestation, None, {})], {}))
    fields: dict[str, Any] = {"imageSelectionStrategy": strategy}
    if strategy == "Digest":
        fields["constraint"] = "1.0.0"
    with pytest.raises(ImageDiscoveryError, match="empty manifest list or OCI index") as err:
        newest_builds(server, tmp_path, **fields)
    assert err.value.repo_url == f"{server.host}/app"


def test_label_earlier_than_created_orders_by_created(
    tmp_path: Path, paging_server: Callable[..., PagingServer]
) -> None:
    # "old" carries a base image's date label; its config says it was built after "new".
    server = paging_server(["new", "old"], mode="all")
    repo = Repository(server)
    repo.tag("new", repo.image("2024-02-01T00:00:00Z"))
    config = json.dumps(
        {
            "os": "linux",
            "architecture": "amd64",
            "created": "2024-03-01T00:00:00Z",
            "config": {"Labels": {OCI: "2020-01-01T00:00:00Z"}},
        }
    ).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    server.blobs[config_digest] = config
    old = repo._put(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": config_digest}, "layers": []},
        OCI_MANIFEST,
    )
    repo.tag("old", old)
    assert [(i.tag, i.created) for i in newest_builds(server, tmp_path)] == [
        ("old", at("2024-03-01")),
        ("new", at("2024-02-01")),
    ]
