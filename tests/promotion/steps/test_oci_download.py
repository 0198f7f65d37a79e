"""oci-download: config table, and runs against a real docker-registry on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import (
    StepConfigError,
    StepFailed,
    TerminalStepError,
    validate_config,
)
from kargo_actions.promotion.steps.oci_download import OCIDownload, OCIDownloadConfig
from tests.promotion.steps.conftest import context
from tests.promotion.steps.oci_fixture import CHART_BYTES, CHART_LAYER, README_BYTES, Seeded, seeded_registry

PATTERN = r"^(oci://)?[a-zA-Z0-9._-]+(:\d+)?(/[a-zA-Z0-9._-]+)*[@:][a-zA-Z0-9._:-]+$"


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"imageRef": "ghcr.io/org/chart:1.0.0", "outPath": "c.tgz"}, []),
        ({"imageRef": "oci://127.0.0.1:5000/a/b@sha256:abc", "outPath": "c", "mediaType": "x/y"}, []),
        (
            {},
            ["config.imageRef: required field is missing", "config.outPath: required field is missing"],
        ),
        (
            {"imageRef": "ghcr.io/org/chart", "outPath": "c"},
            [f"config.imageRef: String should match pattern '{PATTERN}'"],
        ),
        ({"imageRef": "a:1", "outPath": "c", "mediaType": ""}, ["config.mediaType: must not be empty"]),
        (
            {"imageRef": "a:1", "outPath": "c", "allowOverwrite": 1},
            ["config.allowOverwrite: expected a boolean (true or false), found an integer"],
        ),
    ],
)
def test_config(config: dict[str, Any], problems: list[str]) -> None:
    if not problems:
        assert isinstance(validate_config("oci-download", OCIDownloadConfig, config), OCIDownloadConfig)
        return
    with pytest.raises(StepConfigError) as caught:
        validate_config("oci-download", OCIDownloadConfig, config)
    assert caught.value.lines() == problems


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    yield from seeded_registry(tmp_path_factory.mktemp("oci-download"))


def _run(work: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    ctx = context(work, env=env)
    return OCIDownload().run(ctx, validate_config("oci-download", OCIDownloadConfig, config))


@pytest.mark.parametrize(
    ("ref", "media_type", "expected"),
    [
        ("charts/demo:1.0.0", CHART_LAYER, CHART_BYTES),
        ("charts/demo:1.0.0", None, README_BYTES),
        ("oci://{host}/charts/demo:1.0.0", CHART_LAYER, CHART_BYTES),
        ("charts/demo@{digest}", CHART_LAYER, CHART_BYTES),
    ],
)
def test_downloads_the_chosen_layer(
    tmp_path: Path, registry: Seeded, ref: str, media_type: str | None, expected: bytes
) -> None:
    image_ref = ref.format(host=registry.host, digest=registry.chart_digest)
    if not image_ref.startswith("oci://"):
        image_ref = f"{registry.host}/{image_ref}"
    config: dict[str, Any] = {"imageRef": image_ref, "outPath": "charts/demo.tgz"}
    if media_type:
        config["mediaType"] = media_type
    result = _run(tmp_path / "work", config)
    assert (tmp_path / "work/charts/demo.tgz").read_bytes() == expected
    assert result.outputs == {}


def test_overwrite_needs_allow_overwrite(tmp_path: Path, registry: Seeded) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "c.tgz").write_text("old")
    config = {"imageRef": f"{registry.host}/charts/demo:1.0.0", "outPath": "c.tgz", "mediaType": CHART_LAYER}
    with pytest.raises(StepFailed, match="already exists"):
        _run(work, config)
    assert (work / "c.tgz").read_text() == "old"
    _run(work, {**config, "allowOverwrite": True})
    assert (work / "c.tgz").read_bytes() == CHART_BYTES


@pytest.mark.parametrize(
    ("ref", "extra", "env", "message"),
    [
        ("charts/demo:9.9.9", {}, {}, "no manifest for '9.9.9'"),
        ("charts/nothing:1.0.0", {}, {}, "charts/nothing: no manifest for .1.0.0."),
        ("charts/demo:1.0.0", {"mediaType": "application/x-none"}, {}, "has no layer of media type"),
        (
            "charts/demo:1.0.0",
            {"mediaType": CHART_LAYER},
            {"KARGO_ACTIONS_OCI_DOWNLOAD_MAX_BYTES": "100"},
            "over the limit of 100",
        ),
        ("app/multi:1.0.0", {}, {}, "is an image index"),
    ],
)
def test_refusals_are_terminal_and_write_nothing(
    tmp_path: Path, registry: Seeded, ref: str, extra: dict[str, Any], env: dict[str, str], message: str
) -> None:
    work = tmp_path / "work"
    with pytest.raises(TerminalStepError, match=message):
        _run(work, {"imageRef": f"{registry.host}/{ref}", "outPath": "out", **extra}, env=env)
    assert list(work.iterdir()) == []
