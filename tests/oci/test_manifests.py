"""oci/manifests.py: the manifest helpers discovery and the oci steps share, and the words each side shows."""

from __future__ import annotations

import hashlib
import json

import pytest

from kargo_actions.oci.errors import MalformedResponseError, RegistryError
from kargo_actions.oci.manifests import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    FetchedManifest,
    NotAnObjectError,
    Platform,
    digest_of,
    is_index,
    json_object,
    parse_config,
    parse_manifest,
)
from kargo_actions.promotion.step_api import TerminalStepError
from kargo_actions.promotion.steps.support.ociutil import json_object as step_json_object

REPO = "127.0.0.1:5000/app"
IMAGE = {
    "schemaVersion": 2,
    "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:c0", "size": 2},
    "layers": [],
    "annotations": {"b": "2", "a": "1"},
}
INDEX = {
    "schemaVersion": 2,
    "manifests": [
        {
            "digest": "sha256:m1",
            "mediaType": OCI_MANIFEST,
            "platform": {"os": "linux", "architecture": "arm64"},
        },
        {"digest": "sha256:m2", "mediaType": OCI_MANIFEST},
    ],
}


def test_digest_of_is_the_registry_digest_of_the_bytes() -> None:
    body = b'{"schemaVersion":2}'
    assert digest_of(body) == "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    ("media_type", "document", "index"),
    [
        (OCI_INDEX, {}, True),
        (DOCKER_LIST, {}, True),
        (OCI_MANIFEST, {"config": {}}, False),
        (DOCKER_MANIFEST, {"config": {}}, False),
        ("", {"manifests": []}, True),  # no media type: the manifests array tells
        ("", {"config": {}}, False),
    ],
)
def test_is_index(media_type: str, document: dict[str, object], index: bool) -> None:
    assert is_index(media_type, document) is index


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "is not JSON: Expecting property name"),
        (b"[1]", "is not a JSON object"),
        (b'"x"', "is not a JSON object"),
    ],
)
def test_json_object_refuses_what_is_no_object(body: bytes, message: str) -> None:
    with pytest.raises(NotAnObjectError) as err:
        json_object(body)
    assert str(err.value).startswith(message)


def test_the_client_and_the_steps_word_a_bad_manifest_as_before() -> None:
    with pytest.raises(MalformedResponseError) as client_err:
        parse_manifest(FetchedManifest("sha256:ab", OCI_MANIFEST, b"[]"), REPO)
    assert str(client_err.value) == f"image {REPO}: manifest sha256:ab is not a JSON object"
    assert isinstance(client_err.value, RegistryError)
    with pytest.raises(TerminalStepError) as step_err:
        step_json_object(b"[]", f"{REPO}:1.0")
    assert str(step_err.value) == f"the manifest of {REPO}:1.0 is not a JSON object"
    with pytest.raises(TerminalStepError, match=rf"^the manifest of {REPO}:1.0 is not JSON: Expecting value"):
        step_json_object(b"", f"{REPO}:1.0")


def test_parse_manifest_reads_an_image_and_an_index() -> None:
    image = parse_manifest(FetchedManifest("sha256:i", "", json.dumps(IMAGE).encode()), REPO)
    assert (image.media_type, image.config_digest, image.children) == (OCI_MANIFEST, "sha256:c0", ())
    assert image.annotations == (("a", "1"), ("b", "2"))
    index = parse_manifest(FetchedManifest("sha256:x", "", json.dumps(INDEX).encode()), REPO)
    assert index.is_index
    assert index.media_type == OCI_INDEX
    assert [(c.digest, c.platform) for c in index.children] == [
        ("sha256:m1", Platform(os="linux", architecture="arm64")),
        ("sha256:m2", None),
    ]
    with pytest.raises(MalformedResponseError, match="index sha256:x has an entry without digest"):
        parse_manifest(FetchedManifest("sha256:x", OCI_INDEX, b'{"manifests": [{}]}'), REPO)
    with pytest.raises(MalformedResponseError, match="manifest sha256:i has no config digest"):
        parse_manifest(FetchedManifest("sha256:i", OCI_MANIFEST, b"{}"), REPO)


def test_parse_config_reads_date_platform_and_labels() -> None:
    body = json.dumps(
        {
            "created": "2024-06-01T00:00:00Z",
            "os": "linux",
            "architecture": "amd64",
            "config": {"Labels": {"k": "v"}},
        }
    ).encode()
    config = parse_config("sha256:c0", body, REPO)
    assert (config.created, str(config.platform), config.labels) == (
        "2024-06-01T00:00:00Z",
        "linux/amd64",
        (("k", "v"),),
    )
    with pytest.raises(MalformedResponseError, match=rf"^image {REPO}: image config sha256:c0 is not JSON"):
        parse_config("sha256:c0", b"not json", REPO)
