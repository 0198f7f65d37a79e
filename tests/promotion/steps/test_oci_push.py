"""oci-push: config table, and pushes to a real docker-registry on 127.0.0.1, pulled back and digests checked."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kargo_actions.promotion.step_api import StepConfigError, StepError, TerminalStepError, validate_config
from kargo_actions.promotion.steps.oci_download import OCIDownload, OCIDownloadConfig
from kargo_actions.promotion.steps.oci_push import OCIPush, OCIPushConfig
from tests.discovery.registry_server import (
    PASSWORD,
    USER,
    Registry,
    docker_config,
    require_tools,
    start_registry,
)
from tests.promotion.steps.conftest import context
from tests.promotion.steps.oci_fixture import (
    CHART_BYTES,
    CHART_LAYER,
    README_BYTES,
    Seeded,
    chart_manifest,
    digest_of,
    seeded_registry,
)

DEST_PATTERN = r"^(oci://)?[a-zA-Z0-9._-]+(:\d+)?(/[a-zA-Z0-9._-]+)*[:][a-zA-Z0-9._-]+$"
ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"srcRef": "r.io/a:1", "destRef": "r.io/b:2"}, []),
        (
            {
                "srcRef": "oci://r.io/a@sha256:ab",
                "destRef": "oci://r.io/a:v2",
                "annotations": {"index:k": "v"},
            },
            [],
        ),
        ({}, ["config.srcRef: required field is missing", "config.destRef: required field is missing"]),
        (
            {"srcRef": "r.io/a:1", "destRef": "r.io/b@sha256:ab"},
            [f"config.destRef: String should match pattern '{DEST_PATTERN}'"],
        ),
        (
            {"srcRef": "r.io/a:1", "destRef": "r.io/b:2", "annotations": {"k": 1}},
            ["config.annotations.k: expected a string, found an integer"],
        ),
    ],
)
def test_config(config: dict[str, Any], problems: list[str]) -> None:
    if not problems:
        assert isinstance(validate_config("oci-push", OCIPushConfig, config), OCIPushConfig)
        return
    with pytest.raises(StepConfigError) as caught:
        validate_config("oci-push", OCIPushConfig, config)
    assert caught.value.lines() == problems


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from seeded_registry(tmp_path_factory.mktemp("oci-push"))


def _push(tmp_path: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    return OCIPush().run(
        context(tmp_path / "work", env=env), validate_config("oci-push", OCIPushConfig, config)
    )


def _manifest(registry: Seeded, name: str, ref: str) -> tuple[str, dict[str, Any]]:
    resp = httpx.get(f"http://{registry.host}/v2/{name}/manifests/{ref}", headers={"Accept": ACCEPT})
    resp.raise_for_status()
    assert digest_of(resp.content) == resp.headers["docker-content-digest"]
    return resp.headers["docker-content-digest"], resp.json()


def test_copy_to_another_repository_keeps_the_digest_and_pulls_back(tmp_path: Path, registry: Seeded) -> None:
    host = registry.host
    result = _push(
        tmp_path, {"srcRef": f"{host}/charts/demo:1.0.0", "destRef": f"oci://{host}/prod/demo:1.0.0"}
    )
    assert result.outputs == {
        "image": f"{host}/prod/demo:1.0.0",
        "digest": registry.chart_digest,
        "tag": "1.0.0",
    }
    digest, _ = _manifest(registry, "prod/demo", "1.0.0")
    assert digest == registry.chart_digest
    download = validate_config(
        "oci-download",
        OCIDownloadConfig,
        {"imageRef": f"{host}/prod/demo@{digest}", "outPath": "chart.tgz", "mediaType": CHART_LAYER},
    )
    OCIDownload().run(context(tmp_path / "pulled"), download)
    assert (tmp_path / "pulled/chart.tgz").read_bytes() == CHART_BYTES


def test_retag_in_place_with_annotations(tmp_path: Path, registry: Seeded) -> None:
    host = registry.host
    config = {
        "srcRef": f"{host}/charts/demo@{registry.chart_digest}",
        "destRef": f"{host}/charts/demo:stable",
        "annotations": {"io.kargo.promotion": "dev.01abc", "manifest:team": "web", "index:ignored": "x"},
    }
    result = _push(tmp_path, config)
    digest, manifest = _manifest(registry, "charts/demo", "stable")
    assert result.outputs["digest"] == digest != registry.chart_digest
    assert manifest["annotations"] == {
        "org.opencontainers.image.title": "demo",
        "io.kargo.promotion": "dev.01abc",
        "team": "web",
    }
    # Same repository: only the manifest moved, the layers are the source's.
    assert [layer["digest"] for layer in manifest["layers"]][1] == digest_of(CHART_BYTES)


def test_multi_platform_index_is_copied_whole(tmp_path: Path, registry: Seeded) -> None:
    host = registry.host
    result = _push(tmp_path, {"srcRef": f"{host}/app/multi:1.0.0", "destRef": f"{host}/mirror/multi:v1"})
    digest, index = _manifest(registry, "mirror/multi", "v1")
    assert result.outputs["digest"] == digest == registry.index_digest
    platforms = []
    for entry in index["manifests"]:
        child_digest, child = _manifest(registry, "mirror/multi", entry["digest"])
        assert child_digest == entry["digest"]
        for blob in [child["config"], *child["layers"]]:
            got = httpx.get(f"http://{host}/v2/mirror/multi/blobs/{blob['digest']}", follow_redirects=True)
            assert digest_of(got.content) == blob["digest"]
        platforms.append(entry["platform"]["architecture"])
    assert sorted(platforms) == ["amd64", "arm64"]


def test_index_annotations_go_where_their_prefix_says(tmp_path: Path, registry: Seeded) -> None:
    host = registry.host
    config = {
        "srcRef": f"{host}/app/multi:1.0.0",
        "destRef": f"{host}/mirror/annotated:v1",
        "annotations": {"index:rev": "abc", "desc": "image"},
    }
    result = _push(tmp_path, config)
    digest, index = _manifest(registry, "mirror/annotated", "v1")
    assert result.outputs["digest"] == digest
    assert index["annotations"] == {"rev": "abc"}
    for entry in index["manifests"]:
        _, child = _manifest(registry, "mirror/annotated", entry["digest"])
        assert child["annotations"] == {"desc": "image"}


@pytest.mark.parametrize(
    ("src", "env", "message"),
    [
        ("charts/demo:0.0.0", {}, "no manifest for '0.0.0'"),
        ("app/multi:1.0.0", {"KARGO_ACTIONS_OCI_PUSH_MAX_BYTES": "200"}, "over the copy limit of 200 bytes"),
    ],
)
def test_refusals(tmp_path: Path, registry: Seeded, src: str, env: dict[str, str], message: str) -> None:
    host = registry.host
    with pytest.raises(TerminalStepError, match=message):
        _push(tmp_path, {"srcRef": f"{host}/{src}", "destRef": f"{host}/refused/x:1"}, env=env)
    assert httpx.get(f"http://{host}/v2/refused/x/manifests/1", headers={"Accept": ACCEPT}).status_code == 404


def test_registry_down_is_retryable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StepError) as caught:
        _push(tmp_path, {"srcRef": f"127.0.0.1:{port}/a:1", "destRef": f"127.0.0.1:{port}/b:1"})
    assert not isinstance(caught.value, TerminalStepError)
    assert str(caught.value).startswith(f"oci-push 127.0.0.1:{port}/a:1 -> 127.0.0.1:{port}/b:1: ")


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """docker-registry behind a bearer-token realm (as ghcr.io): pushing needs a token with push access."""
    require_tools()
    registry = start_registry(tmp_path_factory.mktemp("oci-push-token") / "server", auth="token")
    try:
        registry.upload("private/demo", [b"{}", README_BYTES, CHART_BYTES], [("1.0.0", chart_manifest())])
        yield registry
    finally:
        registry.stop()


def test_push_through_a_token_realm_asks_for_push_access(tmp_path: Path, token_registry: Registry) -> None:
    host = token_registry.host
    config = {"srcRef": f"{host}/private/demo:1.0.0", "destRef": f"{host}/private/copy:1.0.0"}
    # Without credentials the realm grants nothing: a terminal authentication error.
    with pytest.raises(TerminalStepError, match="401 unauthorized and no credentials"):
        _push(tmp_path / "anonymous", config, env={"DOCKER_CONFIG": str(tmp_path / "none")})
    docker = docker_config(tmp_path, host, USER, PASSWORD)
    result = _push(tmp_path / "alice", config, env={"DOCKER_CONFIG": str(docker)})
    assert result.outputs["digest"] == digest_of(chart_manifest())
    # What was pushed reads back with a pull token, digest for digest.
    pulled = validate_config(
        "oci-download",
        OCIDownloadConfig,
        {"imageRef": f"{host}/private/copy:1.0.0", "outPath": "chart.tgz", "mediaType": CHART_LAYER},
    )
    OCIDownload().run(context(tmp_path / "pulled", env={"DOCKER_CONFIG": str(docker)}), pulled)
    assert (tmp_path / "pulled/chart.tgz").read_bytes() == CHART_BYTES
