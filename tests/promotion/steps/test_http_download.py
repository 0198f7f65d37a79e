"""http-download: config table, and run table against a real HTTP server of the tests' own on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_actions.promotion.step_api import (
    PathEscapeError,
    StepConfigError,
    StepError,
    StepFailed,
    TerminalStepError,
    validate_config,
)
from kargo_actions.promotion.steps.http_download import HTTPDownload, HTTPDownloadConfig
from tests.promotion.steps.conftest import context
from tests.promotion.steps.http_fixture import FILE_BYTES, Server, serve


@pytest.fixture
def http_server() -> Iterator[Server]:
    yield from serve()


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        ({"url": "http://x/f", "outPath": "f"}, []),
        ({"url": "http://x/f", "outPath": "f", "allowOverwrite": True, "timeout": "10m"}, []),
        (
            {},
            ["config.url: required field is missing", "config.outPath: required field is missing"],
        ),
        ({"url": "http://x/f", "outPath": ""}, ["config.outPath: must not be empty"]),
        (
            {"url": "http://x/f", "outPath": "f", "allowOverwrite": "yes"},
            ["config.allowOverwrite: expected a boolean (true or false), found a string"],
        ),
        (
            {"url": "http://x/f", "outPath": "f", "method": "GET"},
            [
                "config.method: unknown field (known fields: allowOverwrite, headers, insecureSkipTLSVerify, "
                "outPath, queryParams, timeout, url)"
            ],
        ),
        (
            {"url": "http://x/f", "outPath": "f", "queryParams": [{"name": "a", "value": ""}]},
            ["config.queryParams[0].value: must not be empty"],
        ),
    ],
)
def test_config(config: dict[str, Any], problems: list[str]) -> None:
    if not problems:
        assert isinstance(validate_config("http-download", HTTPDownloadConfig, config), HTTPDownloadConfig)
        return
    with pytest.raises(StepConfigError) as caught:
        validate_config("http-download", HTTPDownloadConfig, config)
    assert caught.value.lines() == problems


def _run(work: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    ctx = context(work, env=env)
    return HTTPDownload().run(ctx, validate_config("http-download", HTTPDownloadConfig, config))


@pytest.mark.parametrize(
    ("path", "out_path", "extra"),
    [
        ("/file", "f.bin", {}),
        ("/file", "deep/er/f.bin", {"headers": [{"name": "Accept", "value": "application/octet-stream"}]}),
        ("/redirect/3", "redirected.bin", {"queryParams": [{"name": "v", "value": "1"}]}),
    ],
)
def test_downloads(
    tmp_path: Path, http_server: Server, path: str, out_path: str, extra: dict[str, Any]
) -> None:
    work = tmp_path / "work"
    result = _run(work, {"url": http_server.url + path, "outPath": out_path, **extra})
    assert (work / out_path).read_bytes() == FILE_BYTES
    assert result.outputs == {}
    assert result.message == f"downloaded {len(FILE_BYTES)} bytes to {out_path}"
    assert [p.name for p in (work / out_path).parent.iterdir()] == [Path(out_path).name]  # no .part left


def test_existing_file_needs_allow_overwrite(tmp_path: Path, http_server: Server) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "f.bin").write_text("old")
    config = {"url": http_server.url + "/file", "outPath": "f.bin"}
    with pytest.raises(StepFailed, match="already exists; set allowOverwrite: true"):
        _run(work, config)
    assert (work / "f.bin").read_text() == "old"
    _run(work, {**config, "allowOverwrite": True})
    assert (work / "f.bin").read_bytes() == FILE_BYTES


@pytest.mark.parametrize(
    ("path", "out_path", "env", "error", "message"),
    [
        ("/status/404", "f", {}, StepError, "HTTP request failed with status 404"),
        ("/status/503", "f", {}, StepError, "HTTP request failed with status 503"),
        (
            "/file",
            "f",
            {"KARGO_ACTIONS_HTTP_DOWNLOAD_MAX_BYTES": "4096"},
            TerminalStepError,
            "over the download limit of 4096 bytes",
        ),
        ("/redirect/11", "f", {}, StepError, "more than 10 redirects"),
        ("/file", "../escape", {}, PathEscapeError, "leads outside the work dir"),
    ],
)
def test_failures_leave_nothing_behind(
    tmp_path: Path,
    http_server: Server,
    path: str,
    out_path: str,
    env: dict[str, str],
    error: type[Exception],
    message: str,
) -> None:
    work = tmp_path / "work"
    with pytest.raises(error, match=message):
        _run(work, {"url": http_server.url + path, "outPath": out_path}, env=env)
    assert list(work.iterdir()) == []


def test_timeout(tmp_path: Path, http_server: Server) -> None:
    with pytest.raises(StepError, match=r"no complete answer within the timeout of 0\.2s"):
        _run(tmp_path / "work", {"url": http_server.url + "/slow", "outPath": "f", "timeout": "200ms"})
