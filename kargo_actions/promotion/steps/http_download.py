"""http-download: downloads one file over HTTP(S) into the work dir (size-capped, written atomically)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, BinaryIO, ClassVar

import httpx
from pydantic import Field, StrictBool

from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support.download import download_target
from kargo_actions.promotion.steps.support.httputil import (
    GO_DURATION_PATTERN,
    HTTPHeader,
    HTTPQueryParam,
    client,
    declared_too_big,
    duration_seconds,
    query_params,
    request_headers,
    transport_error,
)

DEFAULT_TIMEOUT = 300.0  # five minutes, as Kargo
MAX_DOWNLOAD_BYTES = 100 * 1024 * 1024  # Kargo's 100 MiB
MAX_DOWNLOAD_ENV = "KARGO_ACTIONS_HTTP_DOWNLOAD_MAX_BYTES"


class HTTPDownloadConfig(StepConfig):
    """Kargo's HTTPDownloadConfig."""

    url: NonEmpty = Field(description="The URL of the file.")
    out_path: NonEmpty = Field(
        description="Where to save the file, relative to the work dir; missing folders are created."
    )
    allow_overwrite: StrictBool = Field(
        default=False, description="Replace a file already at outPath; without it such a file fails the step."
    )
    headers: list[HTTPHeader] = Field(default_factory=list, description="Request headers, in order.")
    query_params: list[HTTPQueryParam] = Field(
        default_factory=list, description="Query parameters added to the URL."
    )
    insecure_skip_tls_verify: StrictBool = Field(
        default=False,
        alias="insecureSkipTLSVerify",
        description="Accept any TLS certificate (not recommended).",
    )
    timeout: Annotated[str, Field(pattern=GO_DURATION_PATTERN)] | None = Field(
        default=None, description="How long the whole download may take (Go duration); default 5m."
    )


class HTTPDownload:
    """GET the URL (following redirects) into a temporary file next to outPath, then move it into place.

    An existing outPath without allowOverwrite fails the step; a non-2xx answer errs (retried per the step's
    retry policy); a body over 100 MiB (KARGO_ACTIONS_HTTP_DOWNLOAD_MAX_BYTES) is refused.
    """

    name: ClassVar[str] = "http-download"
    config_model: ClassVar[type[StepConfig]] = HTTPDownloadConfig
    effects_local: ClassVar[bool] = True  # changes nothing outside the work dir (see Step)
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: HTTPDownloadConfig) -> StepResult:
        target = download_target(ctx, config.out_path, config.allow_overwrite)
        timeout = duration_seconds(config.timeout, DEFAULT_TIMEOUT, "timeout")
        cap = _cap(ctx)
        what = f"GET {config.url}"
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        temp = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as out:
                size = self._fetch(ctx, config, out, timeout, cap, what)
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        return StepResult(message=f"downloaded {size} bytes to {config.out_path}")

    def _fetch(
        self, ctx: StepContext, config: HTTPDownloadConfig, out: BinaryIO, timeout: float, cap: int, what: str
    ) -> int:
        size = 0
        try:
            with (
                client(insecure=config.insecure_skip_tls_verify, timeout=timeout) as http,
                http.stream(
                    "GET",
                    config.url,
                    params=query_params(config.query_params),
                    headers=request_headers(config.headers),
                ) as response,
            ):
                if not 200 <= response.status_code < 300:
                    raise StepError(f"{what}: HTTP request failed with status {response.status_code}")
                if declared_too_big(response, cap):
                    raise TerminalStepError(f"{what}: the file is over the download limit of {cap} bytes")
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise TerminalStepError(f"{what}: the file is over the download limit of {cap} bytes")
                    out.write(chunk)
                    ctx.check_abort()
        except httpx.HTTPError as err:
            raise transport_error(what, err, timeout) from err
        return size


def _cap(ctx: StepContext) -> int:
    raw = ctx.env.get(MAX_DOWNLOAD_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else MAX_DOWNLOAD_BYTES
