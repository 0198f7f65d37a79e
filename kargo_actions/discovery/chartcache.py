"""index.yaml of classic chart repositories, fetched once per run and kept on disk, revalidated with ETag and
Last-Modified; gzip-encoded and oversized indexes handled on the way."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import field
from pathlib import Path
from typing import Any

import httpx

from kargo_actions.cache_home import cache_or_scratch_dir
from kargo_actions.discovery.chartwatch import (
    DEFAULT_MAX_INDEX_BYTES,
    ChartAuthenticationError,
    ChartDiscoveryError,
    ChartIndexTooLargeError,
    ChartRepositoryNotFoundError,
    ChartRepositoryUnreachableError,
    ChartWatch,
)
from kargo_actions.discovery.gitcache import redact
from kargo_actions.freight.identity import normalize_chart_url
from kargo_actions.oci.auth import Credentials
from kargo_actions.struct import struct


def repo_key(repo_url: str) -> str:
    """One repository, however its URL is spelled (case, oci://, a trailing slash)."""
    return normalize_chart_url(repo_url).rstrip("/")


@struct
class _CachedIndex:
    path: Path
    etag: str
    last_modified: str


@struct(frozen=False)
class ChartIndexCache:
    """index.yaml copies under <cache>/charts/<sha256(url)>/, revalidated with ETag / Last-Modified."""

    root: Path = field(default_factory=lambda: cache_or_scratch_dir("charts"))
    max_bytes: int = DEFAULT_MAX_INDEX_BYTES
    fetched: dict[str, Path] = field(default_factory=dict)  # one request per repository per run
    downloads: int = 0
    revalidations: int = 0

    def dir_for(self, repo_url: str) -> Path:
        return self.root / hashlib.sha256(repo_key(repo_url).encode()).hexdigest()

    def _cached(self, repo_url: str) -> _CachedIndex | None:
        directory = self.dir_for(repo_url)
        try:
            meta = json.loads((directory / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        index = directory / "index.yaml"
        if not index.exists():
            return None
        return _CachedIndex(index, str(meta.get("etag", "")), str(meta.get("lastModified", "")))

    def index(self, watch: ChartWatch, client: httpx.Client, credentials: Credentials | None = None) -> Path:
        """A local copy of the repository's index, fetched at most once per run.

        `credentials` go (as Basic auth) to the repository's own host only: httpx drops them on a redirect
        to another host.
        """
        key = repo_key(watch.repo_url)
        if key in self.fetched:
            return self.fetched[key]
        url = watch.repo_url.rstrip("/") + "/index.yaml"
        cached = self._cached(watch.repo_url)
        headers = {"Accept-Encoding": "gzip"}
        if cached and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        if credentials is not None:
            headers["Authorization"] = credentials.basic()
        shown = redact(url)
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and cached is not None:
                    self.revalidations += 1
                    self.fetched[key] = cached.path
                    return cached.path
                _raise_for_status(watch, response, shown)
                path = self._store(watch, response, shown)
        except httpx.TransportError as err:
            raise _transport_error(watch, shown, err) from err
        self.fetched[key] = path
        return path

    def _store(self, watch: ChartWatch, response: httpx.Response, shown: str) -> Path:
        directory = self.dir_for(watch.repo_url)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".index-", dir=directory)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                written = 0
                for chunk in _maybe_gunzip(response.iter_bytes()):
                    written += len(chunk)
                    if written > self.max_bytes:
                        raise ChartIndexTooLargeError(
                            watch.subject,
                            f"{shown} is larger than {self.max_bytes // (1024 * 1024)} MiB",
                            "raise the index size cap if this repository is really that large",
                        )
                    out.write(chunk)
            tmp.replace(directory / "index.yaml")
        finally:
            tmp.unlink(missing_ok=True)
        meta = {
            "url": redact(str(response.url)),
            "etag": response.headers.get("ETag", ""),
            "lastModified": response.headers.get("Last-Modified", ""),
        }
        (directory / "meta.json").write_text(json.dumps(meta))
        self.downloads += 1
        return directory / "index.yaml"


def _maybe_gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Some servers send index.yaml gzipped without saying so; decompress those as they stream."""
    decompressor: Any = None
    for chunk in chunks:
        if decompressor is None:
            if not chunk:
                continue
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS) if chunk[:2] == b"\x1f\x8b" else False
        if decompressor is False:
            yield chunk
        else:
            yield decompressor.decompress(chunk, 1 << 20)
            while decompressor.unconsumed_tail:
                yield decompressor.decompress(decompressor.unconsumed_tail, 1 << 20)
    if decompressor not in (None, False):
        yield decompressor.flush()


def _raise_for_status(watch: ChartWatch, response: httpx.Response, shown: str) -> None:
    status = response.status_code
    if status == 200:
        return
    if status in (401, 403):
        raise ChartAuthenticationError(
            watch.subject,
            f"{shown} answered {status}",
            "give it credentials as for helm: `helm repo add NAME URL --username U --password P` writes "
            "them to helm's repositories.yaml, where discovery reads them",
        )
    if status == 404:
        raise ChartRepositoryNotFoundError(watch.subject, f"{shown} answered 404", "check repoURL")
    if status >= 500 or status == 429:
        raise ChartRepositoryUnreachableError(watch.subject, f"{shown} answered {status}", "retry later")
    raise ChartDiscoveryError(watch.subject, f"{shown} answered {status}")


def _transport_error(watch: ChartWatch, shown: str, err: httpx.TransportError) -> ChartDiscoveryError:
    text = str(err) or type(err).__name__
    hint = "check the URL and the network"
    if "certificate" in text.lower() or "ssl" in text.lower():
        hint = "the TLS certificate was refused; insecureSkipTLSVerify skips the check (with care)"
    return ChartRepositoryUnreachableError(watch.subject, f"cannot reach {shown}: {redact(text)}", hint)
