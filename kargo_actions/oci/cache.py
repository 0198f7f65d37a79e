"""On-disk image metadata cache, keyed by content digest, safe for concurrent runs (write temp, rename)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from kargo_actions.cache_home import cache_or_scratch_dir
from kargo_actions.oci.manifests import ConfigInfo, ManifestInfo
from kargo_actions.struct import struct

# Bump when an entry's shape changes: old entries are then simply not found.
LAYOUT = "images/v1"

_DIGEST = re.compile(r"^(?P<alg>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]{32,})$")


@struct
class TagEntry:
    """cacheByTag: a tag's digest, trusted without asking the registry again (Kargo's semantics)."""

    repo_url: str
    tag: str
    digest: str


T = TypeVar("T")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[T]) -> TypeAdapter[T]:
    """One TypeAdapter per entry type: building one costs about a millisecond."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS.setdefault(kind, TypeAdapter(kind))
    return adapter


class MetadataCache:
    """Files under <root>/images/v1: manifests/<alg>/<hex>.json, configs/<alg>/<hex>.json, tags/<sha256>.json."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root / LAYOUT if root is not None else cache_or_scratch_dir(LAYOUT)
        self.hits = 0
        self.misses = 0

    def _digest_path(self, kind: str, digest: str) -> Path | None:
        m = _DIGEST.match(digest)
        if m is None:
            return None  # never turn an odd server answer into a path
        return self.root / kind / m["alg"] / f"{m['hex']}.json"

    @staticmethod
    def tag_key(repo_url: str, tag: str) -> str:
        return hashlib.sha256(f"{repo_url}:{tag}".encode()).hexdigest()

    def _read(self, path: Path | None, kind: type[T]) -> T | None:
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        try:
            value = _adapter(kind).validate_json(data)
        except ValidationError:
            # A truncated or foreign file is a miss; the next write replaces it.
            self.misses += 1
            return None
        self.hits += 1
        return value

    def _write(self, path: Path | None, value: object) -> None:
        if path is None:
            return
        data = _adapter(type(value)).dump_json(value)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the new, never half
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def manifest(self, digest: str) -> ManifestInfo | None:
        return self._read(self._digest_path("manifests", digest), ManifestInfo)

    def put_manifest(self, info: ManifestInfo) -> None:
        self._write(self._digest_path("manifests", info.digest), info)

    def config(self, digest: str) -> ConfigInfo | None:
        return self._read(self._digest_path("configs", digest), ConfigInfo)

    def put_config(self, info: ConfigInfo) -> None:
        self._write(self._digest_path("configs", info.digest), info)

    def tag(self, repo_url: str, tag: str) -> TagEntry | None:
        entry = self._read(self.root / "tags" / f"{self.tag_key(repo_url, tag)}.json", TagEntry)
        return entry if entry is not None and entry.repo_url == repo_url and entry.tag == tag else None

    def put_tag(self, entry: TagEntry) -> None:
        self._write(self.root / "tags" / f"{self.tag_key(entry.repo_url, entry.tag)}.json", entry)

    def _auth_path(self, host: str) -> Path:
        return self.root / "registries" / (re.sub(r"[^A-Za-z0-9._-]", "_", host) + ".json")

    def auth_hint(self, host: str) -> AuthHint | None:
        hint = self._read(self._auth_path(host), AuthHint)
        return hint if hint is not None and hint.host == host else None

    def put_auth_hint(self, hint: AuthHint) -> None:
        self._write(self._auth_path(hint.host), hint)


@struct
class AuthHint:
    """How a registry asked to be authenticated last time, so a rerun skips the 401 round trip."""

    host: str
    scheme: str
    realm: str = ""
    service: str = ""
