"""Conditional requests for the GETs a promotion polls (a pull request, workflow runs, check runs, commit
statuses): the last answer's ETag goes out as If-None-Match, and GitHub's 304 Not Modified, which costs
nothing against the token's rate limit, is answered from the copy kept here.

The copies live under KARGO_ACTIONS_CACHE/github-etags (one JSON file per URL), so a job restored by
actions/cache and a resumed promotion poll cheaply too. An unreadable entry is a miss; a failed write
only costs the next request its 304.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kargo_actions.cache_home import cache_or_scratch_dir
from kargo_actions.struct import struct

LAYOUT = "github-etags/v1"


def default_root(env: Mapping[str, str] | None = None) -> Path:
    """github-etags/v1 under the cache dir, as discovery's caches (without a home directory, one process's)."""
    return cache_or_scratch_dir(LAYOUT, env)


@struct(frozen=False)
class EtagCache:
    """ETag and body of the last 200 answer per (API base, path, query); counts the requests it saved."""

    root: Path
    saved: int = 0  # 304 answers used (requests that cost nothing against the rate limit)

    def _file(self, key: str) -> Path:
        return self.root / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def get(self, key: str) -> tuple[str, Any] | None:
        try:
            entry = json.loads(self._file(key).read_text(encoding="utf-8"))
            return str(entry["etag"]), entry["body"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, etag: str, body: Any) -> None:
        target = self._file(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"key": key, "etag": etag, "body": body}, out)
            os.replace(temporary, target)  # readers never see half an entry
        except OSError:
            return

    def conditional_get(
        self, key: str, send: Callable[[dict[str, str] | None], tuple[Mapping[str, Any], Any]]
    ) -> Any:
        """`send(headers)` with If-None-Match when a copy is kept; its body, or the copy on 304 (no body)."""
        cached = self.get(key)
        headers, data = send({"If-None-Match": cached[0]} if cached else None)
        if data is None and cached is not None:
            self.saved += 1
            return cached[1]
        etag = etag_of(headers)
        if etag:
            self.put(key, etag, data)
        return data


def request_key(base_url: str, url: str, parameters: Mapping[str, Any] | None) -> str:
    given = parameters or {}
    query = "&".join(f"{k}={given[k]}" for k in sorted(given))
    return f"{base_url.rstrip('/')}{url}?{query}"


def etag_of(headers: Mapping[str, Any]) -> str:
    for name, value in headers.items():
        if str(name).lower() == "etag":
            return str(value)
    return ""
